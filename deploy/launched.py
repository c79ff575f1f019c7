"""`python -m deploy` as a subprocess on free local ports, for the tests and benchmarks that
drive a whole deployment (tests/app/test_deploy.py, bench/loadtest_proxy.py, bench/soak.py)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .launcher import REPO_ROOT, DeployError, check_port_free, healthy


def free_port_block(n: int) -> int:
    """A port p with p .. p+n-1 free on every interface of this machine."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = s.getsockname()[1]
        try:
            for i in range(n):
                check_port_free(base + i)
        except DeployError:
            continue
        if base + n < 65000:
            return base
    raise DeployError(f"no block of {n} free ports found")


@dataclass
class Launched:
    """A running `python -m deploy` (see `launched`)."""

    url: str
    port: int
    run_dir: Path
    proc: subprocess.Popen

    def state(self) -> dict:
        """replicas.json: the proxy's and the replicas' pids, ports and restarts."""
        return json.loads((self.run_dir / "replicas.json").read_text())

    def pids(self) -> list[int]:
        """The proxy's and the replicas' process ids as replicas.json has them now."""
        state = self.state()
        return [p for p in [state["proxy_pid"], *(r["pid"] for r in state["replicas"])] if p]

    def output(self) -> str:
        """What the launcher printed so far."""
        return (self.run_dir / "launcher.log").read_text(errors="replace")


@contextlib.contextmanager
def launched(replicas: int, run_dir: Path, env: dict[str, str] | None = None,
             proxy: bool = True, timeout: float = 180.0) -> Iterator[Launched]:
    """`python -m deploy --replicas N` on free local ports (HAProxy even for N = 1 unless
    `proxy` is False), yielded once it has printed "ready"; on exit SIGTERM, as Ctrl-C or
    systemd would, and SIGKILL of its process group if it has not stopped within 60 s."""
    run_dir.mkdir(parents=True, exist_ok=True)
    port = free_port_block(replicas + 1)
    cmd = [sys.executable, "-m", "deploy", "--replicas", str(replicas), "--port", str(port),
           "--bind", "127.0.0.1", "--run-dir", str(run_dir), *(["--proxy"] if proxy else [])]
    with open(run_dir / "launcher.log", "ab") as out:
        proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env={**os.environ, **(env or {})},
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    run = Launched(f"http://127.0.0.1:{port}", port, run_dir, proc)
    try:
        deadline = time.monotonic() + timeout
        while not (("ready: " in run.output()) if proxy or replicas > 1 else healthy(port)):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise DeployError(f"python -m deploy did not get ready (exit code "
                                  f"{proc.poll()}): {run.output()[-2000:]}")
            time.sleep(0.5)
        yield run
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
