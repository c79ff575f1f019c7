"""N Streamlit replicas of the app behind HAProxy, supervised: restarted when they die, all
stopped together on Ctrl-C or SIGTERM.

Each replica is `streamlit run app.py` on 127.0.0.1:<port+i>, in its own process group, with a
parent-death signal so that not even a SIGKILL of the launcher leaves it running. Replicas are
forked from the launcher after it has imported torch, Streamlit and the pages' modules once
(`deploy.forked`: their pages are shared), or started as separate processes with
$VAE_DEPLOY_FORK=0 or when that preload fails. They share one cookie secret (a session's XSRF
cookie stays valid on the replica it fails over to) and the user-models folder (models and the
training lock, see `vae_core.training_slots`).
HAProxy's config is rendered from `haproxy.cfg.template` next to this file.
"""

from __future__ import annotations

import ctypes
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from string import Template

from vae_core import ENV_TRAINING_CPUS, app_root

from .forked import ForkedProcess, fork_module, fork_wanted, preload_for_fork

REPO_ROOT = app_root()  # where app.py is (vae_core.resources)
TEMPLATE = Path(__file__).with_name("haproxy.cfg.template")
RESTART_BACKOFF = (1.0, 2.0, 5.0, 10.0, 30.0)  # seconds before restart n of a crashing replica
STABLE_S = 60.0  # a replica up this long has its restart count reset


class DeployError(RuntimeError):
    """A one-line reason the launcher cannot start (exit code 2)."""


ENV_STREAMLIT_MODULE = "VAE_STREAMLIT_MODULE"  # benchmarks: bench.loadtest_profile
ENV_PIN = "VAE_DEPLOY_PIN"  # "0": replicas free to run on any core (pinned_cpus)


def streamlit_cmd(port: int, address: str) -> list[str]:
    """A replica's command: `python -m streamlit run app.py ...` (or the module named by
    $VAE_STREAMLIT_MODULE, which the soak test uses to read each replica's caches)."""
    module = os.environ.get(ENV_STREAMLIT_MODULE) or "streamlit"
    return [sys.executable, "-m", module, "run", "app.py", "--server.headless", "true",
            "--server.port", str(port), "--server.address", address,
            "--browser.gatherUsageStats", "false"]


def check_port_free(port: int, address: str = "0.0.0.0") -> None:
    """DeployError if `port` cannot be bound (another server holds it)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((address, port))
        except OSError as e:
            raise DeployError(f"port {port} on {address} is taken ({e.strerror}); stop what "
                              "uses it or choose other ports with --port") from None


def render_config(port: int, bind: str, replicas: list[tuple[str, int | str]],
                  maxconn: int = 2000, cookie: str = "LXREPLICA") -> str:
    """HAProxy's config for `replicas` ((name, local port or "host:port"), ...) behind
    bind:port, sticky by the cookie `cookie`."""
    servers = "\n".join(f"    server {n} {f'127.0.0.1:{a}' if isinstance(a, int) else a} "
                         f"cookie {n}" for n, a in replicas)
    return Template(TEMPLATE.read_text()).substitute(port=port, bind=bind, servers=servers,
                                                     maxconn=maxconn, cookie=cookie)


def _die_with_parent(cpu: int | None = None) -> None:  # in the child, after the fork (and
    os.setsid()  # before exec)
    try:  # PR_SET_PDEATHSIG = 1: the kernel sends SIGTERM when the launcher dies
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)
    except (OSError, AttributeError):
        pass
    if cpu is not None:  # every thread the replica starts inherits it (see pinned_cpus)
        try:
            os.sched_setaffinity(0, {cpu})
        except OSError:  # the core went away (a container's CPU set changed): run unpinned
            pass


def launcher_cpus() -> list[int]:
    """The cores this process may run on ([] where the system has no CPU affinity)."""
    return sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []


def pinned_cpus(replicas: int) -> list[int | None]:
    """The core each replica is pinned to: the launcher's cores in turn, or None for every
    replica with $VAE_DEPLOY_PIN=0. A replica is one Python process whose script runs (one
    thread per rerun) and event loop take turns on its interpreter lock: left free to move
    between cores, those threads hand the lock across cores, and 20 sessions acting back to
    back on 2 cores cost about 30 ms of CPU per action instead of 21 (docs/serving.md). Its
    training runs widen their thread to the launcher's cores again ($VAE_TRAINING_CPUS)."""
    cpus = launcher_cpus()
    if not cpus or os.environ.get(ENV_PIN, "1").strip() == "0":
        return [None] * replicas
    return [cpus[i % len(cpus)] for i in range(replicas)]


