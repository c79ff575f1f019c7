"""Helpers shared by the AppTest files: the app and the bundled models, three ways to open a
page, what a page shows (images' captions, Plotly charts), a test digit as an upload, the Train
page's fill-and-wait, and a fresh process."""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from ui.keys import MODEL_KEY
from ui.state import BUNDLED_DIR, DEFAULT_MODEL
from ui.state import test_set as load_test_set

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
CVAE, MLP = "mnist-cvae-2d", "mnist-mlp-2d"  # names: open_page takes a name or a folder
# Folders of bundled models, for what takes a path (get_model, session state, the pickers).
BUNDLED = str(BUNDLED_DIR / DEFAULT_MODEL)
CVAE_DIR, MLP_DIR, CONV16, MLP50, UPLOAD, FASHION = (str(BUNDLED_DIR / n) for n in (
    CVAE, MLP, "mnist-conv-16d", "mnist-mlp-50d", "mnist-conv-upload", "fashion-mlp-2d"))


def open_page(page: str, model: str | None = None) -> AppTest:
    """Run the app (on bundled `model`, a name or a folder, if given) and switch to
    `pages/<page>.py`, with no exception."""
    at = AppTest.from_file(APP, default_timeout=120)
    if model:
        at.session_state[MODEL_KEY] = str(ROOT / "checkpoints" / model)
    at.run()
    at.switch_page(f"pages/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def run_page(page: str, model: str | None = None) -> AppTest:
    """Switch to `page` ("pages/<stem>.py") before the first run, on the model folder `model` if
    given, and run it once; the caller checks what it shows, exceptions included."""
    at = AppTest.from_file(APP, default_timeout=60)
    if model is not None:
        at.session_state[MODEL_KEY] = model
    at.switch_page(page)
    return at.run()


def open_whole_page(page: str, model: str) -> AppTest:
    """`pages/<page>.py` on the model folder `model`, run to its end: no exception, and no stop
    at the note for a conditional model."""
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state[MODEL_KEY] = model
    at.switch_page(f"pages/{page}.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not [i for i in at.info if "conditional VAE" in i.value], "the page stopped"
    return at


def digit_png(i: int = 0) -> bytes:
    """MNIST test digit `i` as a PNG file."""
    x, _, _ = load_test_set("mnist")
    buf = io.BytesIO()
    Image.fromarray((x[i] * 255).round().astype(np.uint8), mode="L").save(buf, format="PNG")
    return buf.getvalue()


def upload(at: AppTest, i: int) -> AppTest:
    """Upload test digit `i` on Reconstruct, with no exception or error."""
    at.file_uploader(key="reconstruct_upload").set_value(
        (f"digit{i}.png", digit_png(i), "image/png")).run()
    assert not at.exception and not at.error, [e.value for e in (*at.exception, *at.error)]
    return at


def captions(at: AppTest) -> list[str]:
    """The captions of every st.image on the page."""
    return [c for img in at.get("image") for c in img.captions]


def plotly_charts(at: AppTest) -> list:
    """The Plotly charts of the main area."""
    return [e for e in at.main if getattr(e, "type", None) == "plotly_chart"]


def figure_image(at: AppTest, key: str) -> np.ndarray:
    """The image drawn by the Plotly chart `key` (its go.Image's PNG source)."""
    found = [e for e in at.get("plotly_chart") if key in e.proto.id]
    assert len(found) == 1, [e.proto.id for e in at.get("plotly_chart")]
    src = json.loads(found[0].proto.spec)["data"][0]["source"]
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))))


def fill_form(at: AppTest, epochs: int, limit: int, hidden: str = "32") -> None:
    at.text_input(key="tr_hidden").set_value(hidden)
    at.number_input(key="tr_epochs").set_value(epochs)
    at.number_input(key="tr_limit").set_value(limit)
    at.number_input(key="tr_batch_size").set_value(100)


def wait_until_idle(at: AppTest, timeout: float = 120) -> None:
    """Rerun the page until the run is over (the Stop button is gone)."""
    end = time.time() + timeout
    while time.time() < end:
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        if not [b for b in at.button if b.key == "tr_stop"]:
            return
        time.sleep(0.5)
    pytest.fail("training did not finish in time")


def stop_last_run() -> None:
    """Stop the server's last training run and wait for its thread (test teardown)."""
    from ui.training import manager

    job = manager().job
    if job is not None and job.thread is not None:
        job.stop()
        job.thread.join(60)


def run_fresh(script: str, user_models: Path) -> dict:
    """Run `script` in a fresh Python process at the repository root (nothing imported yet, a
    temporary user-models folder) and return the JSON it prints last."""
    env = dict(os.environ, VAE_USER_MODELS_DIR=str(user_models))
    out = subprocess.run([sys.executable, "-c", script], cwd=Path(__file__).resolve().parents[1],
                         env=env, check=False, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])
