"""AppTest for the Latent scatter, Reconstruct, Generate and Compare pages, and unit tests of
the pure helpers in ui/figures.py and ui/derived.py.

Pages run on the bundled 2-D model and on a tiny untrained 16-D conv model saved into a
temporary user-models folder (so the >2-D branches run too, without training anything).
"""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import pytest
import torch
from PIL import Image
from streamlit.testing.v1 import AppTest

from ui import derived, figures
from ui.state import BUNDLED_DIR, DEFAULT_MODEL, ENV_USER_DIR, MODEL_KEY, get_model
from ui.state import test_set as load_test_set
from vae_core import ModelConfig, TrainConfig, build_model, save_checkpoint

APP = str(Path(__file__).resolve().parents[2] / "app.py")
BUNDLED = str(BUNDLED_DIR / DEFAULT_MODEL)


@pytest.fixture(scope="module")
def user_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A user-models folder holding one untrained conv model with a 16-D latent."""
    root = tmp_path_factory.mktemp("user-models")
    torch.manual_seed(0)
    cfg = ModelConfig(arch="conv", latent_dim=16, channels=[8, 16])
    save_checkpoint(root / "conv16", build_model(cfg), TrainConfig(epochs=1, binarize="dynamic"),
                    {"epochs": 0, "test_neg_elbo": 543.0, "test_recon": 540.0, "test_kl": 3.0})
    return root


@pytest.fixture
def empty_user_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(ENV_USER_DIR, str(tmp_path))
    return tmp_path


@pytest.fixture
def with_user_models(user_models: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(ENV_USER_DIR, str(user_models))
    return user_models


def run_page(page: str, model: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    if model is not None:
        at.session_state[MODEL_KEY] = model
    at.switch_page(page)
    return at.run()


def plotly_charts(at: AppTest) -> list:
    return [e for e in at.main if getattr(e, "type", None) == "plotly_chart"]


def digit_png(i: int = 0) -> bytes:
    x, _, _ = load_test_set("mnist")
    buf = io.BytesIO()
    Image.fromarray((x[i] * 255).round().astype(np.uint8), mode="L").save(buf, format="PNG")
    return buf.getvalue()


# --- pages on the bundled 2-D model ---------------------------------------------------------
@pytest.mark.parametrize("page,title", [("pages/scatter.py", "Latent scatter"),
                                        ("pages/reconstruct.py", "Reconstruct"),
                                        ("pages/generate.py", "Generate")])
def test_page_renders_on_bundled_model(empty_user_dir: Path, page: str, title: str) -> None:
    at = run_page(page)
    assert not at.exception
    assert at.title[0].value == title
    assert not at.error


def test_scatter_draws_chart_and_offers_csv(empty_user_dir: Path) -> None:
    at = run_page("pages/scatter.py")
    assert not at.exception
    assert plotly_charts(at), "the latent scatter is missing"
    at.slider(key="scatter_n").set_value(1000).run()
    assert not at.exception
    assert any(e.type == "download_button" for e in at.main)


def test_reconstruct_upload_of_real_digit(empty_user_dir: Path) -> None:
    at = run_page("pages/reconstruct.py")
    assert at.info, "the page should ask for an image first"
    at.file_uploader(key="reconstruct_upload").set_value(
        ("digit.png", digit_png(0), "image/png")).run()
    assert not at.exception
    assert not at.error
    captions = [c for img in at.get("image") for c in img.captions]
    assert any("reconstruction" in c for c in captions)
    metrics = {m.label: m.value for m in at.metric}
    assert math.isfinite(float(metrics["−ELBO (nats)"]))
    assert 0 <= float(metrics["percentile among test images"].rstrip("%")) <= 100
    assert len(plotly_charts(at)) == 2  # latent position and -ELBO histogram


def test_reconstruct_text_file_named_png_is_refused(empty_user_dir: Path) -> None:
    at = run_page("pages/reconstruct.py")
    at.file_uploader(key="reconstruct_upload").set_value(
        ("digit.png", b"this is plain text, not a PNG\n", "image/png")).run()
    assert not at.exception
    assert len(at.error) == 1
    assert "not an image" in at.error[0].value
    assert "−ELBO (nats)" not in [m.label for m in at.metric]
    assert not plotly_charts(at)


def test_reconstruct_canvas_mode_waits_for_a_drawing(empty_user_dir: Path) -> None:
    at = run_page("pages/reconstruct.py")
    at.radio(key="reconstruct_source").set_value("Draw a digit").run()
    assert not at.exception
    assert any("Draw a digit" in i.value for i in at.info)


def test_generate_uploaded_interpolation_end_points(empty_user_dir: Path) -> None:
    at = run_page("pages/generate.py")
    at.radio(key="gen_interp_source").set_value("Two uploaded images").run()
    assert any("Upload both" in i.value for i in at.info)
    at.file_uploader(key="gen_interp_file_a").set_value(("a.png", digit_png(0), "image/png"))
    at.file_uploader(key="gen_interp_file_b").set_value(("b.txt", b"nope", "text/plain"))
    at.run()
    assert not at.exception
    assert any("not an image" in e.value for e in at.error)
    at.file_uploader(key="gen_interp_file_b").set_value(("b.png", digit_png(1), "image/png"))
    at.run()
    assert not at.exception and not at.error
    assert sum(e.type == "download_button" for e in at.main) == 2  # linear and slerp GIFs


def test_compare_needs_two_models(empty_user_dir: Path, tmp_path_factory: pytest.TempPathFactory,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    import ui.state

    only = tmp_path_factory.mktemp("bundled")  # a checkout with a single bundled model
    shutil.copytree(BUNDLED, only / "mnist-mlp-2d")
    monkeypatch.setattr(ui.state, "BUNDLED_DIR", only)
    at = run_page("pages/compare.py")
    assert not at.exception
    assert any("Only one model" in i.value for i in at.info)


# --- a 16-D model: projections, traversal rows, comparison ----------------------------------
@pytest.mark.parametrize("page", ["pages/scatter.py", "pages/reconstruct.py",
                                  "pages/generate.py"])
def test_pages_handle_16d_model(with_user_models: Path, page: str) -> None:
    at = run_page(page, str(with_user_models / "conv16"))
    assert not at.exception
    assert not at.error
    if page.endswith("reconstruct.py"):
        at.file_uploader(key="reconstruct_upload").set_value(
            ("digit.png", digit_png(3), "image/png")).run()
        assert not at.exception and not at.error
        assert any("principal directions" in c.value for c in at.caption)


def test_scatter_offers_only_installed_projections(with_user_models: Path) -> None:
    """UMAP was offered, then only said it was not installed (issue 18): not offered now."""
    at = run_page("pages/scatter.py", str(with_user_models / "conv16"))
    assert at.radio(key="scatter_projection").options == ["PCA", "t-SNE"]
    assert not [i for i in at.info if "not installed" in i.value]


def test_compare_two_models_and_kl_per_dim(with_user_models: Path) -> None:
    at = run_page("pages/compare.py", BUNDLED)
    assert not at.exception and not at.error
    # By default the active model is compared with others of its own dataset (MNIST here).
    assert len(at.multiselect(key="compare_models").value) >= 2
    at.multiselect(key="compare_models").set_value([BUNDLED, str(with_user_models / "conv16")])
    at.run()
    assert not at.exception and not at.error
    scores, setups = at.dataframe[0].value, at.dataframe[1].value
    assert set(scores.index) == set(setups.index) == {"mnist-mlp-2d", "conv16"}
    assert setups.loc["mnist-mlp-2d", "latent dim"] == 2
    assert setups.loc["conv16", "params"] > 0
    assert at.warning, "different binarizations should be flagged"
    at.button(key="compare_stats_button").click().run()
    assert not at.exception
    table = at.dataframe[0].value
    assert table.loc["conv16", "active units"].endswith("/16")
    at.radio(key="compare_pick").set_value("indices").run()
    at.text_input(key="compare_indices").input("3, x").run()
    assert not at.exception
    assert at.error


# --- ui/figures.py --------------------------------------------------------------------------
def test_as_images_and_tile_shapes() -> None:
    batch = torch.rand(5, 1, 28, 28)
    assert figures.as_images(batch).shape == (5, 28, 28)
    assert figures.as_images(np.zeros((28, 28))).shape == (1, 28, 28)
    grid = figures.tile(batch, 3, pad=2)
    assert grid.shape == (2 * 30 + 2, 3 * 30 + 2)
    assert grid[0, 0] == 1.0  # gutters are white


def test_png_and_gif_bytes() -> None:
    img = np.linspace(0, 1, 28 * 28, dtype=np.float32).reshape(28, 28)
    pic = Image.open(io.BytesIO(figures.png(img, 3)))
    assert pic.size == (84, 84)
    gif = Image.open(io.BytesIO(figures.gif_bytes(np.stack([img, 1 - img, img * 0.5]), 2)))
    assert gif.format == "GIF" and gif.size == (56, 56)
    assert gif.n_frames == 4  # forth (3) and back (1 middle frame)
    assert figures.data_uri(img).startswith("data:image/png;base64,")


def test_grid_figure_labels() -> None:
    fig = figures.grid_figure(np.zeros((6, 28, 28)), 3, ["a", "b"], ["x", "y", "z"])
    assert isinstance(fig.data[0], go.Image)
    assert list(fig.layout.yaxis.ticktext) == ["a", "b"]
    assert list(fig.layout.xaxis.ticktext) == ["x", "y", "z"]


def test_latent_scatter_one_trace_per_class_with_customdata() -> None:
    xy = np.random.default_rng(0).normal(size=(50, 2))
    labels = np.arange(50) % 3
    idx = np.arange(100, 150)
    fig = figures.latent_scatter(xy, labels, idx, ["zero", "one", "two", "three"])
    assert [t.name for t in fig.data] == ["zero", "one", "two"]  # absent classes omitted
    assert all(isinstance(t, go.Scattergl) for t in fig.data)
    assert fig.data[1].customdata[0].tolist() == [101, 1]
    sel = {"points": [{"customdata": [101, 1]}, {"customdata": [104, 1]},
                      {"customdata": [101, 1]}, {"x": 0}, {"customdata": {"0": 7, "1": 2}}]}
    assert figures.selected_indices(sel) == [101, 104, 7]
    assert figures.selected_indices(None) == []


def test_pad_2d() -> None:
    assert figures.pad_2d(np.ones(4)).shape == (4, 2)
    assert figures.pad_2d(np.ones((4, 5))).shape == (4, 2)


def test_ellipse_and_posterior_marker() -> None:
    e = figures.ellipse_xy((1.0, -1.0), np.diag([4.0, 1.0]), n_std=1.0)
    assert np.isclose(e[:, 0].max(), 3.0, atol=1e-2) and np.isclose(e[:, 1].min(), -2.0, atol=1e-2)
    fig = figures.add_posterior(go.Figure(), (0, 0), np.eye(2))
    assert len(fig.data) == 3


def test_image_background_and_path() -> None:
    fig = figures.add_image_background(go.Figure(), np.zeros((56, 56)), (-3, 3), (-2, 2))
    im = fig.layout.images[0]
    assert (im.x, im.y, im.sizex, im.sizey) == (-3, 2, 6, 4)
    fig = figures.add_path(fig, np.zeros((5, 2)), "p")
    assert fig.data[0].name == "p"


def test_histogram_percentile_and_kl_bars() -> None:
    vals = np.arange(100.0)
    assert figures.percentile_of(vals, 50.0) == 50.0
    assert figures.percentile_of(vals, 1000.0) == 100.0
    fig = figures.histogram_with_marker(vals, 42.0, "x")
    assert fig.layout.shapes[0].x0 == 42.0
    bars = figures.kl_per_dim_bars({"a": [1.0, 2.0], "b": [0.5, 0.1, 0.2]})
    assert [t.name for t in bars.data] == ["a", "b"]


def test_codes_table_columns() -> None:
    mu, lv = np.zeros((3, 2)), np.ones((3, 2))
    df = figures.codes_table(np.arange(3), np.array([0, 1, 1]), ["zero", "one"], mu, lv)
    assert list(df.columns) == ["index", "label", "class", "mu_0", "mu_1", "logvar_0",
                                "logvar_1"]
    assert df["class"].tolist() == ["zero", "one", "one"]


# --- ui/derived.py --------------------------------------------------------------------------
def test_projection_helpers() -> None:
    dirs = np.array([[1.0, 0, 0], [0, 1.0, 0]], dtype=np.float32)
    assert derived.project(np.array([[2.0, 3.0, 4.0]]), np.ones(3), dirs).tolist() == [[1, 2]]
    cov = derived.project_cov(np.log(np.array([4.0, 9.0, 1.0])), dirs)
    assert np.allclose(cov, np.diag([4.0, 9.0]))
    a = derived.subsample(100, 10, 0)
    assert len(a) == 10 and (np.diff(a) > 0).all() and (a == derived.subsample(100, 10, 0)).all()
    assert len(derived.subsample(5, 10)) == 5


def test_per_image_neg_elbo_matches_metrics_json() -> None:
    ck = get_model(BUNDLED)
    per_image = derived.test_neg_elbo(ck)
    assert len(per_image["neg_elbo"]) == 10_000
    assert per_image["neg_elbo"].mean() == pytest.approx(ck.metrics["test_neg_elbo"], rel=1e-4)
    x, _, _ = load_test_set("mnist")
    s = derived.score_image(ck, x[0])
    assert s["neg_elbo"] == pytest.approx(s["recon"] + s["kl"], rel=1e-5)
    assert s["mu"].shape == (2,)
    assert not ck.model.training and not any(p.requires_grad for p in ck.model.parameters())


def test_test_set_and_codes_are_one_shared_read_only_copy() -> None:
    """Every session gets the same arrays (no 31 MB copy per rerun), and none can change them."""
    from ui.state import encoded

    x, labels, _ = load_test_set("mnist")
    x2, labels2, _ = load_test_set("mnist")
    assert x is x2 and labels is labels2
    ck = get_model(BUNDLED)
    mu, logvar = encoded(ck)
    assert encoded(ck)[0] is mu
    for a in (x, labels, mu, logvar, x[3], mu[:10]):
        assert not a.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        x[0, 0, 0] = 1.0
    with pytest.raises(ValueError, match="read-only"):
        mu[0] += 1.0


def test_model_choice_survives_page_switch(with_user_models: Path) -> None:
    at = run_page("pages/reconstruct.py")
    at.sidebar.selectbox(key=MODEL_KEY).set_value(str(with_user_models / "conv16")).run()
    assert "conv16" in at.sidebar.markdown[0].value
    at.switch_page("pages/generate.py").run()
    assert not at.exception
    assert "conv16" in at.sidebar.markdown[0].value


# --- issue 18: confusions 11-13 and polish ----------------------------------------------------
MLP50 = str(BUNDLED_DIR / "mnist-mlp-50d")
CONV16 = str(BUNDLED_DIR / "mnist-conv-16d")


def chart_spec(at: AppTest, key: str) -> dict:
    """The Plotly figure (as JSON) of the st.plotly_chart with this key."""
    for e in plotly_charts(at):
        if e.proto.id.endswith(key) or key in e.proto.id:
            return json.loads(e.proto.spec)
    raise AssertionError(f"no plotly chart with key {key!r}")


def test_scatter_underlay_is_an_in_chart_toggle_over_every_point(empty_user_dir: Path) -> None:
    """Drawing the manifold under the points must neither reset the selection nor crop
    outliers (issue 18, 11). st.plotly_chart's element id hashes the figure, so a Streamlit
    checkbox that changed the figure remounted the chart (selection, hidden classes and zoom
    lost): the toggle is Plotly's own relayout now, and the figure does not depend on it."""
    from ui.state import encoded

    at = run_page("pages/scatter.py")
    assert not at.exception
    assert not [c for c in at.checkbox if c.key == "scatter_manifold"]
    spec = chart_spec(at, "scatter_chart")
    layout = spec["layout"]
    assert len(layout["images"]) == 1 and layout["images"][0]["visible"] is False
    buttons = layout["updatemenus"][0]["buttons"]
    assert [b["args"][0] for b in buttons] == [{"images[0].visible": False},
                                               {"images[0].visible": True}]
    assert all(b["method"] == "relayout" for b in buttons)  # client-side: no rerun
    assert layout["uirevision"] == "scatter"
    # Every encoded test digit lies inside both the axes and the underlay.
    mu, _ = encoded(get_model(BUNDLED))
    (x0, x1), (y0, y1) = layout["xaxis"]["range"], layout["yaxis"]["range"]
    assert x0 <= mu[:, 0].min() and mu[:, 0].max() <= x1
    assert y0 <= mu[:, 1].min() and mu[:, 1].max() <= y1
    assert np.abs(mu).max() > 3.5  # this model has outliers beyond the old ±3.5 crop
    im = layout["images"][0]
    assert (im["x"], im["x"] + im["sizex"]) == pytest.approx((x0, x1))
    assert (im["y"] - im["sizey"], im["y"]) == pytest.approx((y0, y1))


