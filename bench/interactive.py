"""Interactivity, server side: what one user action costs the Python process behind the app.

* slider change -> one z decoded by the bundled 2-D model -> PNG bytes (scale 8, 224x224);
* the 40x40 manifold: 1,600 codes decoded in one batch, tiled, encoded as one PNG;
* encoding the 10,000 test digits (the scatter page's work);
* an uploaded image (PNG bytes of an enlarged MNIST digit, dark ink on white) -> MNIST
  preprocessing -> reconstruction (-> PNG bytes, reported separately);
* app cold start: `streamlit run app.py` until /_stcore/health answers "ok" and until the first
  page's HTML is served.

Browser rendering, websocket round trips and Streamlit's script rerun are not included (the
cold-start HTML is the app shell Streamlit serves before any script runs).
"""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from ui.figures import png
from ui.inference import decode, reconstruct
from vae_core import encode_dataset, load_checkpoint, load_split, preprocess_image

from .common import CHECKPOINT_2D, REPO_ROOT, log, median, summary_ms, time_reps

GOALS_MS = {"slider_p95": 30.0, "manifold_40_median": 150.0, "encode_test_set_median": 1000.0,
            "reconstruct_upload_median": 100.0}


def load_model(path: str | Path = CHECKPOINT_2D) -> Any:
    """The checkpoint, loaded as the pages load it (vae_core.load_checkpoint)."""
    return load_checkpoint(path)


def slider_decode(ck: Any, reps: int = 200, seed: int = 0) -> dict[str, Any]:
    """p50/p95 of the Sliders page's server path (its fallback when the pad cannot run the
    decoder): one new z -> ui.inference.decode -> ui.figures.png at the page's scale 8."""
    rng = np.random.default_rng(seed)
    zs = rng.uniform(-3, 3, size=(reps + 5, ck.model_config.latent_dim)).astype(np.float32)
    state = {"i": 0, "bytes": 0}

    def one() -> None:
        z = zs[state["i"] % len(zs)]
        state["i"] += 1
        state["bytes"] = len(png(decode(ck, z[None])[0], 8))

    res = summary_ms(time_reps(one, reps, warmup=5))
    res["png_bytes"] = state["bytes"]
    return res


def manifold_png(ck: Any, n: int = 40, reps: int = 10) -> dict[str, Any]:
    """The Manifold page's work on a cache miss: ui.derived.manifold_image (its st.cache_data
    cleared before each rep) + ui.figures.png of the [28n, 28n] grid."""
    # deferred: ui.derived brings streamlit (seconds), which only this measurement needs
    from ui import derived

    state = {"bytes": 0}

    def one() -> None:
        derived.pictures._manifold.clear()  # time the decode, not a cache hit
        grid, _ = derived.manifold_image(ck, n)
        state["bytes"] = len(png(grid))

    res = summary_ms(time_reps(one, reps, warmup=1))
    res.update(n=n, tiles=n * n, png_bytes=state["bytes"])
    return res


def encode_test_set(model: Any, x: torch.Tensor, reps: int = 5) -> dict[str, Any]:
    """vae_core.encode_dataset over all test images (floats already in memory)."""
    res = summary_ms(time_reps(lambda: encode_dataset(model, x), reps, warmup=1))
    res["images"] = len(x)
    return res


def upload_png(digit: np.ndarray, size: int = 280) -> bytes:
    """An MNIST digit as a user would upload it: enlarged, dark ink on white paper, RGB PNG."""
    arr = ((1.0 - digit) * 255).round().astype(np.uint8)
    img = Image.fromarray(arr, mode="L").resize((size, size), Image.Resampling.BILINEAR)
    buf = io.BytesIO()
    img.convert("RGB").save(buf, format="PNG")
    return buf.getvalue()


def reconstruct_upload(ck: Any, png_bytes: bytes, reps: int = 30) -> dict[str, Any]:
    """The Reconstruct page's path: vae_core.preprocess_image(PNG bytes) +
    ui.inference.reconstruct; and the same + ui.figures.png at the page's scale."""
    def recon() -> np.ndarray:
        return reconstruct(ck, preprocess_image(png_bytes))[0]

    res = summary_ms(time_reps(recon, reps, warmup=2))
    with_png = summary_ms(time_reps(lambda: png(recon(), 8), reps, warmup=1))
    pre = summary_ms(time_reps(lambda: preprocess_image(png_bytes), reps, warmup=1))
    res.update(upload_bytes=len(png_bytes), preprocess_only=pre, with_png_output=with_png)
    return res


