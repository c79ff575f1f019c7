"""The replay player in headless Chromium: frames drawn per second while playing, the draw time
per frame, the bytes each model's replay costs, whether anything goes stale while playing, how
long a whole run plays at 1x, and the round trip from a pause until Python has the snapshot.
`python -m bench.replay_player` writes bench/results/replay_player.json.

* fps: Play from the first snapshot for `seconds`; `window.replayPlayerStats.draws` counts the
  canvases' redraws (one per animation frame), sampled with the number of elements Streamlit
  marks stale (`[data-stale="true"]`) every 100 ms.
* draw: the browser's time per redraw (clouds, curves' cursor, KL bars), p50 / p95.
* bytes: the replay blob as stored and as sent (the server gzips), fetched once per model.
* whole run: Play from the start of the first model until the player stops at the end (the
  position advances with the clock, so a slow machine draws fewer frames, not a longer run).
* pause: a click on Pause until the page holds the rerun's answer (no element stale, the
  script not running), i.e. Copy link knows the step.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from bench.browser import app_page, settle
from bench.common import RESULTS_DIR, env_info, log, percentile, to_json, write_json

MODELS = ["mnist-mlp-2d", "mnist-cvae-2d", "fashion-mlp-2d", "mnist-conv-16d", "mnist-mlp-50d"]
GOALS = {"fps_min": 30, "stale_while_playing": 0, "whole_run_s_40_epochs": [10, 20]}
_STATE_JS = """() => [window.replayPlayerStats.draws, window.replayPlayerStats.playing,
  document.querySelectorAll('[data-stale="true"]').length]"""


def _settle(page, timeout: float = 120.0) -> None:
    """Settled, and still settled half a second later."""
    settle(page, timeout)
    page.wait_for_timeout(500)
    settle(page, timeout)


def _open(page, model: str) -> float:
    """Open the model's replay at step 0 (no autoplay); seconds until the player is ready."""
    t0 = time.monotonic()
    page.goto(f"/replay?model={model}&step=0", wait_until="domcontentloaded")
    page.wait_for_function("() => { const s = window.replayPlayerStats; return !!s && s.ready "
                           "&& s.frame === 0; }", timeout=120_000)
    ready = time.monotonic() - t0
    _settle(page)
    return ready


def _play(page, seconds: float) -> dict[str, Any]:
    page.get_by_test_id("replay-play").click()
    samples = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        samples.append((time.monotonic(), *page.evaluate(_STATE_JS)))
        page.wait_for_timeout(100)
    (t0, d0, *_), (t1, d1, *_) = samples[0], samples[-1]
    draw = page.evaluate("window.replayPlayerStats.drawMs")[-int(d1 - d0):]
    t = time.monotonic()
    page.get_by_test_id("replay-play").click()  # pause
    page.wait_for_function("() => window.replayPlayerStats.sent.length > 0", timeout=60_000)
    _settle(page)
    pause_s = time.monotonic() - t - 0.5  # _settle's extra half second
    return {"seconds": round(t1 - t0, 2), "fps": round((d1 - d0) / (t1 - t0), 1),
            "samples": len(samples), "stale_samples": sum(1 for s in samples if s[3]),
            "stopped_samples": sum(1 for s in samples if not s[2]),
            "draw_p50_ms": round(percentile(draw, 50), 2) if draw else None,
            "draw_p95_ms": round(percentile(draw, 95), 2) if draw else None,
            "pause_until_server_s": round(pause_s, 2)}


def _whole_run(page) -> dict[str, Any]:
    page.get_by_test_id("replay-scrubber").focus()
    page.keyboard.press("Home")
    _settle(page)
    page.get_by_test_id("replay-play").click()
    t0 = time.monotonic()
    page.wait_for_function("() => !window.replayPlayerStats.playing", timeout=120_000,
                           polling=50)
    s = page.evaluate("window.replayPlayerStats")
    return {"seconds": round(time.monotonic() - t0, 2), "ended_at_frame": s["frame"]}


def run(models: list[str] = MODELS, seconds: float = 3.0) -> dict[str, Any]:
    with app_page() as app:
        out: dict[str, Any] = {"goals": GOALS, "env": env_info(), "models": {},
                               "chromium": app.chromium}
        page = app.page
        for i, model in enumerate(models):
            log(f"replay player: {model}")
            app.fetched.clear()
            ready = _open(page, model)
            res: dict[str, Any] = {
                "ready_s": round(ready, 2),
                "fetched_bytes": sum(len(r.body()) for r in app.fetched),
                "fetched_sent_bytes": sum(r.request.sizes()["responseBodySize"]
                                          for r in app.fetched),
                "play": _play(page, seconds)}
            res["snapshots"] = int(page.locator('[data-testid="replay-scrubber"]')
                                   .get_attribute("max")) + 1
            if i == 0:
                res["whole_run_1x"] = _whole_run(page)
            res["fetches_after"] = page.evaluate("window.replayPlayerStats.fetches")
            out["models"][model] = res
    out["load_average_after"] = env_info()["load_average"]
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=MODELS)
    ap.add_argument("--seconds", type=float, default=3.0, help="length of each play")
    ap.add_argument("--out", default=str(RESULTS_DIR / "replay_player.json"))
    args = ap.parse_args(argv)
    res = run(args.models, args.seconds)
    write_json(Path(args.out), res)
    summary = {m: {"fps": r["play"]["fps"], "stale": r["play"]["stale_samples"],
                   "draw_p95_ms": r["play"]["draw_p95_ms"], "bytes": r["fetched_bytes"],
                   **({"whole_run_s": r["whole_run_1x"]["seconds"]}
                      if "whole_run_1x" in r else {})}
               for m, r in res["models"].items()}
    print(to_json(summary))


if __name__ == "__main__":
    main()
