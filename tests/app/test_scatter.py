"""AppTest for Latent scatter: the chart and its codes CSV, the projections on offer for a
16-D model, the manifold underlay as an in-chart toggle over every point; with a conditional
model, style codes without an underlay."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from apptest_helpers import BUNDLED, CVAE_DIR, MLP_DIR, open_whole_page, plotly_charts, run_page
from streamlit.testing.v1 import AppTest

from ui.state import get_model

pytestmark = pytest.mark.usefixtures("empty_user_dir")  # the bundled models only


def test_scatter_draws_chart_and_offers_csv(empty_user_dir: Path) -> None:
    at = run_page("pages/scatter.py")
    assert not at.exception
    assert plotly_charts(at), "the latent scatter is missing"
    at.slider(key="scatter_n").set_value(1000).run()
    assert not at.exception
    assert any(e.type == "download_button" for e in at.main)


def test_scatter_offers_only_installed_projections(with_user_models: Path) -> None:
    """UMAP was offered, then only said it was not installed (issue 18): not offered now."""
    at = run_page("pages/scatter.py", str(with_user_models / "conv16"))
    assert at.radio(key="scatter_projection").options == ["PCA", "t-SNE"]
    assert not [i for i in at.info if "not installed" in i.value]


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


# --- a conditional model ---------------------------------------------------------------------
def test_scatter_shows_style_codes_without_an_underlay() -> None:
    at = open_whole_page("scatter", CVAE_DIR)
    assert any("label has left z" in c.value for c in at.caption)
    chart = [e for e in at.get("plotly_chart") if "scatter_chart" in e.proto.id][0]
    layout = json.loads(chart.proto.spec)["layout"]
    assert not layout.get("images"), "a conditional model's plane has no single manifold"
    assert at.download_button, "the codes CSV is offered"
    at.slider(key="scatter_n").set_value(1000).run()
    assert not at.exception


def test_scatter_of_an_unconditional_model_is_unchanged() -> None:
    at = open_whole_page("scatter", MLP_DIR)
    assert not [c for c in at.caption if "conditional" in c.value]
    chart = [e for e in at.get("plotly_chart") if "scatter_chart" in e.proto.id][0]
    assert json.loads(chart.proto.spec)["layout"]["images"], "the manifold underlay is there"
