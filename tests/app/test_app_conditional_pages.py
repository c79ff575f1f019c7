"""AppTest for Reconstruct, Latent scatter, Compare and Generate with a conditional model
(issue 17) and the classifier's readings on Reconstruct (issue 16): "your digit in every
class", style codes, conditional models beside unconditional ones, samples of a chosen class.
Unconditional models keep their pages (no class picker; the rest is in
test_app_scatter_reconstruct_generate.py).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from streamlit.testing.v1 import AppTest

from ui import classes, generation
from ui.state import BUNDLED_DIR, ENV_USER_DIR, MODEL_KEY, get_model
from ui.state import test_set as load_test_set
from vae_core import (CheckpointError, ModelConfig, TrainConfig, build_model, classify,
                      read_digit, save_checkpoint)

APP = str(Path(__file__).resolve().parents[2] / "app.py")
CVAE, MLP, CONV16, UPLOAD = (str(BUNDLED_DIR / n) for n in (
    "mnist-cvae-2d", "mnist-mlp-2d", "mnist-conv-16d", "mnist-conv-upload"))


@pytest.fixture(autouse=True)
def empty_user_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(ENV_USER_DIR, str(tmp_path))
    return tmp_path


def run_page(page: str, model: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state[MODEL_KEY] = model
    at.switch_page(f"pages/{page}.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not [i for i in at.info if "conditional VAE" in i.value], "the page stopped"
    return at


def digit_png(i: int) -> bytes:
    x, _, _ = load_test_set("mnist")
    buf = io.BytesIO()
    Image.fromarray((x[i] * 255).round().astype(np.uint8), mode="L").save(buf, format="PNG")
    return buf.getvalue()


def upload(at: AppTest, i: int) -> AppTest:
    at.file_uploader(key="reconstruct_upload").set_value(
        (f"digit{i}.png", digit_png(i), "image/png")).run()
    assert not at.exception and not at.error, [e.value for e in (*at.exception, *at.error)]
    return at


def captions(at: AppTest) -> list[str]:
    return [c for img in at.get("image") for c in img.captions]


def grid_rows(at: AppTest, key: str) -> list[str]:
    """The row labels of the Plotly grid `key` (ui.figures.grid_figure)."""
    found = [e for e in at.get("plotly_chart") if key in e.proto.id]
    assert len(found) == 1, [e.proto.id for e in at.get("plotly_chart")]
    return json.loads(found[0].proto.spec)["layout"]["yaxis"]["ticktext"]


# --- Reconstruct -----------------------------------------------------------------------------
def test_reconstruct_your_digit_in_every_class() -> None:
    at = upload(run_page("reconstruct", CVAE), 0)  # test digit 0 is a 7
    picker = at.selectbox(key="reconstruct_label")
    assert picker.value == 7, "the classifier's reading is the suggested label"
    assert any("reads your digit as **7**" in c.value for c in at.caption)
    caps = captions(at)
    assert any(c.startswith("your digit") and "reads 7" in c for c in caps)
    assert any(c.startswith("reconstruction") and "as 7" in c and "reads 7" in c for c in caps)
    every = [c for c in caps if c.startswith("as ")]
    assert [c.split(" ·")[0] for c in every] == [f"as {k}" for k in range(10)]
    # the same style decoded under every label: the classifier reads nearly all as that label
    assert sum(c.startswith(f"as {k} · reads {k} ") for k, c in enumerate(every)) >= 9, every
    assert any("in every class" in s.value for s in at.subheader)
    assert any("label has left z" in c.value for c in at.caption)
    metrics = {m.label: m.value for m in at.metric}
    assert np.isfinite(float(metrics["−ELBO (nats)"]))

    picker.set_value(3).run()  # the user overrides the suggestion ...
    assert not at.exception
    assert any(c.startswith("reconstruction") and "as 3" in c for c in captions(at))
    at.run()
    assert at.selectbox(key="reconstruct_label").value == 3, "... and it sticks"
    upload(at, 1)  # a new image (a 2) gets its own suggestion
    assert at.selectbox(key="reconstruct_label").value == 2


def test_reconstruct_shows_the_upload_model_beside_a_2d_model() -> None:
    at = upload(run_page("reconstruct", MLP), 0)
    assert not [s for s in at.selectbox if s.key == "reconstruct_label"], "no class picker"
    caps = captions(at)
    assert any(c.startswith("reconstruction") and " · reads " in c for c in caps), caps
    assert any(c.startswith("mnist-conv-upload") and "reads 7" in c for c in caps), caps
    assert not [c for c in caps if c.startswith("as ")]
    assert len([e for e in at.main if getattr(e, "type", None) == "plotly_chart"]) == 2


@pytest.mark.parametrize("model", [CONV16, UPLOAD])
def test_reconstruct_shows_no_upload_model_beside_a_large_latent(model: str) -> None:
    at = upload(run_page("reconstruct", model), 3)
    caps = captions(at)
    assert not [c for c in caps if c.startswith("mnist-conv-upload")], caps
    assert any(c.startswith("reconstruction") and " · reads " in c for c in caps), caps


def test_reconstruct_without_the_classifier_goes_on_without_readings(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A missing or damaged classifier costs the readings, not the page."""
    import ui.readings

    def broken(*_: object) -> None:
        raise CheckpointError("classifier.safetensors is missing")

    monkeypatch.setattr(ui.readings, "read_digit", broken)
    at = upload(run_page("reconstruct", CVAE), 0)
    assert at.selectbox(key="reconstruct_label").value == 0, "no suggestion: the first class"
    assert any("Pick the class of your digit" in c.value for c in at.caption)
    caps = captions(at)
    assert len([c for c in caps if c.startswith("as ")]) == 10
    assert all("no classifier reading" in c for c in caps if c.startswith(("as ", "recon")))


