"""The latent pad in headless Chromium: frames decoded per second during a drag, the browser's
decode time per bundled model, the bytes each model costs, and the round trip from a release
until Python has z. `python -m bench.latent_pad` writes bench/results/latent_pad.json.

* fps: a 3-second drag on the pad (2-D models) or a slider (others), driven by pointer/input
  events dispatched in the page every 4 ms, i.e. faster than the display: the pad decodes
  once per animation frame, so this is what the pad can draw, not what a driver can send.
  The same drag with Playwright's mouse (one CDP round trip per move) is reported too.
* decode: `window.latentPadTimeDecodes(n)`, n random codes in [-3, 3] after a warm-up.
* bytes: each blob as stored and as sent (the server gzips), and what a switch to the model
  actually fetched (the test images are shared by the models of one dataset).
* round trip: one ArrowRight on a pad slider (one release) until the page holds the rerun's
  answer, i.e. Python has run with the new z (`latentPadStats.roundTripMs`).

`--checkpoint FOLDER` adds a model of your own (ours or a foreign ONNX folder, whose decoder
the pad runs as translated by vae_core.onnx_spec): it is copied into the server's user models
and measured after the bundled `--models`, as "<name> (yours)".
"""

from __future__ import annotations

import argparse
import math
import shutil
import time
from pathlib import Path
from typing import Any

from bench.browser import app_page, settle
from bench.common import RESULTS_DIR, env_info, log, percentile, to_json, write_json

MODELS = ["mnist-mlp-2d", "mnist-conv-2d", "mnist-conv-16d", "mnist-mlp-50d", "fashion-mlp-2d"]
GOALS = {"fps_min": 30, "fps_target": 60, "decode_p95_ms_mlp": 8.0, "decode_p95_ms_conv": 16.0}

# Pointer (2-D) or slider input events every 4 ms for `ms`; stats are read before the release.
_DRAG_JS = """(el, ms) => new Promise((done) => {
  const r = el.getBoundingClientRect(), plane = el.tagName === 'CANVAS';
  const cx = r.left + (plane ? 34 + 200 : r.width / 2), cy = r.top + (plane ? 200 : r.height / 2);
  const fire = (type, x, y) => el.dispatchEvent(new PointerEvent(type,
    {clientX: x, clientY: y, pointerId: 1, button: 0, bubbles: true}));
  const s0 = window.latentPadStats, t0 = performance.now();
  let events = 0;
  if (plane) fire('pointerdown', cx, cy);
  const id = setInterval(() => {
    const t = performance.now() - t0;
    if (t >= ms) {
      clearInterval(id);
      const s1 = window.latentPadStats;
      if (plane) fire('pointerup', cx, cy); else el.dispatchEvent(new Event('change'));
      done({seconds: t / 1000, events, decodes: s1.decodes - s0.decodes,
            changes: s1.digitChanges - s0.digitChanges, releases: s1.commits - s0.commits});
      return;
    }
    events += 1;
    if (plane) fire('pointermove', cx + 150 * Math.sin(t / 300), cy + 150 * Math.sin(t / 470 + 1));
    else { el.value = String(2.5 * Math.sin(t / 400)); el.dispatchEvent(new Event('input')); }
  }, 4);
})"""


def _latent_dim(model: str, checkpoint: Path | None) -> int:
    if checkpoint is None:
        return 2 if "-2d" in model else int(model.rsplit("-", 1)[1].rstrip("d"))
    # deferred: vae_core loads torch (and onnxruntime for a foreign folder); only --checkpoint
    from vae_core import load_checkpoint

    return load_checkpoint(checkpoint).model_config.latent_dim


def _open(page, model: str, first: bool, checkpoint: Path | None = None) -> None:
    if first:
        page.goto("/sliders", wait_until="domcontentloaded")
        settle(page)
    if model != MODELS[0] or checkpoint is not None:
        option = f"{model} ({'bundled' if checkpoint is None else 'yours'})"
        page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').first.click()
        page.get_by_role("option", name=option, exact=True).click()
        page.wait_for_timeout(300)
        settle(page)
    dims = _latent_dim(model, checkpoint)
    page.wait_for_function("n => { const s = window.latentPadStats; return !!s && s.ready "
                           "&& s.z.length === n && s.pythonZ.length === n; }", arg=dims,
                           timeout=120_000)
    page.wait_for_timeout(1500)  # let the fetches and the manifold settle


