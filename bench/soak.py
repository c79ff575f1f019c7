"""Many short sessions through the proxy: does a replica give back what a session took?

`python -m deploy --replicas R --proxy` runs under bench/loadtest_profile.py's streamlit
(nothing profiled; SIGUSR2 writes each replica's sessions and the bytes of its caches, session
states and media files). After a warm-up (each replica, then `--warm` soak sessions), the
replicas' resident memory and stats are the reference, taken once the warm-up's sessions have
expired (Streamlit keeps a closed session for server.disconnectedSessionTTL seconds). Then
`--sessions` short sessions (bench/st_client.py protocol clients, no browsers), at most
`--concurrency` at once, spread over `--duration` seconds: each opens the app, goes to Latent
sliders, fetches the pad's blobs and releases a z, goes to Reconstruct, uploads a digit of its
own (a new image for the server) and closes. Once their sessions have expired too, the same
figures again: the growth of each replica's memory, of its session states and of its media
store (which must come back to where it was: nothing a closed session held stays).

Errors: as in bench/loadtest_ws.py, plus a replica restarted. Writes bench/results/soak.json.

    python -m bench.soak                                          # 1,000 sessions, ~10 min
    python -m bench.soak --sessions 60 --duration 30 --ttl 5      # short
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.loadtest import REPO_ROOT, digit_pngs, run_async
from bench.loadtest_profile import ENV_STATS
from bench.loadtest_proxy import _load, _rss_mb
from bench.loadtest_ws import _err, _open, run_phase, slider_action, upload_action
from bench.loadtest import Stats
from deploy import launched
from deploy.launcher import ENV_STREAMLIT_MODULE

RESULTS = REPO_ROOT / "bench" / "results" / "soak.json"
# The media store may hold a few files more or fewer than after the warm-up (the last
# sessions' pictures, until Streamlit's next clean-up), never one per session: 2 MB is ~40
# sessions' worth.
MEDIA_SLACK = 2 * 2**20


async def one_session(url: str, png: bytes, name: str, timeout: float) -> list[str]:
    """Open, release a z on Latent sliders, upload on Reconstruct, close: the problems seen."""
    st, out = Stats(), []
    try:
        c = await _open(url, "sliders", timeout)
        try:
            await slider_action(c, 1, st)
            await c.goto("reconstruct")
            await upload_action(c, png, name, st)
            out += c.take_errors() + c.problems()
        finally:
            await c.close()
    except Exception as e:  # noqa: BLE001 - every failure is a counted error
        out.append(_err(e))
    return out


async def soak(url: str, pngs: list[bytes], sessions: int, duration: float,
               concurrency: int, timeout: float) -> dict[str, Any]:
    """`sessions` sessions started evenly over `duration` s, at most `concurrency` at once."""
    slots, errors = asyncio.Semaphore(concurrency), []
    t0 = time.perf_counter()

    async def run(i: int) -> None:
        await asyncio.sleep(i * duration / sessions)
        async with slots:
            for e in await one_session(url, pngs[i % len(pngs)], f"soak-{i}.png", timeout):
                errors.append(f"session {i}: {e}")

    await asyncio.gather(*(run(i) for i in range(sessions)))
    return {"sessions": sessions, "wall_s": round(time.perf_counter() - t0, 1),
            "errors": len(errors), "error_samples": errors[:10]}


def _snapshot(pids: list[int], folder: Path) -> list[dict[str, Any]]:
    """Each replica's RSS and stats (SIGUSR2 -> folder/<pid>.json)."""
    for p in pids:
        (folder / f"{p}.json").unlink(missing_ok=True)
        os.kill(p, signal.SIGUSR2)
    out = []
    for p in pids:
        f = folder / f"{p}.json"
        for _ in range(100):
            if f.exists():
                break
            time.sleep(0.1)
        stats = json.loads(f.read_text()) if f.exists() else {}
        out.append({"pid": p, "rss_mb": _rss_mb(p), **stats})
    return out


def _settle(pids: list[int], folder: Path, ttl: float, log: Callable[[str], None]
            ) -> list[dict[str, Any]]:
    """Wait until the closed sessions have expired (at most ttl + 30 s), then a snapshot."""
    deadline = time.monotonic() + ttl + 30
    while True:
        snap = _snapshot(pids, folder)
        if all(s.get("sessions", 0) == 0 for s in snap) or time.monotonic() > deadline:
            break
        time.sleep(2)
    log(f"  {[(s['rss_mb'], s.get('sessions')) for s in snap]} (MB, sessions) per replica")
    return snap


