"""AppTest of the guided tour on the home page (ui/tour.py), on every bundled model."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

from ui.state import BUNDLED_DIR, ENV_USER_DIR, MODEL_KEY
from ui.tour import STEPS
from vae_core import ModelConfig, TrainConfig, build_model, is_checkpoint, save_checkpoint

APP = str(Path(__file__).resolve().parents[1] / "app.py")
MODELS = sorted(p.name for p in BUNDLED_DIR.iterdir() if is_checkpoint(p))
TITLES = ["The encoder", "ε and the reparameterisation", "The KL term", "The decoder",
          "The manifold", "Holes in the latent space", "Conditional style", "Watch it learn"]


@pytest.fixture(autouse=True)
def no_user_models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_USER_DIR, str(tmp_path))


def home(model: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state[MODEL_KEY] = str(BUNDLED_DIR / model)
    return at.run()


def step_title(at: AppTest) -> str:
    head = next(m.value for m in at.markdown if m.value.startswith("**Guided tour"))
    return head.split(": ", 1)[1].rstrip("*")


@pytest.mark.parametrize("model", MODELS)
def test_tour_runs_end_to_end(model: str) -> None:
    at = home(model)
    assert not at.exception, [e.value for e in at.exception]
    assert at.button(key="tour_back").disabled
    seen = [step_title(at)]
    for _ in range(len(STEPS) - 1):
        at.button(key="tour_next").click().run()
        assert not at.exception, (model, seen[-1], [e.value for e in at.exception])
        seen.append(step_title(at))
    assert seen == TITLES
    assert at.button(key="tour_next").disabled
    at.button(key="tour_back").click().run()
    assert step_title(at) == TITLES[-2] and not at.exception


def test_steps_use_the_models_own_numbers() -> None:
    at = home("mnist-mlp-2d")
    text = " ".join(m.value for m in at.markdown)
    assert "2-D latent space" in text and "test digit #0 (a 7)" in text
    at.button(key="tour_next").click().run()
    at.button(key="tour_next").click().run()
    kl = next(m.value for m in at.markdown if "KL(q(z|x) ‖ N(0, I))" in m.value)
    assert "the test set's mean is 6.92" in kl
    at.number_input(key="home_digit").set_value(1)
    at.session_state["tour_step"] = 0
    at.run()
    assert "test digit #1 (a 2)" in " ".join(m.value for m in at.markdown)


def test_switch_to_the_conditional_model() -> None:
    at = home("mnist-mlp-2d")
    at.session_state["tour_step"] = TITLES.index("Conditional style")
    at.run()
    at.button(key="tour_switch_cvae").click().run()
    assert not at.exception
    assert at.session_state[MODEL_KEY] == str(BUNDLED_DIR / "mnist-cvae-2d")
    assert any("label is an input" in m.value for m in at.markdown)


def test_tour_on_a_1d_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    torch.manual_seed(0)
    save_checkpoint(tmp_path / "one-d", build_model(ModelConfig(hidden=[16], latent_dim=1)),
                    TrainConfig(epochs=1), {"epochs": 0})
    monkeypatch.setenv(ENV_USER_DIR, str(tmp_path))
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state[MODEL_KEY] = str(tmp_path / "one-d")
    at.run()
    for _ in range(len(STEPS) - 1):
        assert not at.exception, (step_title(at), [e.value for e in at.exception])
        at.button(key="tour_next").click().run()
    assert step_title(at) == TITLES[-1] and not at.exception
    assert any("has no training replay" in m.value for m in at.markdown)
