"""AppTest of the guided tour on the home page (ui/tour.py), on every bundled model: each
step's claim is checked against the model's own numbers, and each step's "Open the full view"
link against the state the step shows (and, opened, against what the page then shows). Its
wording and pictures without a browser: the KL step's count of dimensions in words that fit
any count, the holes step on a model the digit classifier cannot read, the step-1 picture's
legend and the posterior chart's legend (it names what is drawn)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from ui.keys import MODEL_KEY
from ui import keys as K
from ui.derived import anatomy, prior_check
from ui.inference import decode
from ui.latent_map import class_legend, draw_codes, posterior_svg
from ui.prior_holes import HOLE_RATIO, PRIOR_RADIUS, SAMPLES, SURE, pct
from ui import state as app_state
from ui.state import BUNDLED_DIR, ENV_USER_DIR, get_model
from ui.tour import CVAE, STEPS, collapse_sentence
from vae_core import (ModelConfig, TrainConfig, build_model, classify, has_replay,
                      is_checkpoint, load_replay, save_checkpoint)

APP = str(Path(__file__).resolve().parents[2] / "app.py")
MODELS = sorted(p.name for p in BUNDLED_DIR.iterdir() if is_checkpoint(p))
TITLES = ["The encoder", "ε and the reparameterisation", "The KL term", "The decoder",
          "The manifold", "Holes in the latent space", "Conditional style", "Watch it learn"]
SEED = 1234  # the home page's seed of ε without a link


@pytest.fixture(autouse=True)
def no_user_models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_USER_DIR, str(tmp_path))


@dataclass
class Shown:
    """One step as the page shows it: its title, text, link and the captions on the page."""

    title: str
    text: str
    page: str  # the link's page (URL name)
    params: dict[str, str]
    says: str  # the link's words
    captions: list[str]


def home(model: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    at.session_state[MODEL_KEY] = str(BUNDLED_DIR / model)
    return at.run()


def step_title(at: AppTest) -> str:
    head = next(m.value for m in at.markdown if m.value.startswith("**Guided tour"))
    return head.split(": ", 1)[1].rstrip("*")


def shown(at: AppTest) -> Shown:
    i = next(i for i, m in enumerate(at.markdown) if m.value.startswith("**Guided tour"))
    link = next(p.proto for p in at.get("page_link") if p.proto.label.startswith("Open"))
    caps = [img.caption for el in at.get("image") for img in el.proto.imgs]
    return Shown(step_title(at), at.markdown[i + 1].value, link.page,
                 dict(parse_qsl(link.query_string)), link.label, caps)


def walk(model: str) -> tuple[AppTest, list[Shown]]:
    """Every step of the tour on `model`, Next after Next."""
    at = home(model)
    seen = []
    for i in range(len(STEPS)):
        assert not at.exception, (model, i, [e.value for e in at.exception])
        seen.append(shown(at))
        if i < len(STEPS) - 1:
            at.button(key="tour_next").click().run()
    return at, seen


def percent(pattern: str, text: str) -> float:
    m = re.search(pattern, text)
    assert m, (pattern, text)
    return float(m.group(1)) / 100


def nearest(z: np.ndarray, link_z: str) -> int:
    """The prior sample a link's z (rounded to 2 decimals) stands for."""
    want = np.array([float(v) for v in link_z.split(",")])
    i = int(np.abs(z - want).max(1).argmin())
    assert np.abs(z[i] - want).max() <= 0.005 + 1e-9
    return i


