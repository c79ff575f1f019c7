"""The tour's wording and pictures without a browser: the KL step's count of dimensions in
words that fit any count, the holes step on a model the digit classifier cannot read, the
step-1 picture's legend and the posterior chart's legend (it names what is drawn)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from ui.latent_map import class_legend, draw_codes, posterior_svg
from ui.prior_holes import pct
from ui.state import ENV_USER_DIR, MODEL_KEY
from ui.tour import collapse_sentence
from vae_core import ModelConfig, TrainConfig, build_model, save_checkpoint

APP = str(Path(__file__).resolve().parents[2] / "app.py")


@pytest.mark.parametrize("kl,says,never", [
    ([1.0, 2.0], "Both dimensions carry", "other"),  # no "others" on a 2-D model
    ([1.0, 0.0], "1 of 2 dimensions carry more than 0.05 nats; the other one sits", "others"),
    ([0.0], "No dimension carries", "other"),
    ([3.0], "Its one dimension carries", "other"),
    ([1.0] * 50, "All 50 dimensions carry", "other"),
    ([1.0] * 22 + [0.01] * 28, "22 of 50 dimensions carry more than 0.05 nats; the other 28 "
                               "sit on the prior", "2 of 2"),
])
def test_the_kl_step_counts_dimensions_in_fitting_words(kl: list, says: str,
                                                        never: str) -> None:
    text = collapse_sentence(np.array(kl))
    assert says in text and never not in text, text


def test_shares_are_written_with_a_decimal_only_when_small() -> None:
    assert [pct(x) for x in (0.006, 0.0, 0.22, 0.993, 1.0)] == ["0.6%", "0%", "22%", "99%",
                                                               "100%"]


def test_the_step_1_picture_has_a_legend_of_classes_and_the_red_ring() -> None:
    rng = np.random.default_rng(0)
    xy, labels = rng.normal(size=(200, 2)), rng.integers(0, 10, 200)
    bare = draw_codes(xy, labels, np.zeros(2), np.eye(2) * 0.01)
    legend = draw_codes(xy, labels, np.zeros(2), np.eye(2) * 0.01,
                        classes=tuple(str(i) for i in range(10)), mark="#0's cloud (1σ)")
    strip = class_legend(tuple(str(i) for i in range(10)), bare.shape[1], "#0's cloud (1σ)")
    assert legend.shape[1] == bare.shape[1]
    assert legend.shape[0] == bare.shape[0] + strip.shape[0]
    assert np.array_equal(legend[bare.shape[0]:], strip)
    assert strip.shape[0] == class_legend(tuple("0123456789"), bare.shape[1]).shape[0] + 20
    ring = (strip == [0xE0, 0x00, 0x2A]).all(-1)  # the red ring's colour (#e0002a)
    assert ring[-20:].any() and not ring[:-20].any()  # its entry is the last row


def test_the_posterior_legend_names_each_mark_as_drawn() -> None:
    svg = posterior_svg(np.array([1.5, -0.4]), np.array([0.05, 0.8]), np.array([1.52, 0.1]))
    assert "μ (bar from 0)" in svg and "μ ± σ" in svg and "z = μ + σ·ε" in svg
    assert "μ ± σ</text>" in svg and ">μ ± σ" in svg
    # every diamond is hollow, so the whisker under it shows; each whisker has two caps
    diamonds = re.findall(r'<path d="M[^"]+ z" ([^/]+)/>', svg)
    assert len(diamonds) == 3 and all('fill="none"' in d for d in diamonds)
    assert svg.count('stroke="#08519c"') == 3 * 3  # 2 dimensions + the legend: line + caps


def test_holes_on_a_model_the_classifier_cannot_read(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    torch.manual_seed(0)
    save_checkpoint(tmp_path / "fashion-8d", build_model(ModelConfig(hidden=[16],
                                                                     latent_dim=8)),
                    TrainConfig(epochs=1, dataset="fashion-mnist"), {"epochs": 0})
    monkeypatch.setenv(ENV_USER_DIR, str(tmp_path))
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state[MODEL_KEY] = str(tmp_path / "fashion-8d")
    at.session_state["tour_step"] = 5
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    text = " ".join(m.value for m in at.markdown)
    assert "reference classifier reads only digits" in text
    assert "holes are not measured" in text and "% of 2,000 codes drawn" not in text
    link = next(p.proto for p in at.get("page_link") if p.proto.label.startswith("Open"))
    assert link.page == "sliders" and "holes=" not in link.query_string