def test_symmetric_extent_and_class_summary() -> None:
    assert figures.symmetric_extent(np.array([[0.2, -3.2], [1.0, 6.04]])) == 6.5
    assert figures.symmetric_extent(np.array([[3.0, -1.0]])) == 3.0
    assert figures.symmetric_extent(np.zeros((4, 2))) == 0.5
    labels = np.array([1] * 204 + [7] * 3)
    assert figures.class_summary(labels, [str(i) for i in range(10)]) == \
        "204 of class 1, 3 of class 7"
    assert figures.class_summary(np.array([9, 9]), ["T-shirt/top"] * 9 + ["Ankle boot"]) == \
        "2 of class Ankle boot"


def test_home_and_reconstruct_report_the_same_neg_elbo(empty_user_dir: Path) -> None:
    """Issue 18, 12: the same test digit got -ELBO 100.55 on Home and 98.1 on Reconstruct (two
    one-sample estimates with different draws). One seeded estimator everywhere now."""
    from ui.derived import anatomy
    from vae_core import preprocess_image

    i = 3
    x, _, _ = load_test_set("mnist")
    for path in (BUNDLED, CONV16):  # grey levels, and a binarized model
        ck = get_model(path)
        a = anatomy(ck, x[i], derived.ELBO_SEED, None)  # what the home page shows
        s = derived.score_image(ck, x[i])
        assert a["neg_elbo"] == s["neg_elbo"] and a["recon"] == s["recon"]
        assert np.array_equal(a["z"], s["z"])
    # The pages, on the bundled model, with their default seeds.
    home = AppTest.from_file(APP, default_timeout=60)
    home.switch_page("pages/home.py").run()
    home.number_input(key="home_digit").set_value(i).run()
    assert not home.exception
    home_value = {m.label: m.value for m in home.metric}["−ELBO"]
    rec = run_page("pages/reconstruct.py")
    png = digit_png(i)
    assert np.array_equal(preprocess_image(png), x[i]), "digit 3 survives preprocessing as is"
    rec.file_uploader(key="reconstruct_upload").set_value(("d.png", png, "image/png")).run()
    assert not rec.exception
    rec_value = {m.label: m.value for m in rec.metric}["−ELBO (nats)"]
    want = derived.score_image(get_model(BUNDLED), x[i])["neg_elbo"]
    assert home_value == rec_value == f"{want:.2f}"
    assert any(f"seed {derived.ELBO_SEED}" in m.value for m in rec.markdown)
    assert any(f"seed {derived.ELBO_SEED}" in c.value for c in home.caption)


