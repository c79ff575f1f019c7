"""Issue 18 in a real browser: the scatter's manifold underlay keeps the user's selection and
hidden classes, and the drawing canvas's toolbar no longer covers the "Input" choice."""

import pytest
from e2e_helpers import assert_healthy, box_select, goto, screenshot, wait_for_app

pytestmark = pytest.mark.e2e

_CHART_STATE_JS = """() => {
  const gd = document.querySelector('[data-testid="stMain"] .js-plotly-plot');
  return {hidden: gd.data.filter(t => t.visible === 'legendonly').map(t => t.name),
          underlay: (gd.layout.images || []).map(i => i.visible),
          boxes: (gd.layout.selections || []).length};
}"""


def subheaders(page) -> list[str]:
    return page.locator('[data-testid="stMain"] h3').all_inner_texts()


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


def test_canvas_toolbar_does_not_cover_the_input_choice(page):
    goto(page, "/reconstruct")
    page.locator('[data-testid="stMain"] [data-testid="stRadio"]').get_by_text(
        "Draw a digit").click()
    wait_for_app(page, expect_rerun=True)
    canvas = page.locator('[data-testid="stMain"] canvas').first
    canvas.wait_for(state="visible", timeout=60_000)
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + 50, box["y"] + 50)  # the toolbar shows on hover
    page.wait_for_timeout(800)
    buttons = page.locator('[data-testid="stMain"] [data-testid="stBidiComponentIsolated"] '
                           'button')
    tops = [b["y"] for b in (buttons.nth(i).bounding_box() for i in range(buttons.count()))
            if b is not None]
    assert tops, "the canvas toolbar did not appear on hover"
    radio = page.locator('[data-testid="stMain"] [data-testid="stRadio"]').first.bounding_box()
    assert min(tops) >= radio["y"] + radio["height"], (tops, radio)
    screenshot(page, "reconstruct-canvas-toolbar")


def test_favicon_is_served_by_the_app_itself(page, base_url):
    """The page icon was a ':material/...' name, which the browser fetched from
    fonts.gstatic.com: no icon offline. Nothing a page loads may come from elsewhere."""
    outside: list[str] = []
    local = (base_url, "data:", "blob:")
    page.on("request", lambda r: None if r.url.startswith(local) else outside.append(r.url))
    goto(page, "/manifold")
    icons = page.evaluate("() => Array.from(document.querySelectorAll('link[rel*=icon]'))"
                          ".map(l => l.href)")
    assert icons and all(h.startswith(base_url) for h in icons), icons
    assert not outside, outside
