"""AppTest for Manifold: grid sizes and spacings, a model of more than two dimensions (axes,
PCA plane), round axis ticks; with a conditional model the manifold of the chosen class, the
style grid and the class map, which also tints an unconditional model's manifold."""

from __future__ import annotations

import io

import numpy as np
import pytest
from apptest_helpers import CVAE, MLP, ROOT, figure_image, open_page
from PIL import Image

from vae_core import load_checkpoint


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


# --- a conditional model: its class, the style grid, the class map ---------------------------
def test_manifold_of_the_chosen_class_and_its_class_map() -> None:
    at = open_page("manifold", CVAE)
    assert at.radio(key="mf_view").value == "manifold"
    zero = figure_image(at, "mf_figure")
    at.radio(key="mf_class").set_value(4).run()
    four = figure_image(at, "mf_figure")
    assert zero.shape == four.shape and np.abs(zero.astype(int) - four).mean() > 10
    at.toggle(key="mf_class_map").set_value(True).run()
    assert not at.exception
    tinted = figure_image(at, "mf_figure")
    assert tinted.ndim == 3 and tinted.shape[2] == 3  # RGB: ink in its class colour
    tally = [c.value for c in at.caption if c.value.startswith("Class map")]
    assert len(tally) == 1 and "(4: " in tally[0]  # the class drawn most is the chosen one


def test_style_grid_draws_each_z_in_every_class() -> None:
    at = open_page("manifold", CVAE)
    at.radio(key="mf_view").set_value("style").run()
    at.slider(key="mf_rows").set_value(4).run()
    assert not at.exception
    grid = figure_image(at, "mf_style_figure")
    assert grid.shape[:2] == (28 * 4, 28 * 10)
    at.radio(key="mf_style").set_value("random").run()
    assert figure_image(at, "mf_style_figure").shape[:2] == (28 * 4, 28 * 10)
    at.toggle(key="mf_class_map").set_value(True).run()
    hits = [c.value for c in at.caption if "column's class" in c.value]
    assert hits and int(hits[0].split(" in ")[1].split(" of ")[0]) >= 38, hits  # 38 of 40


def test_manifold_unconditional_model_unchanged_and_class_map() -> None:
    from ui.derived import manifold_image
    from ui.figures import png

    at = open_page("manifold", MLP)
    assert not [r for r in at.radio if r.key in ("mf_view", "mf_class")]
    ck = load_checkpoint(ROOT / "checkpoints" / MLP)
    grid, _ = manifold_image(ck, 20, 3.0)
    want = np.asarray(Image.open(io.BytesIO(png(grid))))
    assert np.array_equal(figure_image(at, "mf_figure"), want)
    at.toggle(key="mf_class_map").set_value(True).run()
    tally = [c.value for c in at.caption if c.value.startswith("Class map")]
    assert tally and "10 classes read" in tally[0], tally  # where the decoder draws each digit
    fashion = open_page("manifold", "fashion-mlp-2d")
    fashion.toggle(key="mf_class_map").set_value(True).run()
    assert not fashion.exception and "reads handwritten digits" in fashion.warning[0].value