# --- cold start --------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str, timeout: float = 2.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read()
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return 0, b""


def cold_start(timeout: float = 60.0, app: str = "app.py") -> dict[str, Any]:
    """Seconds from launching `streamlit run` until health says ok and until / serves HTML."""
    port = free_port()
    env = dict(os.environ, STREAMLIT_BROWSER_GATHER_USAGE_STATS="false")
    cmd = [sys.executable, "-m", "streamlit", "run", app, "--server.headless", "true",
           "--server.port", str(port), "--server.address", "127.0.0.1"]
    base = f"http://127.0.0.1:{port}"
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    out: dict[str, Any] = {"port": port, "health_s": None, "first_html_s": None}
    try:
        while time.perf_counter() - t0 < timeout:
            if proc.poll() is not None:
                err = proc.stderr.read().decode(errors="replace")[-500:] if proc.stderr else ""
                out["error"] = f"streamlit exited with {proc.returncode}: {err}"
                return out
            status, body = _get(f"{base}/_stcore/health", 1.0)
            if status == 200 and body.strip() == b"ok":
                out["health_s"] = time.perf_counter() - t0
                break
            time.sleep(0.02)
        else:
            out["error"] = f"no healthy answer within {timeout:.0f} s"
            return out
        while time.perf_counter() - t0 < timeout:
            status, body = _get(f"{base}/", 5.0)
            if status == 200 and b"<html" in body.lower():
                out["first_html_s"] = time.perf_counter() - t0
                out["html_bytes"] = len(body)
                break
            time.sleep(0.02)
        else:
            out["error"] = f"no HTML within {timeout:.0f} s"
        return out
    finally:
        proc.terminate()  # our own child, by its handle
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        if proc.stderr:
            proc.stderr.close()


def run_all(data_dir: str | Path | None, reps_slider: int = 200, reps_manifold: int = 10,
            reps_encode: int = 5, reps_upload: int = 30, with_cold_start: bool = True,
            cold_start_runs: int = 1) -> dict[str, Any]:
    t = time.perf_counter()
    ck = load_model()
    model = ck.model
    load_s = time.perf_counter() - t
    test = load_split("mnist", False, data_dir)
    x = test.floats()
    torch.manual_seed(0)
    out: dict[str, Any] = {"checkpoint": CHECKPOINT_2D.name, "checkpoint_load_s": load_s,
                           "torch_threads": torch.get_num_threads()}
    out["slider_decode"] = slider_decode(ck, reps_slider)
    log(f"slider p50 {out['slider_decode']['p50_ms']:.2f} ms, p95 "
        f"{out['slider_decode']['p95_ms']:.2f} ms")
    out["manifold_40"] = manifold_png(ck, 40, reps_manifold)
    log(f"manifold 40x40 median {out['manifold_40']['median_ms']:.1f} ms")
    out["encode_test_set"] = encode_test_set(model, x, reps_encode)
    log(f"encode 10k median {out['encode_test_set']['median_ms']:.1f} ms")
    upload = upload_png(x[0, 0].numpy())
    out["reconstruct_upload"] = reconstruct_upload(ck, upload, reps_upload)
    log(f"reconstruct upload median {out['reconstruct_upload']['median_ms']:.1f} ms")
    if with_cold_start:
        runs = [cold_start() for _ in range(cold_start_runs)]
        ok = [r for r in runs if r.get("health_s") and r.get("first_html_s")]
        out["cold_start"] = {
            "runs": runs,
            "health_s": median([r["health_s"] for r in ok]) if ok else None,
            "first_html_s": median([r["first_html_s"] for r in ok]) if ok else None}
        log(f"cold start: health {out['cold_start']['health_s']}, HTML "
            f"{out['cold_start']['first_html_s']}")
    out["goals_ms"] = GOALS_MS
    out["goals_met"] = {
        "slider_p95": out["slider_decode"]["p95_ms"] <= GOALS_MS["slider_p95"],
        "manifold_40_median": out["manifold_40"]["median_ms"] <= GOALS_MS["manifold_40_median"],
        "encode_test_set_median":
            out["encode_test_set"]["median_ms"] <= GOALS_MS["encode_test_set_median"],
        "reconstruct_upload_median":
            out["reconstruct_upload"]["median_ms"] <= GOALS_MS["reconstruct_upload_median"],
    }
    return out
