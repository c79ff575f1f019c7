"""AppTest of the Training replay page and the replay figures (ui/replay_figures.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from apptest_helpers import fill_form, stop_last_run, wait_until_idle
from streamlit.testing.v1 import AppTest

from ui.replay_figures import (_ellipses, cloud_extent, kl_dims_bars, posterior_clouds,
                               project_frame, replay_curves, replay_plane)
from ui.state import BUNDLED_DIR, ENV_USER_DIR, MODEL_KEY
from vae_core import REPLAY, ModelConfig, ReplayRecorder, TrainConfig, Trainer, load_replay

APP = str(Path(__file__).resolve().parents[1] / "app.py")
PAGE = "pages/replay.py"


@pytest.fixture(scope="module")
def user_models(tmp_path_factory, mnist_train, mnist_test, subset) -> Path:
    """A 3-D model trained for 2 epochs with a replay, a copy without it, one with a broken
    replay."""
    root = tmp_path_factory.mktemp("replay-models")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        Trainer(ModelConfig(hidden=[32], latent_dim=3), TrainConfig(epochs=2, batch_size=50,
                                                                    device="cpu"),
                subset(mnist_train, 500), subset(mnist_test, 300), out_dir=root / "tiny3d",
                callbacks=[ReplayRecorder(every=3, n_images=100)]).run()
    finally:
        torch.set_num_threads(threads)
    for name in ("no-replay", "broken-replay"):
        shutil.copytree(root / "tiny3d", root / name)
    (root / "no-replay" / REPLAY).unlink()
    (root / "broken-replay" / REPLAY).write_bytes(b"not a safetensors file")
    return root


@pytest.fixture
def models(user_models: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(ENV_USER_DIR, str(user_models))
    return user_models


def run_page(model: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state[MODEL_KEY] = model
    at.switch_page(PAGE)
    return at.run()


def chart_specs(at: AppTest) -> dict[str, str]:
    return {e.proto.id.split("-", 2)[-1]: e.proto.spec for e in at.main
            if getattr(e, "type", None) == "plotly_chart"}


def test_scrub_changes_the_figures(models: Path) -> None:
    at = run_page(str(models / "tiny3d"))
    assert not at.exception, [e.value for e in at.exception]
    slider = at.slider(key="rp_frame")
    n = len(load_replay(models / "tiny3d"))
    assert slider.max == n - 1 and slider.value == n - 1  # opens at the trained model
    before = chart_specs(at)
    assert len(before) == 3
    assert any("epoch 2.00 (end of the epoch)" in c.value for c in at.caption)
    slider.set_value(1).run()
    assert not at.exception
    after = chart_specs(at)
    assert len(after) == 3 and all(after[k] != before[k] for k in before)
    assert any(c.value.startswith("step 3 ·") for c in at.caption)


def test_play_advances_and_stops_at_the_end(models: Path) -> None:
    at = run_page(str(models / "tiny3d"))
    at.slider(key="rp_frame").set_value(0).run()
    at.button(key="rp_play").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state["rp_playing"] and at.slider(key="rp_frame").value > 0
    at.button(key="rp_play").click().run()  # pause
    assert not at.session_state["rp_playing"]
    frame = at.slider(key="rp_frame").value
    at.run()
    assert at.slider(key="rp_frame").value == frame


def test_model_without_replay_says_so(models: Path) -> None:
    at = run_page(str(models / "no-replay"))
    assert not at.exception
    assert any("has no training replay" in i.value for i in at.info)
    assert not [s for s in at.slider if s.key == "rp_frame"]


def test_broken_replay_is_an_error_not_a_crash(models: Path) -> None:
    at = run_page(str(models / "broken-replay"))
    assert not at.exception
    assert any("cannot be shown" in e.value and REPLAY in e.value for e in at.error)


def test_bundled_default_model_replays() -> None:
    at = run_page(str(BUNDLED_DIR / "mnist-mlp-2d"))
    assert not at.exception, [e.value for e in at.exception]
    assert at.slider(key="rp_frame").max >= 40


@pytest.mark.parametrize("name", ["mnist-conv-16d", "mnist-mlp-50d", "mnist-cvae-2d",
                                  "fashion-mlp-2d"])
def test_other_bundled_models_replay(name: str) -> None:
    """PCA planes (16-D, 50-D), style codes and another dataset's labels, on shipped files."""
    at = run_page(str(BUNDLED_DIR / name))
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    frames = len(load_replay(BUNDLED_DIR / name))
    assert at.slider(key="rp_frame").max == frames - 1
    specs = chart_specs(at)
    assert len(specs) >= 3, sorted(specs)  # clouds, curves, KL bars


# --- the pure figure builders ----------------------------------------------------------------
def test_figures_on_a_replay(user_models: Path) -> None:
    r = load_replay(user_models / "tiny3d")
    mean, dirs, titles = replay_plane(r)
    assert dirs.shape == (2, 3) and np.allclose(dirs @ dirs.T, np.eye(2), atol=1e-6)
    assert titles[0].startswith("PC1")
    xy, covs = project_frame(r, 0, mean, dirs)
    assert xy.shape == (100, 2) and covs.shape == (100, 2, 2)
    e = cloud_extent(r, mean, dirs)
    fig = posterior_clouds(xy, covs, r.labels, [str(i) for i in range(10)], e, titles)
    classes = len(np.unique(r.labels))
    assert len(fig.data) == 2 + 2 * classes
    assert fig.layout.xaxis.range == (-e, e)
    curves = replay_curves(r, 2)
    assert curves.layout.shapes[0].x0 == pytest.approx(float(r.epoch[2]))
    bars = kl_dims_bars(np.array([0.0, 1.0, 3.0]), 3.0)
    assert bars.data[0].marker.color[0] == "#bbbbbb" and bars.data[0].marker.color[2] != "#bbbbbb"


def test_ellipses_are_one_sigma() -> None:
    cov = np.array([[[4.0, 0.0], [0.0, 1.0]]])
    x, y = _ellipses(np.array([[1.0, -1.0]]), cov)
    pts = np.stack([x, y], 1)[:-1]  # the NaN break ends the polyline
    assert np.allclose((pts[:, 0] - 1) ** 2 / 4 + (pts[:, 1] + 1) ** 2, 1.0)


# --- the Train page: this session's run --------------------------------------------------------
@pytest.fixture
def train_env(mnist_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("VAE_DATA_DIR", str(mnist_dir))
    monkeypatch.setenv(ENV_USER_DIR, str(tmp_path))
    yield tmp_path
    stop_last_run()  # never leave a thread running into the next test


def test_train_page_replays_the_run_and_saves_it(train_env: Path) -> None:
    at = AppTest.from_file(APP, default_timeout=60)
    at.switch_page("pages/train.py")
    at.run()
    fill_form(at, epochs=2, limit=300)
    at.button(key="tr_start").click().run()
    assert not at.exception
    wait_until_idle(at)
    slider = at.slider(key="tr_replay_frame")
    assert slider.max >= 2  # start, epoch 1, epoch 2 at least
    before = chart_specs(at)
    slider.set_value(0).run()
    assert not at.exception
    assert chart_specs(at)["tr_replay_clouds"] != before["tr_replay_clouds"]
    at.text_input(key="tr_save_name").set_value("replayed")
    at.button(key="tr_save").click().run()
    assert not at.exception and not at.error
    r = load_replay(train_env / "replayed")
    assert r.epoch[-1] == 2 and r.epoch_end[-1] and len(r.index) == 500
