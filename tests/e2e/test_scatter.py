"""Latent scatter in Chromium: the Plotly chart really holds the encoded test set (>= 1,000
points); the manifold underlay keeps the user's selection and hidden classes; with the
conditional mnist-cvae-2d a box selection of the style codes shows the selected digits."""

import pytest
from e2e_helpers import assert_healthy, goto, screenshot, wait_for_app
from page_helpers import box_select, pick_model, plotly_point_counts

pytestmark = pytest.mark.e2e

_CHART_STATE_JS = """() => {
  const gd = document.querySelector('[data-testid="stMain"] .js-plotly-plot');
  return {hidden: gd.data.filter(t => t.visible === 'legendonly').map(t => t.name),
          underlay: (gd.layout.images || []).map(i => i.visible),
          boxes: (gd.layout.selections || []).length};
}"""


def subheaders(page) -> list[str]:
    """The main area's section headings (st.header: h2 under the page's h1)."""
    return page.locator('[data-testid="stMain"] h2').all_inner_texts()


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
    heads = subheaders(page)
    assert [h for h in heads if "selected" in h], heads
    screenshot(page, "scatter-cvae-selection")


def test_manifold_underlay_keeps_selection_and_hidden_classes(page):
    goto(page, "/scatter", timeout=180)
    chart = page.locator('[data-testid="stMain"] [data-testid="stPlotlyChart"]').first
    # hide class "1"; a click that lands before Plotly has bound its legend is clicked again
    for _ in range(5):
        chart.locator(".legend .traces").nth(1).click()
        page.wait_for_timeout(500)
        if page.evaluate(_CHART_STATE_JS)["hidden"] == ["1"]:
            break
    box_select(page, chart, 0.55, 60)
    selected = [h for h in subheaders(page) if "selected" in h]
    assert selected, subheaders(page)
    before = page.evaluate(_CHART_STATE_JS)
    assert before == {"hidden": ["1"], "underlay": [False], "boxes": 1}

    chart.get_by_text("points on the decoded manifold").click()
    page.wait_for_timeout(1000)
    wait_for_app(page)
    after = page.evaluate(_CHART_STATE_JS)
    assert after == {"hidden": ["1"], "underlay": [True], "boxes": 1}
    assert [h for h in subheaders(page) if "selected" in h] == selected
    assert_healthy(page, "scatter with underlay")
    screenshot(page, "scatter-underlay-selection")
