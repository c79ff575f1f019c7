"""Latent scatter in Chromium: the Plotly chart really holds the encoded test set (>= 1,000
points); with the conditional mnist-cvae-2d a box selection of the style codes shows the
selected digits."""

import pytest
from e2e_helpers import (assert_healthy, box_select, goto, pick_model, plotly_point_counts,
                         screenshot)

pytestmark = pytest.mark.e2e


def test_scatter_has_many_points(page):
    goto(page, "/scatter", timeout=180)
    page.locator(".js-plotly-plot").first.wait_for(state="attached", timeout=60_000)
    counts = plotly_point_counts(page)
    assert counts and max(counts) >= 1000, f"points per Plotly chart: {counts}"
    assert_healthy(page, "scatter")


def test_scatter_selection_of_style_codes(page):
    goto(page, "/scatter", timeout=180)
    pick_model(page, "mnist-cvae-2d (bundled)", timeout=180)
    main = page.locator('[data-testid="stMain"]')
    assert "label has left z" in main.inner_text()
    box_select(page, main.locator('[data-testid="stPlotlyChart"]').first, 0.45, 40)
    assert_healthy(page, "scatter selection, mnist-cvae-2d")
    heads = main.locator("h3").all_inner_texts()
    assert [h for h in heads if "selected" in h], heads
    screenshot(page, "scatter-cvae-selection")