def healthy(port: int, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health",
                                    timeout=timeout) as r:
            return r.read().strip() == b"ok"
    except OSError:
        return False


def proxy_sees_up(log: Path, name: str) -> bool:
    """Whether HAProxy's log (`log`) says server `name` is up: it starts every server as up
    and logs "is DOWN" until the first passing health check, then "is UP"."""
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return False
    return f"/{name} is UP" in text.rsplit(f"/{name} is DOWN", 1)[-1] if (
        f"/{name} is DOWN" in text) else True


def alive(pid: int) -> bool:
    """Whether process `pid` still runs (a zombie, dead but not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] == "Z")


@dataclass
class Child:
    """One supervised process: a replica or HAProxy."""

    name: str
    cmd: list[str]
    log: Path
    env: dict[str, str] = field(default_factory=dict)
    port: int = 0
    proc: subprocess.Popen | ForkedProcess | None = None
    started: float = 0.0
    restarts: int = 0
    forked: bool = False  # forked from the launcher (a replica after the preload)
    cpu: int | None = None  # the core a replica is pinned to (pinned_cpus)

    def start(self) -> None:
        setup = partial(_die_with_parent, self.cpu)
        if self.forked:
            self.proc = fork_module(self.cmd, REPO_ROOT, self.env, self.log, setup)
            self.started = time.monotonic()
            return
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(self.cmd, cwd=REPO_ROOT, env={**os.environ, **self.env},
                                         stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT, preexec_fn=setup)
        self.started = time.monotonic()

    def exited(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def signal(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass


class Launcher:
    """Starts, watches and stops the replicas and the proxy; `run()` blocks until stopped."""

    def __init__(self, replicas: int, port: int, bind: str = "0.0.0.0",
                 run_dir: Path | None = None, env: dict[str, str] | None = None,
                 log=print) -> None:
        self.port, self.bind, self.log = port, bind, log
        self.run_dir = Path(run_dir or f"/tmp/latent-explorer-deploy-{port}")
        # One per launch, the same for every replica; several machines behind one proxy set
        # the same one in their environment.
        secret = os.environ.get("STREAMLIT_SERVER_COOKIE_SECRET") or secrets.token_hex(32)
        # Two malloc arenas, not glibc's 8 per core: each script run is a new thread, and
        # under load the arenas' free pages kept ~70 MB more per replica (20 sessions back to
        # back, same CPU and latency; docs/serving.md). The environment may set another value.
        # (Forked replicas get it from mallopt in the launcher: glibc reads it at start only.)
        base = {"STREAMLIT_SERVER_COOKIE_SECRET": secret, "PYTHONUNBUFFERED": "1",
                "MALLOC_ARENA_MAX": os.environ.get("MALLOC_ARENA_MAX", "2"), **(env or {})}
        self.arenas = base["MALLOC_ARENA_MAX"]
        cpus = pinned_cpus(replicas)
        if any(c is not None for c in cpus):  # a pinned replica trains on all of them
            base[ENV_TRAINING_CPUS] = ",".join(str(c) for c in launcher_cpus())
        self.replicas = [
            Child(f"r{i}", streamlit_cmd(port + i, "127.0.0.1"), self.run_dir / f"r{i}.log",
                  {**base, "VAE_SERVER_NAME": f"replica r{i} (port {port + i})"}, port + i,
                  cpu=cpus[i - 1])
            for i in range(1, replicas + 1)]
        self.proxy: Child | None = None
        self.stopping = threading.Event()
        self.fork = fork_wanted()

    def preflight(self) -> None:
        """Every reason not to start, as DeployError, before anything starts."""
        haproxy = shutil.which("haproxy")
        if haproxy is None:
            raise DeployError("haproxy is not installed (Debian: apt-get install haproxy); "
                              "or serve one process with --replicas 1")
        check_port_free(self.port, self.bind)
        for r in self.replicas:
            check_port_free(r.port, "127.0.0.1")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        cfg = self.run_dir / "haproxy.cfg"
        cfg.write_text(render_config(self.port, self.bind,
                                     [(r.name, r.port) for r in self.replicas]))
        check = subprocess.run([haproxy, "-c", "-q", "-f", str(cfg)], capture_output=True,
                               text=True)
        if check.returncode != 0:
            why = (check.stderr or check.stdout).strip().splitlines()
            raise DeployError(f"haproxy refused {cfg}: {why[-1] if why else check.returncode}")
        self.proxy = Child("haproxy", [haproxy, "-db", "-f", str(cfg)],
                           self.run_dir / "haproxy.log")

    def _write_state(self) -> None:
        state = {"port": self.port, "proxy_pid": self.proxy.proc.pid if self.proxy and
                 self.proxy.proc else None, "launcher_pid": os.getpid(),
                 "replicas": [{"name": r.name, "port": r.port, "restarts": r.restarts,
                               "pid": r.proc.pid if r.proc else None} for r in self.replicas]}
        tmp = self.run_dir / ".replicas.json.tmp"
        tmp.write_text(json.dumps(state, indent=1))
        os.replace(tmp, self.run_dir / "replicas.json")

    def run(self) -> int:
        """Start everything and supervise until stop(); 0 on a clean stop, 1 if HAProxy died."""
        self.preflight()
        try:
            self.fork = self.fork and preload_for_fork(self.log, self.arenas)
            for r in self.replicas:
                r.forked = self.fork
                r.start()
            self.proxy.start()
            self._write_state()
            self.log(f"latent-explorer: {len(self.replicas)} replicas behind HAProxy on "
                     f"http://{self.bind}:{self.port} (logs and config in {self.run_dir})")
            return self._supervise()
        finally:
            self.shutdown()

    def _supervise(self) -> int:
        ready = False
        while not self.stopping.wait(0.5):
            if (code := self.proxy.exited()) is not None:
                self.log(f"haproxy exited with code {code}; see {self.proxy.log}")
                return 1
            for r in self.replicas:
                if (code := r.exited()) is None:
                    if time.monotonic() - r.started > STABLE_S:
                        r.restarts = 0
                    continue
                wait = RESTART_BACKOFF[min(r.restarts, len(RESTART_BACKOFF) - 1)]
                if time.monotonic() - r.started < wait:
                    continue  # crashing quickly: back off before the next try
                self.log(f"replica {r.name} (port {r.port}) exited with code {code}; "
                         "restarting it")
                r.restarts += 1
                r.start()
                self._write_state()
            if not ready and all(healthy(r.port) and proxy_sees_up(self.proxy.log, r.name)
                                 for r in self.replicas):
                ready = True
                self.log(f"ready: http://{self.bind}:{self.port}")
        return 0

    def stop(self, *_: object) -> None:
        self.stopping.set()

    def shutdown(self, grace: float = 10.0) -> None:
        """SIGTERM to every child's process group, SIGKILL to what is left after `grace` s."""
        children = [c for c in [self.proxy, *self.replicas] if c is not None]
        for c in children:
            c.signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for c in children:
            if c.proc is None:
                continue
            try:
                c.proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                c.signal(signal.SIGKILL)
                c.proc.wait()