def _growth(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for b, a in zip(before, after, strict=True):
        keys = set(b.get("bytes", {})) | set(a.get("bytes", {}))
        rows.append({"rss_mb": [b["rss_mb"], a["rss_mb"]],
                     "rss_growth_pct": round(100 * (a["rss_mb"] / b["rss_mb"] - 1), 1),
                     "bytes": {k: [b.get("bytes", {}).get(k, 0), a.get("bytes", {}).get(k, 0)]
                               for k in sorted(keys)}})
    return rows


def run(replicas: int = 2, sessions: int = 1000, duration: float = 600.0,
        concurrency: int = 10, warm: int = 40, ttl: float = 120.0, timeout: float = 60.0,
        log: Callable[[str], None] = print) -> dict[str, Any]:
    """The soak; the results dict (`passed`: 0 errors, each replica within 10% of its RSS
    after warm-up, no session left, its media store back to its size after warm-up, give or
    take MEDIA_SLACK)."""
    pngs = digit_pngs(sessions, start=300) if sessions <= 9000 else digit_pngs(9000, 300)
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        stats_dir = Path(tmp) / "stats"
        stats_dir.mkdir()
        env = {"VAE_USER_MODELS_DIR": str(Path(tmp) / "models"), ENV_STATS: str(stats_dir),
               ENV_STREAMLIT_MODULE: "bench.loadtest_profile",
               "STREAMLIT_SERVER_DISCONNECTED_SESSION_TTL": str(int(ttl))}
        with launched(replicas, Path(tmp) / "run", env=env) as proc:
            state = proc.state()
            pids = [r["pid"] for r in state["replicas"]]
            log(f"{replicas} replica(s) behind HAProxy on {proc.url}; warm-up")
            for r in state["replicas"]:
                run_async(run_phase(f"http://127.0.0.1:{r['port']}", 1, 5, timeout * 3,
                                    digit_pngs(20)))
            warmed = run_async(soak(proc.url, digit_pngs(warm, start=100), warm, warm / 4,
                                    concurrency, timeout))
            base = _settle(pids, stats_dir, ttl, log)
            log(f"soak: {sessions} sessions over {duration:.0f} s, {concurrency} at once")
            res = run_async(soak(proc.url, pngs, sessions, duration, concurrency, timeout))
            log(f"  {res['errors']} errors in {res['wall_s']} s; sessions expiring")
            after = _settle(pids, stats_dir, ttl, log)
            restarts = sum(r["restarts"] for r in proc.state()["replicas"])
    growth = _growth(base, after)
    media = [g["bytes"].get("st_memory_media_file_storage", [0, 0]) for g in growth]
    passed = (res["errors"] == 0 and warmed["errors"] == 0 and restarts == 0
              and all(g["rss_growth_pct"] <= 10 for g in growth)
              and all(m[1] <= m[0] + MEDIA_SLACK for m in media)
              and all(a.get("sessions") == 0 for a in after))
    return {"benchmark": "soak", "passed": passed, "replicas": replicas, "soak": res,
            "warm_up_errors": warmed["errors"], "restarts": restarts, "growth": growth,
            "after_warm_up": base, "after_soak": after, "ttl_s": ttl,
            "load_average": _load(), "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--replicas", type=int, default=2)
    ap.add_argument("--sessions", type=int, default=1000, help="short sessions in the soak")
    ap.add_argument("--duration", type=float, default=600.0, help="seconds to start them in")
    ap.add_argument("--concurrency", type=int, default=10, help="sessions open at once")
    ap.add_argument("--warm", type=int, default=40, help="soak sessions of the warm-up")
    ap.add_argument("--ttl", type=float, default=120.0,
                    help="server.disconnectedSessionTTL of the replicas (Streamlit's default)")
    ap.add_argument("--out", type=Path, default=RESULTS, help="where to write the JSON")
    args = ap.parse_args(argv)
    res = run(args.replicas, args.sessions, args.duration, args.concurrency, args.warm,
              args.ttl, log=lambda m: print(f"[soak] {m}", file=sys.stderr, flush=True))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=2) + "\n")
    print(json.dumps({k: res[k] for k in ("passed", "soak", "growth")}, indent=1))
    return 0 if res["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