def test_reconstruct_conditional_drawing_waits_for_ink() -> None:
    at = run_page("reconstruct", CVAE)
    at.radio(key="reconstruct_source").set_value("Draw a digit").run()
    assert not at.exception
    assert any("Draw a digit" in i.value for i in at.info)


# --- Latent scatter --------------------------------------------------------------------------
def test_scatter_shows_style_codes_without_an_underlay() -> None:
    at = run_page("scatter", CVAE)
    assert any("label has left z" in c.value for c in at.caption)
    chart = [e for e in at.get("plotly_chart") if "scatter_chart" in e.proto.id][0]
    layout = json.loads(chart.proto.spec)["layout"]
    assert not layout.get("images"), "a conditional model's plane has no single manifold"
    assert at.download_button, "the codes CSV is offered"
    at.slider(key="scatter_n").set_value(1000).run()
    assert not at.exception


def test_scatter_of_an_unconditional_model_is_unchanged() -> None:
    at = run_page("scatter", MLP)
    assert not [c for c in at.caption if "conditional" in c.value]
    chart = [e for e in at.get("plotly_chart") if "scatter_chart" in e.proto.id][0]
    assert json.loads(chart.proto.spec)["layout"]["images"], "the manifold underlay is there"


# --- Compare ---------------------------------------------------------------------------------
def test_compare_conditional_beside_unconditional() -> None:
    at = run_page("compare", CVAE)
    at.multiselect(key="compare_models").set_value([CVAE, MLP]).run()
    assert not at.exception and not at.error
    assert any("true label" in c.value for c in at.caption)
    assert any("−log p(x | y)" in w.value for w in at.warning)
    setups = at.dataframe[1].value
    assert setups.loc["mnist-cvae-2d", "arch"] == "mlp (conditional)"
    assert setups.loc["mnist-mlp-2d", "arch"] == "mlp"
    at.selectbox(key="compare_class").set_value(4).run()
    assert not at.exception
    assert any("draw class 4" in c.value for c in at.caption)
    assert any("class 4" in c.value for c in at.caption if "grid" in c.value)
    at.button(key="compare_stats_button").click().run()
    assert not at.exception
    assert at.dataframe[0].value.loc["mnist-cvae-2d", "active units"].endswith("/2")


def test_compare_of_unconditional_models_has_no_class_picker() -> None:
    at = run_page("compare", MLP)
    at.multiselect(key="compare_models").set_value([MLP, CONV16]).run()
    assert not at.exception and not at.error
    assert not at.main.selectbox
    assert not [w for w in at.warning if "conditional" in w.value]
    assert "(conditional)" not in " ".join(at.dataframe[1].value["arch"])