def test_elbo_terms_is_the_one_seeded_estimator() -> None:
    """vae_core.metrics.elbo_terms: an int seed gives one image the same estimate every time;
    evaluate_elbo is its batch mean over one seeded stream."""
    from vae_core.metrics import EVAL_SEED, elbo_terms, evaluate_elbo

    model = get_model(BUNDLED).model
    x = torch.from_numpy(load_test_set("mnist")[0][:64].copy())[:, None]
    one = elbo_terms(model, x[:1], 7)["neg_elbo"]
    assert torch.equal(one, elbo_terms(model, x[:1], 7)["neg_elbo"])
    assert not torch.equal(one, elbo_terms(model, x[:1], 8)["neg_elbo"])
    t = elbo_terms(model, x, EVAL_SEED)
    assert torch.allclose(t["neg_elbo"], t["recon"] + t["kl"])
    assert torch.allclose(t["z"], t["mu"] + (0.5 * t["logvar"]).exp() * t["eps"])
    ev = evaluate_elbo(model, x)
    assert ev["test_neg_elbo"] == pytest.approx(t["neg_elbo"].mean().item(), rel=1e-6)


def test_traversal_defaults_to_the_most_active_dimensions() -> None:
    """Issue 18, 13: the 50-D model's traversal showed z0-z15, several inactive (identical
    rows). The default rows are the active dimensions, most KL first; inactive ones are
    marked in the picker."""
    at = run_page("pages/generate.py", MLP50)
    assert not at.exception
    stats = derived.test_latent_stats(get_model(MLP50))
    active = np.asarray(stats["activity"]) > 0.01
    assert 0 < active.sum() < 50  # the bundled 50-D model leaves some dimensions unused
    picker = at.multiselect(key="gen_trav_dims")
    dims = [int(v) for v in picker.value]
    assert len(dims) == 16 and all(active[d] for d in dims)
    kl = np.asarray(stats["kl_per_dim"])
    assert list(kl[dims]) == sorted(kl[dims], reverse=True)
    inactive = [o for o in picker.options if "inactive" in o]
    assert len(inactive) == 50 - active.sum()


