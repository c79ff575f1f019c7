"""Where a replica's memory goes: resident memory after each heavy import, after the app's
preload (its modules, the default model, test set and codes), after a warm-up, and per open
session.

Steps 1-2 run in a fresh interpreter (`--python`, this one by default: another venv, e.g. one
with the CPU-only torch wheel, shows what that build saves). Step 3 starts `streamlit run
app.py` with that interpreter, warms it up with one protocol session (bench/loadtest_ws.py's
mix) and reads its RSS; then opens `--sessions` sessions on Latent sliders, each having
released a z (so each holds its state), and reads the RSS again: the difference over the
sessions is the memory of one open session. Step 4 starts `python -m deploy --replicas 2
--proxy` twice, with the replicas forked from the preloaded launcher and as separate processes
($VAE_DEPLOY_FORK=0), warms each replica up with one protocol session and reads RSS, PSS and
USS (private pages) of the launcher, the replicas and HAProxy from /proc/PID/smaps_rollup; the
machine's total is the sum of PSS (shared pages split among the processes that map them);
then the same after `--load` sessions acting back to back through the proxy.
Writes bench/results/loadtest_memory.json (`--parts` runs some steps and keeps the others'
results in that file).

    python -m bench.loadtest_memory
    python -m bench.loadtest_memory --parts deploy
    python -m bench.loadtest_memory --python /tmp/cpuvenv/bin/python --out /tmp/cpu.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.loadtest import REPO_ROOT, Server, Stats, digit_pngs, run_async
from bench.loadtest_proxy import _rss_mb
from bench.loadtest_ws import _open, run_phase, slider_action
from deploy import launched
from deploy.forked import ENV_FORK

RESULTS = REPO_ROOT / "bench" / "results" / "loadtest_memory.json"
PARTS = ("imports", "replica", "deploy")

# Run by the interpreter under test: RSS (and its anonymous part) after each step, in MB.
STEPS = r"""
import json, os, sys
def mem():
    f = {l.split(':')[0]: int(l.split()[1]) // 1024 for l in open('/proc/self/status')
         if l.startswith(('VmRSS', 'RssAnon'))}
    return [f['VmRSS'], f['RssAnon']]