def _ms(xs: list[float]) -> dict[str, float]:
    return {"n": len(xs), "p50_ms": round(percentile(xs, 50), 2),
            "p95_ms": round(percentile(xs, 95), 2), "min_ms": round(min(xs), 2)}


def _mouse_drag(page, seconds: float) -> dict[str, Any]:
    box = page.get_by_test_id("latent-pad-plane").bounding_box()
    cx, cy = box["x"] + 34 + 200, box["y"] + 200
    s0 = page.evaluate("window.latentPadStats")
    page.mouse.move(cx, cy)
    page.mouse.down()
    t0, moves = time.monotonic(), 0
    while time.monotonic() - t0 < seconds:
        moves += 1
        page.mouse.move(cx + 150 * math.sin(moves / 6), cy + 150 * math.sin(moves / 9 + 1))
    s1 = page.evaluate("window.latentPadStats")
    page.mouse.up()
    dt = time.monotonic() - t0
    return {"moves_per_s": round(moves / dt, 1),
            "fps": round((s1["decodes"] - s0["decodes"]) / dt, 1)}


def _round_trips(page, n: int) -> list[float]:
    slider = page.get_by_test_id("latent-pad-slider-0")
    for i in range(n):
        had = len(page.evaluate("window.latentPadStats.roundTripMs"))
        slider.focus()
        page.keyboard.press("ArrowRight" if i % 2 == 0 else "ArrowLeft")
        page.wait_for_function(f"() => window.latentPadStats.roundTripMs.length > {had}",
                               timeout=60_000)
        page.wait_for_timeout(200)
    return page.evaluate("window.latentPadStats.roundTripMs")[-n:]


def run(models: list[str] = MODELS, seconds: float = 3.0, reps: int = 300,
        trips: int = 10, checkpoint: Path | None = None) -> dict[str, Any]:
    with app_page() as app:
        out: dict[str, Any] = {"goals": GOALS, "env": env_info(), "models": {},
                               "chromium": app.chromium}
        page, fetched = app.page, app.fetched
        runs: list[tuple[str, Path | None]] = [(m, None) for m in models]
        if checkpoint is not None:
            shutil.copytree(checkpoint, Path(app.models_dir) / checkpoint.name)
            runs.append((checkpoint.name, checkpoint))
        for i, (model, own) in enumerate(runs):
            log(f"latent pad: {model}")
            fetched.clear()
            _open(page, model, first=i == 0, checkpoint=own)
            blobs = [{"bytes": len(r.body()),
                      "sent_bytes": r.request.sizes()["responseBodySize"]} for r in fetched]
            page.evaluate("window.latentPadTimeDecodes(30)")  # warm up the JIT
            decode = _ms(page.evaluate(f"window.latentPadTimeDecodes({reps})"))
            plane = page.get_by_test_id("latent-pad-plane")
            target = plane if plane.count() else page.get_by_test_id("latent-pad-slider-0")
            drag = target.element_handle().evaluate(_DRAG_JS, seconds * 1000)
            drag["fps"] = round(drag["decodes"] / drag["seconds"], 1)
            settle(page)
            res = {"decode": decode, "drag": drag, "fetched": blobs,
                   "fetched_bytes": sum(b["bytes"] for b in blobs),
                   "fetched_sent_bytes": sum(b["sent_bytes"] for b in blobs)}
            if i == 0:
                res["mouse_drag"] = _mouse_drag(page, seconds)
                settle(page)
                res["round_trip"] = _ms(_round_trips(page, trips))
            out["models"][model] = res
    out["load_average_after"] = env_info()["load_average"]
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=MODELS)
    ap.add_argument("--seconds", type=float, default=3.0, help="length of each drag")
    ap.add_argument("--reps", type=int, default=300, help="timed decodes per model")
    ap.add_argument("--checkpoint", type=Path, default=None,
                    help="also measure this model folder (ours, or a foreign ONNX folder)")
    ap.add_argument("--out", default=str(RESULTS_DIR / "latent_pad.json"))
    args = ap.parse_args(argv)
    if args.checkpoint is not None and not args.checkpoint.is_dir():
        ap.error(f"--checkpoint {args.checkpoint}: no such model folder")
    res = run(args.models, args.seconds, args.reps, checkpoint=args.checkpoint)
    write_json(Path(args.out), res)
    summary = {m: {"fps": r["drag"]["fps"], "decode_p50_ms": r["decode"]["p50_ms"],
                   "decode_p95_ms": r["decode"]["p95_ms"], "bytes": r["fetched_bytes"]}
               for m, r in res["models"].items()}
    print(to_json(summary))


if __name__ == "__main__":
    main()
