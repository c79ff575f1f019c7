"""AppTest for the Home, Train, Latent sliders and Manifold pages (the app as `streamlit run`
would run it: app.py's st.navigation, then a switch to the page).

Images are checked by their bytes: a recorder on the in-memory media store maps each st.image
URL back to the PNG it served, so "the slider changed the image" compares decoded pixels.
"""

from __future__ import annotations

import io
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from latent_pad_helpers import pad, pad_data, release
from PIL import Image
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

from ui.latent_map import latent_to_px, px_to_latent
from apptest_helpers import fill_form, wait_until_idle
from ui.state import MODEL_KEY
from vae_core import ModelConfig, TrainConfig, build_model, load_checkpoint, save_checkpoint

APP = str(Path(__file__).resolve().parents[2] / "app.py")
BUNDLED = str(Path(__file__).resolve().parents[2] / "checkpoints" / "mnist-mlp-2d")


@pytest.fixture
def media(monkeypatch: pytest.MonkeyPatch) -> dict[str, bytes]:
    """file id -> bytes of every media file the app registers during the test."""
    seen: dict[str, bytes] = {}
    original = MemoryMediaFileStorage.load_and_get_id

    def recording(self, path_or_data, mimetype, kind, filename=None):
        file_id = original(self, path_or_data, mimetype, kind, filename)
        if isinstance(path_or_data, bytes):
            seen[file_id] = path_or_data
        return file_id

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", recording)
    return seen


@pytest.fixture
def user_models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "user-models"
    monkeypatch.setenv("VAE_USER_MODELS_DIR", str(d))
    return d


def pixels(media: dict[str, bytes], url: str) -> np.ndarray:
    file_id = url.rsplit("/", 1)[-1].split(".")[0]
    return np.asarray(Image.open(io.BytesIO(media[file_id])).convert("L"), dtype=np.int16)