out = [['python', mem()]]
import numpy; out.append(['numpy', mem()])
import torch; out.append([f'torch {torch.__version__}', mem()])
import streamlit; out.append(['streamlit', mem()])
import pandas, plotly.graph_objects; out.append(['pandas, plotly', mem()])
import scipy.ndimage, onnxruntime; out.append(['scipy.ndimage, onnxruntime', mem()])
sys.path.insert(0, os.getcwd())
from ui.preload import preload
preload(); out.append(['ui.preload: page modules, default model, test set, codes', mem()])
print(json.dumps(out))
"""


def import_steps(python: str) -> list[dict[str, Any]]:
    """RSS after each import in a fresh `python` (cwd: the repository)."""
    res = subprocess.run([python, "-c", STEPS], cwd=REPO_ROOT, capture_output=True, text=True,
                         timeout=300, env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"})
    if res.returncode:
        raise RuntimeError(res.stderr[-2000:])
    rows = json.loads(res.stdout.strip().splitlines()[-1])
    return [{"step": s, "rss_mb": m[0], "anon_mb": m[1]} for s, m in rows]


async def _hold(url: str, n: int, timeout: float) -> list[Any]:
    """n sessions on Latent sliders, each after one release; left open."""
    clients = []
    for _ in range(n):
        c = await _open(url, "sliders", timeout)
        await slider_action(c, 1, Stats())
        clients.append(c)
    return clients


def replica(python: str, sessions: int, warmup: float = 10.0,
            timeout: float = 60.0) -> dict[str, Any]:
    """RSS of a served app after its warm-up, and with `sessions` sessions open."""
    server = Server(python=python)
    server.start()
    try:
        assert server.proc is not None
        pid = server.proc.pid
        started = _rss_mb(pid)
        run_async(run_phase(server.url, 1, warmup, timeout * 3, digit_pngs(20)))
        warm = _rss_mb(pid)

        async def held() -> int:
            clients = await _hold(server.url, sessions, timeout)
            rss = _rss_mb(pid)
            await asyncio.gather(*(c.close() for c in clients))
            return rss

        with_sessions = run_async(held())
    finally:
        server.stop()
    return {"started_mb": started, "after_warm_up_mb": warm,
            f"with_{sessions}_sessions_mb": with_sessions,
            "per_session_mb": round((with_sessions - warm) / max(1, sessions), 2)}


def smaps_mb(pid: int) -> dict[str, int]:
    """RSS, PSS and USS (Private_Clean + Private_Dirty) of process `pid`, in MB."""
    kb = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        key, value = line.split(":", 1)
        kb[key] = int(value.split()[0])
    return {"rss_mb": kb["Rss"] // 1024, "pss_mb": kb["Pss"] // 1024,
            "uss_mb": (kb["Private_Clean"] + kb["Private_Dirty"]) // 1024}


def _warm(port: int, warmup: float, timeout: float) -> None:
    """One protocol session on replica `port` (bench.loadtest_ws's mix), as replica() does."""
    run_async(run_phase(f"http://127.0.0.1:{port}", 1, warmup, timeout * 3, digit_pngs(20)))


def _snapshot(state: dict[str, Any]) -> dict[str, Any]:
    """RSS, PSS and USS of the launcher, the replicas and HAProxy (replicas.json's pids), and
    the machine's total: PSS summed over the launcher and the replicas."""
    replicas = [{"name": r["name"], **smaps_mb(r["pid"])} for r in state["replicas"]]
    launcher = smaps_mb(state["launcher_pid"])
    return {"launcher": launcher, "replicas": replicas, "haproxy": smaps_mb(state["proxy_pid"]),
            "total_pss_mb": launcher["pss_mb"] + sum(r["pss_mb"] for r in replicas)}


def deployment(fork: bool, load: tuple[int, float], warmup: float = 10.0,
               timeout: float = 60.0) -> dict[str, Any]:
    """`python -m deploy --replicas 2 --proxy` (forked or separate replicas): memory after one
    warm-up session per replica (top-level keys), then after `load` (sessions, seconds) of
    sessions acting back to back through the proxy ("after_load")."""
    with tempfile.TemporaryDirectory(prefix="loadtest-memory-") as tmp:
        env = {ENV_FORK: "1" if fork else "0", "VAE_USER_MODELS_DIR": f"{tmp}/models"}
        with launched(2, Path(tmp) / "run", env=env) as run:
            state = run.state()
            for r in state["replicas"]:
                _warm(r["port"], warmup, timeout)
            time.sleep(2.0)  # let the last script runs end
            warm = _snapshot(state)
            phase = run_async(run_phase(run.url, load[0], load[1], timeout * 3,
                                        digit_pngs(20)))
            time.sleep(2.0)
            loaded = {**_snapshot(state), "sessions": load[0], "duration_s": load[1],
                      "actions": phase["actions"], "errors": phase["errors"]}
    return {**warm, "after_load": loaded}


def deploy_step(load: tuple[int, float]) -> dict[str, Any]:
    """Forked and separate replicas, one deployment after the other."""
    return {"command": "python -m deploy --replicas 2 --proxy",
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "total": "sum of PSS over the launcher and the replicas (HAProxy apart)",
            "forked": deployment(True, load), "separate": deployment(False, load)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--python", default=sys.executable, help="the interpreter to measure")
    ap.add_argument("--sessions", type=int, default=20, help="sessions held open")
    ap.add_argument("--out", type=Path, default=RESULTS, help="where to write the JSON")
    ap.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS),
                    help="steps to run; the others' results are kept from --out")
    ap.add_argument("--load", type=float, nargs=2, default=[10, 30],
                    metavar=("SESSIONS", "SECONDS"),
                    help="deploy: sessions acting back to back through the proxy, and for how "
                         "long, after the warm-up")
    args = ap.parse_args(argv)
    keep = set(args.parts) != set(PARTS) and args.out.exists()
    res = json.loads(args.out.read_text()) if keep else {}
    res.update({"benchmark": "loadtest_memory", "python": args.python})
    if "imports" in args.parts:
        res["imports"] = import_steps(args.python)
    if "replica" in args.parts:
        res["replica"] = replica(args.python, args.sessions)
    if "deploy" in args.parts:  # the deployment runs this interpreter's `python -m deploy`
        res["deploy"] = deploy_step((int(args.load[0]), args.load[1]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=2) + "\n")
    print(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
