"""Unit tests of the pure figure helpers in ui/figures.py: tiles, PNG and GIF bytes, grids,
the latent scatter and its selection, ellipses, underlays, histograms, the codes table, round
axis ticks, the symmetric extent and the class summary."""

from __future__ import annotations

import io

import numpy as np
import plotly.graph_objects as go
import torch
from PIL import Image

from ui import figures


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
    traces = figures.posterior_traces((0.5, -1.0), np.eye(2))
    fig = go.Figure().add_traces(traces)  # valid as Plotly checks them
    assert [t.name for t in fig.data] == ["your image: 1σ", "your image: 2σ", "your image: mean"]
    assert (fig.data[2].x, fig.data[2].y) == ((0.5,), (-1.0,))


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
    fig = figures.add_marker(figures.score_histogram(vals, "x"), 42.0)
    assert fig.layout.shapes[0].x0 == 42.0
    bins = fig.data[0]  # counted here: 80 bars, not the 100 scores
    assert len(bins.y) == 80 and sum(bins.y) == 100 and bins.customdata[0][0] == 0.0
    with_nan = figures.score_histogram(np.array([1.0, np.nan, 2.0, np.inf]), "x", nbins=4)
    assert sum(with_nan.data[0].y) == 2  # what cannot be placed is left out
    bars = figures.kl_per_dim_bars({"a": [1.0, 2.0], "b": [0.5, 0.1, 0.2]})
    assert [t.name for t in bars.data] == ["a", "b"]


def test_codes_table_columns() -> None:
    mu, lv = np.zeros((3, 2)), np.ones((3, 2))
    df = figures.codes_table(np.arange(3), np.array([0, 1, 1]), ["zero", "one"], mu, lv)
    assert list(df.columns) == ["index", "label", "class", "mu_0", "mu_1", "logvar_0",
                                "logvar_1"]
    assert df["class"].tolist() == ["zero", "one", "one"]


def test_symmetric_extent_and_class_summary() -> None:
    assert figures.symmetric_extent(np.array([[0.2, -3.2], [1.0, 6.04]])) == 6.5
    assert figures.symmetric_extent(np.array([[3.0, -1.0]])) == 3.0
    assert figures.symmetric_extent(np.zeros((4, 2))) == 0.5
    labels = np.array([1] * 204 + [7] * 3)
    assert figures.class_summary(labels, [str(i) for i in range(10)]) == \
        "204 of class 1, 3 of class 7"
    assert figures.class_summary(np.array([9, 9]), ["T-shirt/top"] * 9 + ["Ankle boot"]) == \
        "2 of class Ankle boot"


def test_nice_ticks_and_labels() -> None:
    from ui.figures import nice_ticks, tick_text

    assert tick_text(nice_ticks(-3, 3)) == ["−3", "−2", "−1", "0", "1", "2", "3"]
    assert tick_text(nice_ticks(-1.645, 1.645)) == ["−1.5", "−1", "−0.5", "0", "0.5", "1",
                                                    "1.5"]
    assert list(nice_ticks(-10, 10)) == [-10, -5, 0, 5, 10]
    assert list(nice_ticks(2.0, 2.0)) == [2.0]
