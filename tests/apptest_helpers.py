"""Helpers shared by the AppTest files: open a page on a bundled model, the Train page's
fill-and-wait, and a fresh process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ui.state import MODEL_KEY

ROOT = Path(__file__).resolve().parents[1]
CVAE, MLP = "mnist-cvae-2d", "mnist-mlp-2d"


def open_page(page: str, model: str) -> AppTest:
    """Run the app on bundled `model` and switch to `pages/<page>.py`, with no exception."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.session_state[MODEL_KEY] = str(ROOT / "checkpoints" / model)
    at.run()
    at.switch_page(f"pages/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


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