def open_page(page: str, model: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    if model:
        at.session_state[MODEL_KEY] = model
    at.run()
    at.switch_page(f"pages/{page}.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.fixture
def tiny4(user_models: Path) -> str:
    """An untrained 4-D latent model saved as a user model (exercises the >2-D branches)."""
    torch.manual_seed(0)
    cfg = ModelConfig(latent_dim=4, hidden=[32])
    path = user_models / "tiny4"
    save_checkpoint(path, build_model(cfg), TrainConfig(epochs=1), {"epochs": 0})
    return str(path)


@pytest.fixture
def tiny1(user_models: Path) -> str:
    """An untrained 1-D Gaussian-decoder model trained 'on' binarized digits (odd corners)."""
    torch.manual_seed(0)
    cfg = ModelConfig(latent_dim=1, hidden=[16], likelihood="gaussian", gaussian_var=0.1)
    path = user_models / "tiny1"
    save_checkpoint(path, build_model(cfg), TrainConfig(epochs=1, binarize="static"),
                    {"epochs": 0})
    return str(path)


@pytest.mark.parametrize("page", ["home", "sliders", "manifold"])
def test_pages_render_for_a_1d_gaussian_binarized_model(tiny1: str, page: str) -> None:
    at = open_page(page, tiny1)
    assert (at.image or pad(at)) and not at.error


# --- Home ------------------------------------------------------------------------------------
def test_home_renders_and_follows_the_digit(media: dict[str, bytes]) -> None:
    at = open_page("home")
    assert [m.label for m in at.main.metric] == ["reconstruction −log p(x|z)",
                                                 "KL(q(z|x) ‖ p(z))", "−ELBO"]
    recon, kl, total = (float(m.value) for m in at.main.metric)
    assert recon > 0 and kl > 0 and total == pytest.approx(recon + kl, abs=0.02)
    assert len(at.get("latex")) >= 3
    before = [i.value[0] for i in at.image]
    at.number_input(key="home_digit").set_value(7).run()
    assert not at.exception
    assert [i.value[0] for i in at.image] != before
    at.number_input(key="home_seed").set_value(5).run()  # a new eps: new reconstruction term
    assert not at.exception
    assert float(at.main.metric[0].value) != recon


# --- Latent sliders --------------------------------------------------------------------------
def test_sliders_move_the_decoded_image(media: dict[str, bytes],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The server-side fallback (for decoders the latent pad cannot export)."""
    import ui.latent_pad

    monkeypatch.setattr(ui.latent_pad, "unavailable", lambda ck: "a test says so")
    at = open_page("sliders")
    assert [s.key for s in at.slider] == ["z_0", "z_1"]
    img0 = pixels(media, at.image[0].value[0])
    at.slider(key="z_0").set_value(2.0).run()
    assert not at.exception
    img1 = pixels(media, at.image[0].value[0])
    assert img1.shape == img0.shape == (28 * 8, 28 * 8)
    assert np.abs(img1 - img0).mean() > 1.0  # the digit changed, not just a pixel
    # ... and it is exactly the decoder's image at (2, 0), enlarged 8x.
    model = load_checkpoint(BUNDLED).model
    with torch.no_grad():
        want = model.decode(torch.tensor([[2.0, 0.0]]))[0, 0].numpy()
    assert np.abs(img1[::8, ::8] - np.round(want * 255)).max() <= 1


def test_slider_buttons_set_values_before_the_sliders() -> None:
    at = open_page("sliders")
    at.button(key="sl_random").click().run()
    z = pad_data(at)["z"]
    assert any(v != 0 for v in z) and not at.exception
    at.button(key="sl_random").click().run()  # the next seed: a different draw
    assert pad_data(at)["z"] != z
    at.button(key="sl_reset").click().run()
    assert pad_data(at)["z"] == [0.0, 0.0]
    at.number_input(key="sl_digit").set_value(3)
    at.button(key="sl_from_digit").click().run()
    assert not at.exception
    z = pad_data(at)["z"]
    assert any(v != 0 for v in z)
    assert max(abs(v) for v in z) <= at.number_input(key="sl_range").value


def test_sliders_range_grows_to_fit_and_many_dims(tiny4: str) -> None:
    at = open_page("sliders", tiny4)
    assert [d.split(" ")[0] for d in pad_data(at)["dims"]] == [f"z{i}" for i in range(4)]
    at.number_input(key="sl_range").set_value(1.0).run()
    assert not at.exception
    assert pad_data(at)["range"] == 1.0


def test_map_pixel_latent_round_trip() -> None:
    e, size = 3.2, 420
    for x, y in [(0.0, 0.0), (-3.0, 2.5), (1.7, -0.4)]:
        px, py = latent_to_px(x, y, e, size)
        assert px_to_latent(px, py, e, size, size) == pytest.approx((x, y))
    assert px_to_latent(0, 0, e, size, size) == pytest.approx((-e, e))  # top-left corner


# --- Manifold --------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [5, 40])
def test_manifold_sizes(n: int) -> None:
    at = open_page("manifold")
    at.slider(key="mf_n").set_value(n).run()
    assert not at.exception
    assert len(at.get("plotly_chart")) == 1
    assert [b.key for b in at.get("download_button")
            if b.key != "ckpt_download"] == ["mf_download"]  # the sidebar has one of its own
    at.radio(key="mf_spacing").set_value("quantile").run()
    assert not at.exception


def test_manifold_higher_dims_axes_and_pca(tiny4: str) -> None:
    at = open_page("manifold", tiny4)
    assert at.radio(key="mf_plane").value == "axes"
    at.selectbox(key="mf_dy").set_value(3).run()
    assert not at.exception
    assert {s.key for s in at.slider} >= {"mf_base_1", "mf_base_2"}
    at.slider(key="mf_base_1").set_value(1.0).run()
    assert not at.exception
    at.selectbox(key="mf_dy").set_value(0).run()  # same as the x dimension
    assert at.info and not at.exception
    at.radio(key="mf_plane").set_value("pca").run()
    assert not at.exception and len(at.get("plotly_chart")) == 1


# --- Train -----------------------------------------------------------------------------------
@pytest.fixture
def train_env(mnist_dir: Path, user_models: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("VAE_DATA_DIR", str(mnist_dir))
    yield user_models
    from ui.training import manager

    job = manager().job  # never leave a thread running into the next test
    if job is not None and job.thread is not None:
        job.stop()
        job.thread.join(60)


def test_train_one_epoch_then_save_as(train_env: Path) -> None:
    at = open_page("train")
    fill_form(at, epochs=1, limit=300)
    at.button(key="tr_start").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    wait_until_idle(at)
    assert any("Finished: 1 epoch" in s.value for s in at.success), [s.value for s in at.success]
    assert at.text_input(key="tr_save_name").value  # a suggested name

    for bad in ["../evil", "mnist-mlp-2d", "con"]:  # path trick, bundled name, reserved name
        at.text_input(key="tr_save_name").set_value(bad)
        at.button(key="tr_save").click().run()
        assert not at.exception
        assert any("Not saved" in e.value for e in at.error), bad
    assert not any(train_env.glob("*evil*"))

    at.text_input(key="tr_save_name").set_value("my-first-vae")
    at.button(key="tr_save").click().run()
    assert not at.exception and not at.error
    dest = train_env / "my-first-vae"
    assert sorted(p.name for p in dest.iterdir()) == ["config.json", "metrics.json",
                                                     "model.safetensors", "replay.safetensors"]
    assert at.session_state[MODEL_KEY] == str(dest)
    picker = at.sidebar.selectbox(key=MODEL_KEY)
    assert str(dest) in picker.options or "my-first-vae (yours)" in picker.options
    assert picker.value == str(dest)
    assert load_checkpoint(dest).metrics["epochs"] == 1
    at.switch_page("pages/sliders.py").run()  # the new model drives the other pages
    assert not at.exception and pad(at)


def test_second_start_is_refused_and_stop_keeps_epochs(train_env: Path) -> None:
    at = open_page("train")
    fill_form(at, epochs=200, limit=500, hidden="16")
    at.button(key="tr_start").click().run()
    assert not at.exception and [b for b in at.button if b.key == "tr_stop"]
    at.button(key="tr_start").click().run()
    assert any("already in progress" in w.value for w in at.warning)
    other = open_page("train")  # another session of the same server is refused too
    fill_form(other, epochs=1, limit=100)
    other.button(key="tr_start").click().run()
    assert any("already in progress" in w.value for w in other.warning)
    manifold = open_page("manifold")  # other pages stay usable meanwhile
    assert len(manifold.get("plotly_chart")) == 1

    from ui.training import manager

    end = time.time() + 60
    while not manager().job.progress.snapshot()["history"] and time.time() < end:
        time.sleep(0.2)  # let one epoch complete
    at.button(key="tr_stop").click().run()
    wait_until_idle(at)
    assert any("Stopped" in i.value and "kept" in i.value for i in at.info)
    assert at.text_input(key="tr_save_name")  # a stopped run with >= 1 epoch can be saved


def test_missing_training_data_is_an_error(user_models: Path, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAE_DATA_DIR", str(tmp_path / "nowhere"))
    at = open_page("train")
    fill_form(at, epochs=1, limit=100)
    at.button(key="tr_start").click().run()
    assert not at.exception
    assert any("VAE_DATA_DIR" in e.value for e in at.error)


def test_invalid_settings_are_an_error(user_models: Path) -> None:
    at = open_page("train")
    at.text_input(key="tr_hidden").set_value("512, many")
    at.button(key="tr_start").click().run()
    assert not at.exception
    assert any("not valid" in e.value for e in at.error)


def test_diverged_run_shows_its_error(train_env: Path) -> None:
    at = open_page("train")
    fill_form(at, epochs=2, limit=500, hidden="16")
    at.selectbox(key="tr_optimizer").set_value("sgd")
    at.number_input(key="tr_lr").set_value(10.0)
    at.button(key="tr_start").click().run()
    wait_until_idle(at)
    assert any("training stopped" in e.value for e in at.error), [e.value for e in at.error]
    assert not [w for w in at.text_input if w.key == "tr_save_name"]  # no epoch: nothing to save


def test_slider_values_survive_a_visit_to_another_page() -> None:
    at = open_page("sliders")
    release(at, [0.0, -1.5])
    at.switch_page("pages/manifold.py").run()
    at.switch_page("pages/sliders.py").run()
    assert not at.exception
    assert pad_data(at)["z"] == [0.0, -1.5]


def test_active_model_survives_a_page_switch(tiny4: str) -> None:
    at = open_page("home")
    at.sidebar.selectbox(key=MODEL_KEY).set_value(tiny4).run()
    at.switch_page("pages/sliders.py").run()
    assert at.session_state[MODEL_KEY] == tiny4


# --- issue 18: polish (round manifold ticks, readable training charts, offline favicon,
# --- the dataset's own nouns) -------------------------------------------------------------
FASHION = str(Path(BUNDLED).parent / "fashion-mlp-2d")


@pytest.mark.parametrize("spacing,lim", [("linear", 3.0), ("linear", 2.5), ("quantile", 3.0),
                                         ("linear", 0.3)])
def test_manifold_ticks_are_round_and_cover_both_ends(spacing: str, lim: float) -> None:
    """The ticks read −2.37, 0.16 ... with the last tile unlabelled; now round values placed
    at their true positions, the outermost within one tick step of each edge."""
    from ui.latent_map import manifold_figure
    from vae_core import grid_values

    n = 20
    vals = grid_values(n, spacing, lim).numpy()
    fig = manifold_figure(np.zeros((28 * n, 28 * n)), vals, "z0", "z1")
    xs = np.array(fig.layout.xaxis.tickvals)
    ticks = np.array([float(t.replace("\u2212", "-")) for t in fig.layout.xaxis.ticktext])
    step = np.diff(ticks)
    assert len(ticks) >= 4 and np.allclose(step, step[0])
    assert np.allclose(ticks / step[0], np.round(ticks / step[0]))  # multiples of the step
    assert round(step[0] / 10 ** np.floor(np.log10(step[0])), 6) in (1, 2, 5)  # 1-2-5 steps
    # Positions: a tick at a tile's value sits on that tile's centre; both ends labelled.
    centre = 28 * np.arange(n) + 13.5
    for t, x in zip(ticks, xs, strict=True):
        j = np.flatnonzero(np.isclose(vals, t))
        if len(j):
            assert x == pytest.approx(centre[j[0]])
    assert xs.min() - (-0.5) < 28 * n * step[0] / (vals[-1] - vals[0]) + 28
    assert (28 * n - 0.5) - xs.max() < 28 * n * step[0] / (vals[-1] - vals[0]) + 28
    assert 0 <= xs.min() and xs.max() <= 28 * n
    # The y axis mirrors x (+y at the top), with the same labels.
    assert list(fig.layout.yaxis.ticktext) == list(fig.layout.xaxis.ticktext)
    assert np.allclose(np.array(fig.layout.yaxis.tickvals), 28 * n - 1 - xs)


def test_nice_ticks_and_labels() -> None:
    from ui.figures import nice_ticks, tick_text

    assert tick_text(nice_ticks(-3, 3)) == ["−3", "−2", "−1", "0", "1", "2", "3"]
    assert tick_text(nice_ticks(-1.645, 1.645)) == ["−1.5", "−1", "−0.5", "0", "0.5", "1",
                                                    "1.5"]
    assert list(nice_ticks(-10, 10)) == [-10, -5, 0, 5, 10]
    assert list(nice_ticks(2.0, 2.0)) == [2.0]


def fake_training_snapshot(epochs: int = 3, spe: int = 200) -> dict:
    """Steps whose first loss is ~4x the rest (as in every real run), per-epoch history."""
    rng = np.random.default_rng(0)
    steps = []
    for g in range(epochs * spe):
        loss = 150 + 450 * np.exp(-g / 10) + rng.normal(0, 3)
        kl = 5 + 10 * np.exp(-g / 5) + rng.normal(0, 0.2)
        steps.append({"global_step": g, "loss": loss, "recon": loss - kl, "kl": kl})
    hist = [{"epoch": e, "train_loss": 160.0 - e, "train_recon": 154.0 - e,
             "train_kl": 6.0 + e / 10, "test_loss": 158.0 - e, "test_recon": 152.0 - e,
             "test_kl": 6.1 + e / 10} for e in range(1, epochs + 1)]
    return {"steps": steps, "steps_per_epoch": spe, "history": hist}


def test_training_chart_is_readable_after_the_first_steps() -> None:
    """The per-step chart was scaled to the first-step spike and the KL axis had ticks such as
    7.92 and 6.14 (synced to the left axis's grid)."""
    from ui.training_figures import training_figure

    snap = fake_training_snapshot()
    fig = training_figure(snap)
    later = [s for s in snap["steps"] if s["global_step"] >= 40]
    lo, hi = fig.layout.yaxis.range  # per-step loss / recon axis
    assert hi < snap["steps"][0]["loss"] / 2  # the spike is off the scale...
    assert hi >= np.percentile([s["loss"] for s in later], 99)  # ...the rest is not
    assert lo <= np.percentile([s["recon"] for s in later], 1)
    klo, khi = fig.layout.yaxis2.range
    assert khi < snap["steps"][0]["kl"] and klo <= np.percentile([s["kl"] for s in later], 1)
    for axis in (fig.layout.yaxis2, fig.layout.yaxis4):  # the KL axes
        assert axis.tickmode == "auto" and axis.nticks
    # Too few steps to tell the spike from the rest: Plotly's own range.
    early = training_figure({**snap, "steps": snap["steps"][:3]})
    assert early.layout.yaxis.range is None


def test_favicon_is_a_file_in_the_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    """A ':material/...' page icon is fetched from fonts.gstatic.com and fails offline."""
    import streamlit as st

    seen: dict = {}
    real = st.set_page_config

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(st, "set_page_config", spy)
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    icon = Path(str(seen["page_icon"]))
    assert icon.is_file() and icon.resolve().is_relative_to(Path(APP).resolve().parent)
    with Image.open(icon) as im:
        assert im.format == "PNG" and im.size[0] == im.size[1] >= 32


def test_home_speaks_of_items_for_fashion_mnist() -> None:
    """'x: a Ankle boot' and 'Test digit #' on a Fashion-MNIST model (issue 18)."""
    at = open_page("home", FASHION)
    assert at.number_input(key="home_digit").label == "Test item #"
    captions = [c for img in at.image for c in img.captions]
    assert any(c.startswith("x: an ankle boot,") for c in captions), captions  # test #0
    text = " ".join([m.value for m in at.markdown] + [c.value for c in at.caption]
                    + [h.value for h in at.subheader])
    assert "digit" not in text
    at.number_input(key="home_digit").set_value(1).run()  # a pullover
    assert any(c.startswith("x: a pullover,") for c in (c for i in at.image for c in i.captions))


def test_with_article_and_item_noun() -> None:
    from ui.wording import item_noun, with_article

    assert [with_article(c) for c in ("7", "8", "11", "18", "80", "T-shirt/top", "Ankle boot",
                                      "Bag")] == \
        ["a 7", "an 8", "an 11", "an 18", "an 80", "a T-shirt/top", "an ankle boot", "a bag"]
    assert item_noun("mnist") == "digit" and item_noun("fashion-mnist", plural=True) == "items"
    assert item_noun("folder") == "image"
