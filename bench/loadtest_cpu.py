"""Server CPU per action, per action kind: one protocol session against one server process.

The load tests (bench/loadtest_ws.py, bench/loadtest_proxy.py) mix three kinds of action: a
page switch (Latent sliders <-> Reconstruct), a latent pad release on Latent sliders (z0
moves by 0.05) and an upload of a digit PNG on Reconstruct. Here each kind runs alone, N times
back to back in one session (bench/st_client.py, no browser), and the server process's CPU
time (/proc/PID/stat utime + stime, every thread) before and after, over N, is that kind's
CPU per action. Process CPU time barely depends on what else runs on the machine, so the
figure holds on a busy machine where latencies do not.

With `--profile` the server runs under bench/loadtest_profile.py (each script run under
cProfile) and each kind runs again to keep its top functions by cumulative time: the profile
of a rerun. (A sampling profiler such as py-spy attributes most samples to the event loop's
thread, which the per-thread CPU times show does a fifth of the work.)

    python -m bench.loadtest_cpu --url http://127.0.0.1:8501 --pid 1234 -n 20
    python -m bench.loadtest_cpu -n 20 --profile     # starts a server, profiles it too
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bench.loadtest import REPO_ROOT, Server, Stats, _proc_cpu, digit_pngs, run_async
from bench.loadtest_profile import ENV_OUT, top
from bench.loadtest_ws import _open, slider_action, upload_action
from bench.st_client import StClient

RESULTS = REPO_ROOT / "bench" / "results" / "loadtest_cpu.json"
KINDS = ("switch", "release", "upload", "upload_seen")


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system, all threads) the process has used so far."""
    return _proc_cpu(pid, os.sysconf("SC_CLK_TCK"))


def main_thread_cpu_s(pid: int) -> float:
    """CPU seconds of the process's main thread: Streamlit's event loop (websocket, HTTP,
    sending the runs' messages); script runs happen in other threads."""
    stat = Path(f"/proc/{pid}/task/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")


async def _one(c: StClient, kind: str, i: int, pngs: list[bytes]) -> None:
    """One action of `kind`; the page it needs is reached first (not counted by the caller
    for release and upload: see `_kind`)."""
    st = Stats()
    if kind == "switch":
        await c.goto("reconstruct" if i % 2 == 0 else "sliders")
    elif kind == "release":
        await slider_action(c, 1 if i % 2 == 0 else -1, st)
    elif kind == "upload":
        await upload_action(c, pngs[i % len(pngs)], f"cpu-{i}.png", st)
    else:  # digits the server has seen (uploaded before, by any session): the load tests'
        await upload_action(c, pngs[i % 2], f"cpu-{i}.png", st)  # case (20 go round)
    if problems := c.take_errors() + c.problems():
        raise RuntimeError(f"{kind} {i}: {problems[0]}")


async def _kind(url: str, pid: int, kind: str, n: int, pngs: list[bytes], timeout: float,
                mark: Callable[[], None] = lambda: None) -> tuple[float, float, float]:
    """(CPU seconds, of them in the event loop, wall seconds) of the server over n actions of
    one kind; `mark()` right before and after them (the session's setup is left out)."""
    c = await _open(url, "sliders" if kind in ("switch", "release") else "reconstruct",
                    timeout)
    try:
        if kind == "switch":  # as in the load tests' turns: the pad's blobs are held (the
            await _one(c, "release", 0, pngs)  # server knows it from a release) once dragged
        # the first of a kind may fill a cache: not measured (an upload of a digit of its own)
        if kind == "upload_seen":  # both digits once, the second last: the loop starts
            await _one(c, kind, 0, pngs)  # with the first
        await _one(c, kind, n if kind == "upload" else 1, pngs)
        mark()
        cpu0, loop0, t0 = cpu_s(pid), main_thread_cpu_s(pid), time.perf_counter()
        for i in range(n):
            await _one(c, kind, i, pngs)
        res = cpu_s(pid) - cpu0, main_thread_cpu_s(pid) - loop0, time.perf_counter() - t0
        mark()
        return res
    finally:
        await c.close()