@pytest.mark.parametrize("model", MODELS)
def test_every_step_tells_the_models_own_numbers(model: str) -> None:
    at, seen = walk(model)
    assert [s.title for s in seen] == TITLES
    assert at.button(key="tour_next").disabled
    ck = get_model(str(BUNDLED_DIR / model))
    zdim, cond = ck.model_config.latent_dim, ck.model_config.conditional
    images, labels, classes = app_state.test_set(ck.train_config.dataset)
    cls = classes[labels[0]]
    y = int(labels[0]) if cond else None
    label = {"label": cls} if cond else {}
    enc, rep, kl, dec, man, holes, style, replay = seen
    for s in seen:
        assert s.params["model"] == (CVAE if s is style and not cond else model), s

    # 1: a 2-D model's Sliders map marks the digit's code; Scatter would not (it says so)
    if zdim <= 2:
        assert (enc.page, enc.params) == ("sliders", {"model": model, "digit": "0"} | label)
    else:
        assert enc.page == "scatter" and "not marked" in enc.says
    # 2 and 4: Generate with the very samples shown (same digit, count, seed, class)
    assert (rep.page, rep.params) == ("generate", {"model": model, "tab": "posterior",
                                                   "digit": "0", "n": "5", "seed": "1235"})
    assert (dec.page, dec.params) == ("generate", {"model": model, "tab": "prior", "n": "4",
                                                   "seed": str(SEED)} | label)
    # 3: the count of dimensions carrying information, in words that fit it
    used = int((anatomy(ck, images[0], SEED, y)["kl_dims"] > 0.05).sum())
    if used == zdim:
        assert "other" not in kl.text and ("Both dimensions carry" in kl.text if zdim == 2
                                           else f"All {zdim} dimensions carry" in kl.text)
    else:
        assert f"{used} of {zdim} dimensions carry" in kl.text and f"other {zdim - used}" \
            in kl.text
    assert (kl.page, kl.params) == ("compare", {"model": model, "kl": "on"})
    assert f"the test set's mean is {ck.metrics['test_kl']:.2f}" in kl.text
    # 5 and 4: a conditional model names the class it draws
    if cond:
        assert f"**{cls}**" in man.text and f"under class {cls}" in dec.text
        assert any(f"decoded as class {cls}" in c for c in man.captions), man.captions
    else:
        assert "class" not in man.text
    assert man.params == {"model": model, "grid": "10"} | label | (
        {"plane": "pca"} if zdim > 2 else {})
    # 6: holes, by a measure that means something for this latent size
    check = prior_check(ck, SAMPLES, y, read=zdim > 2)
    assert not re.search(r"100% of", holes.text) and holes.page == "sliders"
    i = nearest(check["z"], holes.params["z"])
    if zdim <= 2:
        gap = check["gap"]
        share = percent(r"([\d.]+)% of 2,000 codes drawn from the prior", holes.text)
        assert share == pytest.approx((gap > math.log(HOLE_RATIO)).mean(), abs=0.005)
        assert share < 0.5
        assert holes.params["holes"] == "on"  # the link opens in a hole the map shows
        assert gap[i] > math.log(HOLE_RATIO) and np.linalg.norm(check["z"][i]) <= PRIOR_RADIUS
    else:
        assert "land where" not in holes.text and "holes" not in holes.params
        sure = percent(r"reads (\d+)% of 2,000 prior samples", holes.text)
        assert sure == pytest.approx((check["sure"] >= SURE).mean(), abs=0.005)
        top = percent(r"surest of \((\d+)% on average\)", " ".join(holes.captions))
        bottom = percent(r"least sure of \((\d+)% on average\)", " ".join(holes.captions))
        assert bottom < top
        # the link opens at the sample read least surely: its decoding is no clear digit
        assert check["sure"][i] == check["sure"].min()
        _, p = classify(decode(ck, check["z"][i:i + 1], y))
        assert p.max() < SURE
    if cond:
        assert holes.params["label"] == cls and f"decoded as {cls}s" in holes.text
    # 7 and 8
    assert style.page == "manifold" and style.params["view"] == "style"
    if has_replay(ck.path):
        step = int(load_replay(ck.path, zdim).step[-1])
        assert (replay.page, replay.params) == ("replay", {"model": model, "step": str(step)})


def open_link(page: str, params: dict[str, str]) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=240)
    at.query_params.update(params)
    at.switch_page(f"pages/{page}.py")
    return at.run()


@pytest.mark.parametrize("model", ["mnist-cvae-2d", "mnist-mlp-50d"])
def test_each_full_view_opens_in_the_state_the_step_shows(model: str) -> None:
    _, seen = walk(model)
    for s in seen:
        at = open_link(s.page, s.params)
        assert not at.exception, (s.title, [e.value for e in at.exception])
        unfollowed = [w.value for w in at.warning if "could not be followed" in w.value]
        assert not unfollowed, (s.title, s.params, unfollowed)
        state = at.session_state
        if s.title == "The KL term":
            assert state[K.STATS_KEY] and at.get("plotly_chart")
        if s.title == "Holes in the latent space":
            z = state[K.SL_CODE]
            assert ",".join(f"{v:.2f}" for v in z) == s.params["z"].replace("-0.00", "0.00")
            holes_on = K.SL_HOLES in state and state[K.SL_HOLES]
            assert holes_on == ("holes" in s.params)
        if s.title == "The decoder":
            assert (state[K.GEN_PRIOR_N], state[K.GEN_PRIOR_SEED]) == (4, SEED)


def test_switch_to_the_conditional_model() -> None:
    at = home("mnist-mlp-2d")
    at.session_state["tour_step"] = TITLES.index("Conditional style")
    at.run()
    at.button(key="tour_switch_cvae").click().run()
    assert not at.exception
    assert at.session_state[MODEL_KEY] == str(BUNDLED_DIR / "mnist-cvae-2d")
    assert any("label is an input" in m.value for m in at.markdown)


def test_steps_follow_the_chosen_digit() -> None:
    at = home("mnist-mlp-2d")
    assert "test digit #0 (a 7)" in shown(at).text
    at.number_input(key="home_digit").set_value(1)
    at.run()
    s = shown(at)
    assert "test digit #1 (a 2)" in s.text and s.params["digit"] == "1"


def test_tour_on_a_1d_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    torch.manual_seed(0)
    save_checkpoint(tmp_path / "one-d", build_model(ModelConfig(hidden=[16], latent_dim=1)),
                    TrainConfig(epochs=1), {"epochs": 0})
    monkeypatch.setenv(ENV_USER_DIR, str(tmp_path))
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state[MODEL_KEY] = str(tmp_path / "one-d")
    at.run()
    seen = []
    for _ in range(len(STEPS)):
        assert not at.exception, (step_title(at), [e.value for e in at.exception])
        seen.append(shown(at))
        if len(seen) < len(STEPS):
            at.button(key="tour_next").click().run()
    assert seen[-1].title == TITLES[-1] and "has no training replay" in seen[-1].text
    kl, holes = seen[2].text, seen[5].text
    assert "Its one dimension carries" in kl or "No dimension carries" in kl
    assert "on the latent line" in holes


# --- the tour's wording and pictures -------------------------------------------------------
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
