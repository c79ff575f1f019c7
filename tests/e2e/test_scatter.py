"""Latent scatter: the Plotly chart really holds the encoded test set (>= 1,000 points)."""

import pytest
from e2e_helpers import assert_healthy, goto, plotly_point_counts

pytestmark = pytest.mark.e2e


def test_scatter_has_many_points(page):
    goto(page, "/scatter", timeout=180)
    page.locator(".js-plotly-plot").first.wait_for(state="attached", timeout=60_000)
    counts = plotly_point_counts(page)
    assert counts and max(counts) >= 1000, f"points per Plotly chart: {counts}"
    assert_healthy(page, "scatter")