# --- Generate --------------------------------------------------------------------------------
def test_generate_all_classes_then_one_class() -> None:
    at = run_page("generate", CVAE)
    assert at.selectbox(key="gen_class").value == classes.ALL
    assert grid_rows(at, "gen_prior_classes") == [f"class {k}" for k in range(10)]
    assert at.number_input(key="gen_prior_n").disabled
    assert any("Pick a class above" in i.value for i in at.info), "traversal needs a class"
    at.selectbox(key="gen_class").set_value(3).run()
    assert not at.exception
    assert any(c == "48 prior samples of class 3, seed 0" for c in captions(at))
    assert grid_rows(at, "gen_trav_grid") == ["z0", "z1"]
    assert not [i for i in at.info if "Pick a class" in i.value]


def test_generate_conditional_interpolation_and_traversal_around_a_digit() -> None:
    at = run_page("generate", CVAE)
    at.radio(key="gen_trav_around").set_value("a test digit's mean").run()
    assert not at.exception
    assert grid_rows(at, "gen_trav_grid") == ["z0", "z1"]
    at.radio(key="gen_interp_source").set_value("Two uploaded images").run()
    at.file_uploader(key="gen_interp_file_a").set_value(("a.png", digit_png(0), "image/png"))
    at.file_uploader(key="gen_interp_file_b").set_value(("b.png", digit_png(1), "image/png"))
    at.run()
    assert not at.exception and not at.error
    assert sum(e.type == "download_button" for e in at.main) == 2


def test_generate_unconditional_has_no_class_picker() -> None:
    at = run_page("generate", MLP)
    assert not at.main.selectbox
    assert any(c == "48 prior samples, seed 0" for c in captions(at))


# --- the helpers the pages call --------------------------------------------------------------
def test_prior_by_class_draws_each_class_in_the_same_styles() -> None:
    ck = get_model(CVAE)
    imgs = generation.prior_by_class(ck, 20, seed=0)
    read, _ = classify(imgs)
    per_class = (read.reshape(10, 20) == np.arange(10)[:, None]).mean(1)
    assert per_class.min() >= 0.9, per_class
    # the codes depend on the seed alone: one seed, one set of styles in every row
    again = generation.prior_by_class(ck, 20, seed=0)
    assert np.array_equal(imgs, again)


def test_path_labels_blend_from_one_end_to_the_other() -> None:
    ck = get_model(CVAE)
    y = generation.path_labels(ck, 5, None, [7, 2])
    assert isinstance(y, torch.Tensor) and y.shape == (5, 10)
    assert y[0, 7] == 1 and y[-1, 2] == 1 and torch.allclose(y.sum(1), torch.ones(5))
    assert generation.path_labels(ck, 5, 4, [7, 2]) == 4
    assert generation.path_labels(get_model(MLP), 5, None, [7, 2]) is None
    _, frames = generation.interpolation(ck, np.zeros(2), np.zeros(2), 5, y)
    assert read_digit(frames["linear"][0])[0] == 7 and read_digit(frames["linear"][-1])[0] == 2


# --- other conditional models: a 16-D conv one (PCA views), a Fashion-MNIST one --------------
@pytest.fixture(scope="module")
def conditional_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Untrained conditional models: conv with a 16-D latent (MNIST), MLP 2-D (Fashion)."""
    root = tmp_path_factory.mktemp("conditional-models")
    torch.manual_seed(0)
    for name, cfg, dataset in (
            ("cconv16", ModelConfig(arch="conv", latent_dim=16, channels=[8, 16],
                                    conditional=True), "mnist"),
            ("cfashion", ModelConfig(hidden=[32], latent_dim=2, conditional=True),
             "fashion-mnist")):
        save_checkpoint(root / name, build_model(cfg), TrainConfig(epochs=1, dataset=dataset),
                        {"epochs": 0})
    return root


@pytest.mark.parametrize("page", ["reconstruct", "scatter", "compare", "generate"])
@pytest.mark.parametrize("name", ["cconv16", "cfashion"])
def test_pages_take_other_conditional_models(conditional_models: Path, name: str, page: str,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_USER_DIR, str(conditional_models))
    at = run_page(page, str(conditional_models / name))
    assert not at.error, [e.value for e in at.error]
    if page == "reconstruct":
        upload(at, 3)
        caps = captions(at)
        assert len([c for c in caps if c.startswith("as ")]) == 10
        if name == "cfashion":  # the digit classifier does not read clothes
            assert not [c for c in caps if "reads" in c], caps
            assert at.selectbox(key="reconstruct_label").value == 0
        else:
            assert any("principal directions" in c.value for c in at.caption)
    if page == "generate":
        at.selectbox(key="gen_class").set_value(2).run()
        assert not at.exception and not at.error