def per_kind(url: str, pid: int, n: int = 20, pngs: list[bytes] | None = None,
             timeout: float = 60.0) -> dict[str, Any]:
    """Server CPU and wall milliseconds per action of each kind, and their mean over the load
    tests' mix (each turn: a switch and a release, a switch and an upload). By default the
    uploads are digits the load tests never send (#100 on): each is new to the server, whose
    caches would otherwise skip their preprocessing; `upload_seen` alternates two digits the
    server has seen: what a replica mostly gets under the load tests, where 20 digits go
    round (mix_seen: the load tests' mix with such uploads)."""
    pngs = pngs or digit_pngs(n + 1, start=100)
    out: dict[str, Any] = {"n": n}
    for kind in KINDS:
        cpu, loop, wall = run_async(_kind(url, pid, kind, n, pngs, timeout))
        out[kind] = {"cpu_ms": round(cpu * 1000 / n, 1),
                     "event_loop_cpu_ms": round(loop * 1000 / n, 1),
                     "wall_ms": round(wall * 1000 / n, 1)}
    ms = {k: out[k]["cpu_ms"] for k in KINDS}
    # the mix per turn: 2 switches, 1 release, 1 upload; loadtest_ws counts 2 actions per turn
    out["mix_cpu_ms_per_action"] = round((2 * ms["switch"] + ms["release"] + ms["upload"]) / 2, 1)
    out["mix_cpu_ms_per_request"] = round((2 * ms["switch"] + ms["release"] + ms["upload"]) / 4,
                                          1)
    out["mix_seen_cpu_ms_per_action"] = round(
        (2 * ms["switch"] + ms["release"] + ms["upload_seen"]) / 2, 1)
    return out


def profile(url: str, pid: int, out_file: Path, n: int = 10,
            pngs: list[bytes] | None = None, timeout: float = 60.0) -> dict[str, Any]:
    """Each kind again, n actions, on a server started by bench.loadtest_profile: the top
    functions of its script runs by cumulative time (cProfile)."""
    pngs = pngs or digit_pngs(n + 1, start=200)
    out: dict[str, Any] = {}

    def dump() -> None:  # the server writes what it profiled since the last dump
        seen = out_file.stat().st_mtime_ns if out_file.exists() else None
        os.kill(pid, signal.SIGUSR1)
        for _ in range(100):  # its event loop writes the file: wait for the new one
            time.sleep(0.1)
            if out_file.exists() and out_file.stat().st_mtime_ns != seen:
                break

    for kind in KINDS:
        out_file.unlink(missing_ok=True)
        run_async(_kind(url, pid, kind, n, pngs, timeout, mark=dump))  # 1st dump: setup
        dumped = out_file.with_name(f"{out_file.stem}-{kind}.prof")
        out_file.replace(dumped)
        out[kind] = top(str(dumped))
    return out


@contextlib.contextmanager
def _server(url: str | None, pid: int | None, prof: Path | None = None
            ) -> Iterator[tuple[str, int]]:
    """(url, pid) of the given server, or of one started here (under cProfile with `prof`)
    and stopped afterwards."""
    if url is not None and pid is not None:
        yield url, pid
        return
    server = Server(*(("bench.loadtest_profile", {ENV_OUT: str(prof)}) if prof else ()))
    server.start()
    try:
        assert server.proc is not None
        yield server.url, server.proc.pid
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--url", default=None, help="a running server (with --pid)")
    ap.add_argument("--pid", type=int, default=None, help="that server's process id")
    ap.add_argument("-n", type=int, default=20, help="actions of each kind")
    ap.add_argument("--profile", type=Path, default=None, metavar="PROF",
                    help="start the server under cProfile and profile each kind too "
                         "(pstats files PROF-<kind>.prof)")
    ap.add_argument("--out", type=Path, default=RESULTS, help="where to write the JSON")
    args = ap.parse_args(argv)
    if args.url is not None and args.pid is None:
        ap.error("--url needs --pid")
    res: dict[str, Any] = {"benchmark": "loadtest_cpu", "n": args.n}
    with _server(args.url, args.pid) as (url, pid):
        res["load_average_before"] = os.getloadavg()
        res["cpu_per_action"] = per_kind(url, pid, args.n)
    if args.profile:  # a server of its own: cProfile's overhead must not reach the figures
        with _server(None, None, args.profile) as (url, pid):
            res["profile"] = profile(url, pid, args.profile, max(5, args.n // 2))
    res["load_average_after"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=2) + "\n")
    print(json.dumps(res["cpu_per_action"], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
