"""Serving a class (`python -m deploy`): the machine-wide training limit, the HAProxy config,
the launcher's one-line errors, and (slow) a replica SIGKILLed under protocol sessions."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from bench.loadtest import run_async
from deploy import (
    Launcher,
    alive,
    free_port_block,
    healthy,
    launched,
    proxy_sees_up,
    render_config,
)
from deploy.launcher import ENV_PIN, pinned_cpus
from vae_core import (
    ENV_TRAINING_CPUS,
    ConfigError,
    ModelConfig,
    TrainConfig,
    TrainingBusy,
    acquire_training_slot,
    load_checkpoint,
    max_training_runs,
    slot_holders,
    widen_to_training_cpus,
)

REPO = Path(__file__).resolve().parents[2]

HOLD = """
import sys, time
from vae_core import acquire_training_slot
slot = acquire_training_slot(sys.argv[1], "other-run", server="replica r9")
print("held", flush=True)
time.sleep(600)
"""


def hold_in_subprocess(folder: Path) -> subprocess.Popen:
    """Another process (another replica) holding a training slot in `folder`."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(folder)], cwd=REPO,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_slot_limit_is_per_folder_and_names_the_holder(tmp_path: Path) -> None:
    first = acquire_training_slot(tmp_path, "run-a", server="replica r1", limit=1)
    with pytest.raises(TrainingBusy) as e:
        acquire_training_slot(tmp_path, "run-b", limit=1)
    msg = str(e.value)
    assert "run run-a on replica r1" in msg and f"pid {os.getpid()}" in msg
    assert "started 20" in msg and "UTC" in msg and "limit of 1 concurrent training run" in msg
    assert [h.job for h in slot_holders(tmp_path, 1)] == ["run-a"]
    first.release()
    first.release()  # twice is harmless
    assert slot_holders(tmp_path, 1) == []
    again = acquire_training_slot(tmp_path, "run-c", limit=1)
    again.release()


def test_limit_two_allows_two_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAE_MAX_TRAINING", "2")
    assert max_training_runs() == 2
    a, b = acquire_training_slot(tmp_path, "a"), acquire_training_slot(tmp_path, "b")
    with pytest.raises(TrainingBusy, match="limit of 2 concurrent training runs"):
        acquire_training_slot(tmp_path, "c")
    a.release()
    acquire_training_slot(tmp_path, "c").release()
    b.release()