def test_compare_table_polish() -> None:
    """Issue 18, polish: "None" for a missing IS-NLL, the β column cut off, more than 24
    indices cut without a word, "How many" enabled in indices mode."""
    at = run_page("pages/compare.py", MLP50)
    at.multiselect(key="compare_models").set_value([MLP50, CONV16]).run()
    assert not at.exception and not at.error
    scores = at.dataframe[0].value
    assert math.isnan(scores.loc["mnist-conv-16d", "IS-NLL"])
    is_nll = json.loads((Path(MLP50) / "metrics.json").read_text())["test_nll_is"]
    assert scores.loc["mnist-mlp-50d", "IS-NLL"] == pytest.approx(is_nll, abs=0.01)
    assert all(t.proto.placeholder == "–" for t in at.dataframe)  # not "None" for missing
    setups = at.dataframe[1].value
    assert setups.loc["mnist-conv-16d", "β"] == 1.0
    assert len(at.dataframe[0].value.columns) <= 6 and len(setups.columns) <= 8
    assert not at.number_input(key="compare_count").disabled
    at.radio(key="compare_pick").set_value("indices").run()
    assert at.number_input(key="compare_count").disabled
    at.text_input(key="compare_indices").input(", ".join(str(i) for i in range(30))).run()
    assert not at.exception
    assert any("30 indices" in i.value and "first 24" in i.value for i in at.info)


FASHION = str(BUNDLED_DIR / "fashion-mlp-2d")


@pytest.mark.parametrize("page", ["pages/generate.py", "pages/reconstruct.py",
                                  "pages/scatter.py"])
def test_fashion_pages_speak_of_items_not_digits(empty_user_dir: Path, page: str) -> None:
    """'Test digit #' for clothing (issue 18): the pages use the dataset's own nouns."""
    at = run_page(page, FASHION)
    assert not at.exception
    if page.endswith("generate.py"):
        at.radio(key="gen_trav_around").set_value("a test digit's mean").run()
    if page.endswith("reconstruct.py"):
        at.radio(key="reconstruct_source").set_value("Draw a digit").run()
    texts = [w.label for w in at.main if getattr(w, "label", None)]
    texts += [e.value for kind in ("caption", "info", "markdown", "subheader")
              for e in at.get(kind) if isinstance(e.value, str)]
    for w in (*at.radio, *at.multiselect):
        texts += [str(o) for o in w.options]
    assert texts and not [t for t in texts if "digit" in t.lower()], texts
