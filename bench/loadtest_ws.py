"""Many users at once, measured at the server: N Streamlit protocol clients, no browsers.

The same load as bench/loadtest.py (each session alternates: go to Latent sliders and move
the latent pad's z0 by 5 steps of 0.01, right then left on the next turn; go to Reconstruct
and upload the PNG of a real MNIST test digit), but every session is a bench/st_client.py websocket
client that sends the BackMsgs the browser would send. 20 such clients cost a few percent of
one core, so on a small machine the latency is the server's, not the browsers'.

Latency of an action: from sending the rerun (the pad's release of the new z) or the file URL
request (upload) to the end of the script run showing the result (slider: the caption
"z on the server: (...)" with the new z, decoded by the browser, not the server; upload: a
"reconstruction" image, fetched over HTTP). Like the page, a session fetches the pad's blobs
(decoder weights, test digits...) once, before its first release and outside the timing, and
each release reports the hashes it holds (the server then leaves their URLs out).
Errors: exception elements, error alerts, page_not_found, compile errors, ref_hash messages,
lost websockets, HTTP errors, timeouts and images that did not change.

Writes bench/results/loadtest_ws.json with loadtest.json's schema (p50/p95 for 1 and N
sessions and their ratios) plus the CPU seconds of the server and of this client process.

    python -m bench.loadtest_ws                               # 20 sessions x 60 s
    python -m bench.loadtest_ws --sessions 3 --duration 10    # short
    python -m bench.loadtest_ws --url http://127.0.0.1:8501   # against a running server
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import random
import sys
import time
from typing import Any

from bench.loadtest import (
    KEY_STEPS,
    REPO_ROOT,
    SETUP_CONCURRENCY,
    Stats,
    _cpu_seconds,
    _cpu_split,
    cli,
    report,
    run_phases,
    summarize,
)
from bench.st_client import StClient

RESULTS = REPO_ROOT / "bench" / "results" / "loadtest_ws.json"
DECODED, RECON = "decoded mean image", "reconstruction"
STEP = 0.01  # slider step of z0 in pages/sliders.py
PAD = "latent_explorer.latent_pad"  # ui/latent_pad's component


class ActionError(RuntimeError):
    """The run ended but the page does not show what the action should have produced."""


def _own_cpu() -> float:
    t = os.times()
    return t.user + t.system  # this process: the event loop with every client


async def fetch_blobs(c: StClient, data: dict[str, Any]) -> None:
    """Fetch the pad's blobs this session lacks, as the page does when the pad mounts
    (ui/frontend/latent_pad/blobs.js: once per hash per tab), and hold their hashes: each
    release reports them, and the server then leaves their URLs out."""
    refs = [data.get(k) for k in ("decoder", "reader", "points", "images")]
    refs.append((data.get("layers") or {}).get("arrays"))
    for ref in refs:
        if ref and ref.get("url") and ref["hash"] not in c.held:
            await c.fetch(ref["url"])
            c.held.add(ref["hash"])


async def slider_action(c: StClient, direction: int, stats: Stats) -> None:
    """Move z0 by KEY_STEPS steps as the latent pad reports it (one release with the final
    value); wait for the run whose caption shows the new z."""
    pads = [n.body for n in c.find("bidi_component") if n.body.component_name == PAD]
    if not pads:
        raise ActionError("no latent pad on the page")
    data = json.loads(pads[0].json)
    await fetch_blobs(c, data)
    z, r = data["z"], data["range"]
    z[0] = round(min(max(z[0] + direction * KEY_STEPS * STEP, -r), r), 2)
    target = "z on the server: (" + ", ".join(f"{v:.2f}" for v in z[:16])
    t0 = time.perf_counter()
    await c.set_component_state(PAD, {"release": {"z": z, "n": f"ws-{t0}",
                                                  "have": sorted(c.held)}})
    if not any(target in cap for cap in c.captions()):
        raise ActionError(f"expected {target}...; captions: {c.captions()}")
    stats.latencies["slider"].append(time.perf_counter() - t0)


async def upload_action(c: StClient, png: bytes, name: str, stats: Stats) -> None:
    """Upload a digit PNG; wait for its reconstruction and fetch it."""
    before = c.image(RECON)
    t0 = time.perf_counter()
    await c.upload(png, name)
    img = c.image(RECON)
    if img is None or (before and img.url == before.url):
        raise ActionError(f"no new {RECON!r} image after the upload; page: {c.problems()}")
    await c.fetch(img.url)
    stats.latencies["upload"].append(time.perf_counter() - t0)


def _check(c: StClient, sid: int, what: str, stats: Stats) -> None:
    for p in c.take_errors() + c.problems():
        stats.errors.append(f"session {sid} {what}: {p}")


def _err(e: BaseException) -> str:
    return f"{type(e).__name__}: {(str(e).splitlines() or [''])[0][:200]}"


async def _open(url: str, page: str, timeout: float) -> StClient:
    c = StClient(url, timeout)
    await c.connect()
    await c.goto(page)
    return c


async def _session(url: str, sid: int, pngs: list[bytes], ready: asyncio.Barrier,
                   setup_slots: asyncio.Semaphore, start: list[float], duration: float,
                   timeout: float, stats: Stats, think: float = 0.0) -> None:
    c: StClient | None = None
    async with setup_slots:  # setup, not measured: open the app, go to the sliders page
        try:
            c = await _open(url, "sliders", timeout * 3)
            c.timeout = timeout
        except Exception as e:  # noqa: BLE001 - every failure is a counted error
            stats.errors.append(f"session {sid} setup: {_err(e)}")
    await ready.wait()
    i, on = 0, "sliders"
    rng = random.Random(sid)
    if think:  # learners do not start in step: a first wait of up to one pause
        await asyncio.sleep(rng.uniform(0, 2 * think))
    try:
        while c is not None and time.perf_counter() - start[0] < duration:
            what = "slider" if i % 2 == 0 else "upload"
            try:
                if on != ("sliders" if i % 2 == 0 else "reconstruct"):
                    on = "sliders" if i % 2 == 0 else "reconstruct"
                    t0 = time.perf_counter()
                    await c.goto(on)
                    stats.nav.append(time.perf_counter() - t0)
                    _check(c, sid, f"navigation to {on}", stats)
                if what == "slider":
                    await slider_action(c, 1 if (i // 2) % 2 == 0 else -1, stats)
                else:
                    await upload_action(c, pngs[(sid + i) % len(pngs)], f"digit-{sid}-{i}.png",
                                        stats)
                _check(c, sid, what, stats)
            except Exception as e:  # noqa: BLE001 - timeouts, lost sessions etc. are counted
                stats.errors.append(f"session {sid} {what}: {_err(e)}")
                with contextlib.suppress(Exception):
                    await c.close()
                c = None
                try:  # start over in a new session, as a reload of /sliders would
                    c, on = await _open(url, "sliders", timeout), "sliders"
                except Exception as e2:  # noqa: BLE001 - counted; the session ends
                    stats.errors.append(f"session {sid} reload: {_err(e2)}")
            i += 1
            if think:  # a learner's pause: one action every think to 2 x think seconds
                await asyncio.sleep(rng.uniform(think, 2 * think))
    finally:
        if c is not None:
            await c.close()


async def run_phase(url: str, sessions: int, duration: float, timeout: float,
                    pngs: list[bytes], server_pid: int | list[int] | None = None,
                    think: float = 0.0) -> dict[str, Any]:
    """`sessions` clients for `duration` s after all are set up; loadtest.summarize's dict
    plus the CPU seconds of the machine, the server (its pid, or the sum over a list of pids)
    and this client process. `think` > 0: each pauses think to 2 x think s after an action
    (a learner's pace) instead of acting back to back."""
    start = [math.inf]
    stats = [Stats() for _ in range(sessions)]
    ready = asyncio.Barrier(sessions + 1)
    slots = asyncio.Semaphore(SETUP_CONCURRENCY)
    tasks = [asyncio.create_task(_session(url, s, pngs, ready, slots, start, duration, timeout,
                                          stats[s], think)) for s in range(sessions)]
    await ready.wait()
    cpu0, own0 = _cpu_seconds(server_pid), _own_cpu()
    start[0] = t0 = time.perf_counter()
    await asyncio.gather(*tasks)
    wall = time.perf_counter() - t0
    cpu1, own1 = _cpu_seconds(server_pid), _own_cpu()
    res = summarize(stats, sessions, duration, wall)
    res["cpu"] = _cpu_split(cpu0, cpu1)
    res["cpu"]["client_s"] = round(own1 - own0, 2)
    return res


def run(sessions: int = 20, duration: float = 60.0, baseline_duration: float | None = None,
        timeout: float = 60.0, url: str | None = None, warmup: float = 10.0,
        log=print) -> dict[str, Any]:
    """Warm-up, baseline (1 session), then `sessions` sessions; returns the results dict."""
    one, many = run_phases(run_phase, sessions, duration, baseline_duration, timeout, url,
                           warmup, log)
    res = report("loadtest_ws", sessions, duration, one, many,
                 "each session is a Streamlit websocket protocol client (bench/st_client.py) "
                 "and alternates: go to Latent sliders, move the latent pad's z0 by 5 x 0.01 "
                 "(one release with the final value); go to Reconstruct, upload a 224x224 "
                 "MNIST test digit PNG (file URL request, PUT, rerun). Latency = request sent "
                 "-> script run finished showing the new z (slider) / the new reconstruction, "
                 "fetched over HTTP (upload). Navigation time is reported separately.")
    res["cpu_split"] = {"1_user": one["cpu"], f"{sessions}_users": many["cpu"]}
    return res


def main(argv: list[str] | None = None) -> int:
    return cli(run, __doc__, "protocol", RESULTS, argv)


if __name__ == "__main__":
    sys.exit(main())