@pytest.mark.parametrize("raw", ["0", "-1", "two"])
def test_bad_limit_is_a_config_error(raw: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAE_MAX_TRAINING", raw)
    with pytest.raises(ConfigError, match="VAE_MAX_TRAINING must be a whole number"):
        max_training_runs()


def test_other_process_holds_then_dies_and_frees_the_slot(tmp_path: Path) -> None:
    proc = hold_in_subprocess(tmp_path)
    try:
        with pytest.raises(TrainingBusy, match=f"other-run on replica r9 \\(pid {proc.pid}\\)"):
            acquire_training_slot(tmp_path, "mine", limit=1)
    finally:
        proc.kill()  # SIGKILL: no clean-up ran, its sidecar file is left behind
        proc.wait()
    assert (tmp_path / ".locks" / "train-0.json").exists()
    assert slot_holders(tmp_path, 1) == []  # the stale sidecar is not believed
    acquire_training_slot(tmp_path, "mine", limit=1).release()


def test_training_manager_refuses_while_another_replica_trains(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mnist_train, mnist_test) -> None:
    from ui.training import TrainingManager

    monkeypatch.setenv("VAE_USER_MODELS_DIR", str(tmp_path))
    proc = hold_in_subprocess(tmp_path)
    mcfg, tcfg = ModelConfig(hidden=[16], latent_dim=2), TrainConfig(epochs=1, batch_size=50,
                                                                        device="cpu", limit=100)
    try:
        mgr = TrainingManager()
        with pytest.raises(TrainingBusy, match="held by run other-run on replica r9"):
            mgr.start(mcfg, tcfg, mnist_train, mnist_test, owner="s1")
        assert not mgr.busy and not mgr.jobs  # nothing half-started, this server's lock freed
    finally:
        proc.kill()
        proc.wait()
    job = TrainingManager().start(mcfg, tcfg, mnist_train, mnist_test, owner="s1")
    assert [h.job for h in slot_holders(tmp_path)] == [job.id]
    job.thread.join(120)
    assert job.progress.snapshot()["status"] == "finished"
    assert slot_holders(tmp_path) == []  # released when the run ended


def test_haproxy_config_is_valid_and_sticky(tmp_path: Path) -> None:
    cfg = render_config(8501, "0.0.0.0", [("r1", 8502), ("r2", 8503)])
    assert "cookie LXREPLICA insert" in cfg and "balance source" not in cfg
    assert "server r2 127.0.0.1:8503 cookie r2" in cfg
    assert "httpchk GET /_stcore/health" in cfg and "timeout tunnel" in cfg
    (tmp_path / "h.cfg").write_text(cfg)
    check = subprocess.run(["haproxy", "-c", "-f", str(tmp_path / "h.cfg")],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stderr


def test_cookie_secret_is_shared_and_can_be_set(monkeypatch: pytest.MonkeyPatch) -> None:
    """Replicas share one secret; machines behind one proxy share the operator's."""
    key = "STREAMLIT_SERVER_COOKIE_SECRET"
    monkeypatch.delenv(key, raising=False)
    a, b = Launcher(2, 8501), Launcher(2, 8501)
    assert len({r.env[key] for r in a.replicas}) == 1
    assert a.replicas[0].env[key] != b.replicas[0].env[key]
    monkeypatch.setenv(key, "the-class-secret")
    assert {r.env[key] for r in Launcher(3, 8501).replicas} == {"the-class-secret"}


def deploy(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "deploy", *args], cwd=REPO, text=True,
                          capture_output=True, timeout=60, env={**os.environ, **(env or {})})


def test_port_taken_is_one_line() -> None:
    with socket.socket() as s:
        s.bind(("0.0.0.0", 0))
        s.listen()
        port = s.getsockname()[1]
        res = deploy("--replicas", "2", "--port", str(port))
    assert res.returncode == 2
    assert res.stderr.strip().count("\n") == 0 and f"port {port}" in res.stderr
    assert "Traceback" not in res.stderr


def test_haproxy_missing_is_one_line(tmp_path: Path) -> None:
    res = deploy("--replicas", "2", "--port", "8791", env={"PATH": str(tmp_path)})
    assert res.returncode == 2
    assert res.stderr.strip() == ("deploy: haproxy is not installed (Debian: apt-get install "
                                  "haproxy); or serve one process with --replicas 1")


# --- slow: a replica SIGKILLed under protocol sessions --------------------------------------
def _wait(cond, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def picker(c) -> list[str]:
    """The sidebar model picker's options as a protocol client (bench.st_client) sees them."""
    return [o for n in c.find("selectbox", "Active model", area=1) for o in n.body.options]


async def _drive(url: str, run_dir: Path, models: Path) -> None:
    from bench.loadtest import Stats
    from bench.loadtest_ws import slider_action
    from bench.st_client import SessionLost, StClient

    async def session(cookies: dict | None = None) -> StClient:
        c = StClient(url, 60)
        c.cookies.update(cookies or {})  # a reload keeps the browser's cookies
        await c.connect("sliders")
        assert not c.take_errors() and not c.problems()
        return c

    clients = [await session() for _ in range(6)]
    on = {name: [c for c in clients if c.cookies.get("LXREPLICA") == name] for name in
          ("r1", "r2")}
    assert on["r1"] and on["r2"], {c.cookies.get("LXREPLICA") for c in clients}
    for c in clients:  # everyone works and sees the model saved before the launch
        await slider_action(c, 1, Stats())
        assert "saved-before (yours)" in picker(c)
    state = json.loads((run_dir / "replicas.json").read_text())
    r1 = next(r for r in state["replicas"] if r["name"] == "r1")
    os.kill(r1["pid"], signal.SIGKILL)
    # A reload through the proxy right away (cookie still r1, r1 not restarted yet: that
    # takes the launcher >= 0.5 s and Streamlit seconds) is sent to the live replica.
    first = await session(on["r1"][0].cookies)
    assert first.cookies["LXREPLICA"] == "r2"
    for c in on["r2"]:  # sessions on the other replica see no error
        stats = Stats()
        await slider_action(c, -1, stats)
        assert not c.take_errors() and not c.problems() and stats.latencies["slider"]
    reloaded = [first]
    for c in on["r1"]:  # the killed replica's sessions are gone, and reload
        with pytest.raises((SessionLost, TimeoutError)):
            await slider_action(c, -1, Stats())
        if c is not on["r1"][0]:
            reloaded.append(await session(c.cookies))
    for c in reloaded:  # ... and go on
        await slider_action(c, 1, Stats())
        assert not c.take_errors() and not c.problems()
        assert "saved-before (yours)" in picker(c)
        await c.close()
    for c in on["r2"]:
        await c.close()
    # the launcher restarts r1, and the proxy sends new sessions to it again
    _wait(lambda: json.loads((run_dir / "replicas.json").read_text())["replicas"][0]["restarts"]
          == 1 and healthy(r1["port"]), 120, "the restart of r1")
    _wait(lambda: proxy_sees_up(run_dir / "haproxy.log", "r1"), 30, "HAProxy to see r1 up again")
    back = [await session() for _ in range(4)]
    assert "r1" in {c.cookies["LXREPLICA"] for c in back}
    for c in back:
        await slider_action(c, 1, Stats())
        assert "saved-before (yours)" in picker(c)
        await c.close()


@pytest.mark.slow
def test_sigkill_one_replica_under_sessions(tmp_path: Path) -> None:
    models = tmp_path / "user"
    saved = shutil.copytree(REPO / "checkpoints" / "mnist-mlp-2d", models / "saved-before")
    before = _digest(saved)
    run_dir = tmp_path / "run"
    with launched(2, run_dir, env={"VAE_USER_MODELS_DIR": str(models)}) as run:
        pids = run.pids()
        # run_async: the e2e tests' Playwright session keeps an event loop in this thread.
        run_async(_drive(run.url, run_dir, models))
        pids += run.pids()  # the restarted r1 too
    out = run.output()  # launched() stopped it with SIGTERM, as systemd or Ctrl-C would
    assert run.proc.returncode == 0, out
    assert "replica r1" in out and "restarting" in out
    assert not [p for p in pids if alive(p)], "orphans left after SIGTERM"
    assert _digest(saved) == before and load_checkpoint(saved).model_config.latent_dim == 2


def test_one_replica_behind_the_proxy_with_proxy_flag(tmp_path: Path) -> None:
    """--replicas 1 --proxy: the load test's 1-replica case goes through HAProxy as well."""
    with launched(1, tmp_path / "run", env={"VAE_USER_MODELS_DIR": str(tmp_path)}) as run:
        with urllib.request.urlopen(f"{run.url}/_stcore/health", timeout=10) as r:
            cookies = r.headers.get_all("Set-Cookie")
            assert r.read().strip() == b"ok" and any("LXREPLICA=r1" in c for c in cookies)
        assert [r["name"] for r in run.state()["replicas"]] == ["r1"]
        pids = run.pids()
    assert run.proc.returncode == 0 and "1 replicas behind HAProxy" in run.output()
    assert len(pids) == 2 and not [p for p in pids if alive(p)]


async def _through_front(url: str, png: bytes) -> None:
    from bench.loadtest import Stats
    from bench.loadtest_ws import slider_action, upload_action
    from bench.st_client import StClient

    clients = []
    for _ in range(4):  # one after the other: leastconn alternates machines, then replicas
        clients.append(StClient(url, 120))
        await clients[-1].connect("sliders")
    where = {(c.cookies.get("LXMACHINE"), c.cookies.get("LXREPLICA")) for c in clients}
    assert {m for m, _ in where} == {"m1", "m2"} and len(where) == 4, where
    for i, c in enumerate(clients):
        await slider_action(c, 1, Stats())
        assert "saved-before (yours)" in picker(c)  # the shared user-models folder
        await c.goto("reconstruct")
        await upload_action(c, png, f"digit-{i}.png", Stats())
        assert not c.take_errors() and not c.problems()
        assert (c.cookies["LXMACHINE"], c.cookies["LXREPLICA"]) in where  # stayed put
        await c.close()


@pytest.mark.slow
def test_two_machines_behind_a_front_proxy(tmp_path: Path) -> None:
    """docs/serving.md's recipe for several machines, played on one: two launchers of 2 replicas
    sharing the user-models folder and the cookie secret, behind a front HAProxy rendered from
    the same template with a cookie of its own (LXMACHINE)."""
    from bench.loadtest import digit_pngs

    models = tmp_path / "user"
    shutil.copytree(REPO / "checkpoints" / "mnist-mlp-2d", models / "saved-before")
    env = {"VAE_USER_MODELS_DIR": str(models), "STREAMLIT_SERVER_COOKIE_SECRET": "a-class"}
    with launched(2, tmp_path / "m1", env=env) as m1, launched(2, tmp_path / "m2", env=env) as m2:
        port = free_port_block(1)
        cfg = tmp_path / "front.cfg"
        cfg.write_text(render_config(port, "127.0.0.1", [("m1", f"127.0.0.1:{m1.port}"),
                                                         ("m2", f"127.0.0.1:{m2.port}")],
                                     cookie="LXMACHINE"))
        front = subprocess.Popen(["haproxy", "-db", "-f", str(cfg)], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.STDOUT)
        try:
            _wait(lambda: healthy(port), 30, "the front proxy")
            run_async(_through_front(f"http://127.0.0.1:{port}", digit_pngs(1)[0]))
        finally:
            front.terminate()
            front.wait(10)


# --- replicas forked from the preloaded launcher (deploy.forked) ----------------------------
FORKED = """
import subprocess, sys, time
from pathlib import Path
from deploy.forked import fork_module
tmp = Path(sys.argv[1])
exits = fork_module([sys.executable, "-m", "exits"], tmp, {"VAE_PROBE": "from-env"},
                    tmp / "exits.log")
print("code", exits.wait(30), exits.poll(), flush=True)
sleeps = fork_module([sys.executable, "-m", "sleeps"], tmp, {}, tmp / "sleeps.log")
try:
    sleeps.wait(0.3)
except subprocess.TimeoutExpired:
    print("timeout", sleeps.poll(), flush=True)
sleeps.wait(30)
print("slept", sleeps.returncode, flush=True)
"""


def test_fork_module_runs_a_module_as_python_m_would(tmp_path: Path) -> None:
    """The child: cwd first on sys.path, its env, argv, output to its log, stdin /dev/null,
    the module's exit code; the handle polls, waits and times out as Popen does."""
    (tmp_path / "exits.py").write_text(
        "import os, sys\n"
        "print('argv', sys.argv, 'cwd', os.getcwd(), 'env', os.environ['VAE_PROBE'])\n"
        "print('stdin', repr(sys.stdin.read()), file=sys.stderr)\n"
        "sys.exit(3)\n")
    (tmp_path / "sleeps.py").write_text("import time\ntime.sleep(1)\n")
    res = subprocess.run([sys.executable, "-c", FORKED, str(tmp_path)], cwd=REPO, text=True,
                         input="the launcher's stdin\n", capture_output=True, timeout=60)
    assert res.stdout.split("\n")[:3] == ["code 3 3", "timeout None", "slept 0"], res.stderr
    log = (tmp_path / "exits.log").read_text()
    assert f"argv ['{tmp_path / 'exits.py'}'] cwd {tmp_path} env from-env" in log
    assert "stdin ''" in log


def test_fork_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    from deploy.forked import ENV_FORK, fork_wanted

    monkeypatch.delenv(ENV_FORK, raising=False)
    assert fork_wanted() and Launcher(2, 8501).fork
    monkeypatch.setenv(ENV_FORK, "0")
    assert not fork_wanted() and not Launcher(2, 8501).fork


def _pinned(pid: int) -> str:
    """The cores process `pid` may run on, as /proc says: '0', or '0-1'."""
    status = dict(line.split(":\t", 1) for line in
                  Path(f"/proc/{pid}/status").read_text().splitlines() if ":\t" in line)
    return status["Cpus_allowed_list"].strip()


def test_replicas_take_the_cores_in_turn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                        ) -> None:
    """One core each, in turn; their training runs may use every core of the launcher."""
    cpus = sorted(os.sched_getaffinity(0))
    assert pinned_cpus(len(cpus) + 1) == [*cpus, cpus[0]]
    replicas = Launcher(len(cpus) + 1, 18501, run_dir=tmp_path).replicas
    assert [r.cpu for r in replicas] == [*cpus, cpus[0]]
    assert {r.env[ENV_TRAINING_CPUS] for r in replicas} == {",".join(map(str, cpus))}
    monkeypatch.setenv(ENV_PIN, "0")
    assert pinned_cpus(2) == [None, None]
    monkeypatch.delenv(ENV_PIN)
    monkeypatch.delattr(os, "sched_getaffinity")  # a system without CPU affinity: unpinned
    assert pinned_cpus(2) == [None, None]
    assert [ENV_TRAINING_CPUS in r.env for r in Launcher(2, 18501, run_dir=tmp_path).replicas
            ] == [False, False]


def test_a_core_that_went_away_leaves_the_replica_unpinned() -> None:
    """Pinning is best effort: a core the child may not use does not stop it starting."""
    code = subprocess.run([sys.executable, "-c", "import os, sys; from deploy.launcher import "
                           "_die_with_parent; _die_with_parent(4096); "
                           "sys.exit(len(os.sched_getaffinity(0)) == 0)"],
                          cwd=REPO, capture_output=True, text=True)
    assert code.returncode == 0, code.stderr


def test_a_training_thread_widens_to_the_launchers_cores(monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    """A replica is pinned to one core; its training thread (and the threads that thread
    starts) get every core the launcher had back."""
    cpus = os.sched_getaffinity(0)
    monkeypatch.setenv(ENV_TRAINING_CPUS, ",".join(str(c) for c in sorted(cpus)))
    seen: list[set[int]] = []

    def replica_thread() -> None:  # pinned, as every thread of a pinned replica is
        os.sched_setaffinity(0, {min(cpus)})

        def training() -> None:
            widen_to_training_cpus()
            seen.append(os.sched_getaffinity(0))

        t = threading.Thread(target=training)
        t.start()
        t.join()
        seen.append(os.sched_getaffinity(0))  # only the training thread widened

    t = threading.Thread(target=replica_thread)
    t.start()
    t.join()
    assert seen == [cpus, {min(cpus)}]
    monkeypatch.setenv(ENV_TRAINING_CPUS, "9999")  # a core this machine lacks: no change
    widen_to_training_cpus()
    assert os.sched_getaffinity(0) == cpus


def _proc(pid: int) -> tuple[int, str, int]:
    """(parent pid, command line, shared dirty kB) of process `pid`."""
    ppid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    cmdline = Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ").strip()
    rollup = dict(line.split(":", 1) for line in
                  Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:])
    return ppid, cmdline, int(rollup["Shared_Dirty"].split()[0])


async def _one_session(url: str) -> None:
    from bench.loadtest import Stats
    from bench.loadtest_ws import slider_action
    from bench.st_client import StClient

    c = StClient(url, 60)
    await c.connect("sliders")
    stats = Stats()
    await slider_action(c, 1, stats)
    assert not c.take_errors() and not c.problems() and stats.latencies["slider"]
    await c.close()


def test_replicas_are_forked_from_the_launcher_and_restarted(tmp_path: Path) -> None:
    """Each replica is a fork of the launcher (its parent, same command line), shares the
    preloaded pages with it, serves a session, is forked again after a SIGKILL, and dies with
    the launcher when that is SIGKILLed (SIGTERM: the tests above, forked by default)."""
    run_dir = tmp_path / "run"
    with launched(1, run_dir, env={"VAE_USER_MODELS_DIR": str(tmp_path / "models")}) as run:
        launcher = run.state()["launcher_pid"]
        assert launcher == run.proc.pid and "replicas forked from this launcher" in run.output()
        first = run.state()["replicas"][0]
        me = _proc(launcher)
        ppid, cmdline, shared_kb = _proc(first["pid"])
        assert (ppid, cmdline) == (launcher, me[1]) and "-m deploy" in cmdline
        assert shared_kb > 150 * 1024, "the preloaded modules' heap is not shared"
        assert _pinned(first["pid"]) == str(min(os.sched_getaffinity(0)))  # one core
        run_async(_one_session(run.url))
        os.kill(first["pid"], signal.SIGKILL)
        _wait(lambda: run.state()["replicas"][0]["restarts"] == 1 and healthy(first["port"]),
              90, "the restart of r1")
        again = run.state()["replicas"][0]["pid"]
        assert again != first["pid"] and _proc(again)[:2] == (launcher, me[1])
        _wait(lambda: proxy_sees_up(run_dir / "haproxy.log", "r1"), 30, "HAProxy to see r1")
        run_async(_one_session(run.url))
        assert "replica r1 (port" in run.output() and "restarting" in run.output()
        pids = run.pids()
        run.proc.kill()
        run.proc.wait()
        _wait(lambda: not [p for p in pids if alive(p)], 30,
              f"the replica and HAProxy to die with the launcher: {pids}")


def test_replicas_are_separate_processes_when_the_preload_fails(tmp_path: Path) -> None:
    """A module the launcher preloads is broken (scipy, which a replica imports only for an
    upload): one line says so, and the replicas are `python -m streamlit` processes."""
    (tmp_path / "shadow" / "scipy").mkdir(parents=True)
    (tmp_path / "shadow" / "scipy" / "__init__.py").write_text(
        "raise ImportError('scipy broken for this test')\n")
    env = {"VAE_USER_MODELS_DIR": str(tmp_path / "models"),
           "PYTHONPATH": str(tmp_path / "shadow")}
    with launched(1, tmp_path / "run", env=env) as run:
        out = run.output()
        assert ("preload failed (ImportError: scipy broken for this test); replicas start as "
                "separate processes") in out and "forked" not in out
        replica = run.state()["replicas"][0]["pid"]
        ppid, cmdline, _ = _proc(replica)
        assert ppid == run.proc.pid and "-m streamlit run app.py" in cmdline
        assert _pinned(replica) == str(min(os.sched_getaffinity(0)))  # pinned there too
        run_async(_one_session(run.url))
        pids = run.pids()
    assert run.proc.returncode == 0 and not [p for p in pids if alive(p)]
