"""The guided tour in Chromium on three models: every step draws without an error (a
screenshot of each into artifacts/e2e/), and "Open the full view" opens the page in the state
the step shows (step 6 on a 2-D model: Latent sliders at the step's z with the hole map on)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from e2e_helpers import assert_healthy, goto, screenshot, wait_for_app

pytestmark = pytest.mark.e2e
STEPS = 8


def tour_box(page):
    return page.locator('[data-testid="stVerticalBlock"]').filter(
        has_text="Guided tour · step").last


def step_text(page) -> str:
    return tour_box(page).inner_text()


def next_step(page) -> None:
    before = step_text(page).split("\n", 1)[0]
    page.get_by_role("button", name="Next").click()
    page.wait_for_function(
        "b => !document.body.innerText.includes(b)", arg=before, timeout=120_000)
    wait_for_app(page, timeout=180)


@pytest.mark.parametrize("model", ["mnist-mlp-2d", "mnist-mlp-50d", "mnist-cvae-2d"])
def test_tour_steps_in_the_browser(page, model: str) -> None:
    goto(page, f"/?model={model}", timeout=180)
    for i in range(1, STEPS + 1):
        assert_healthy(page, f"{model} tour step {i}")
        assert f"step {i} of {STEPS}" in step_text(page)
        link = tour_box(page).get_by_role("link", name="Open")
        assert link.count() == 1 and "model=" in (link.get_attribute("href") or "")
        tour_box(page).scroll_into_view_if_needed()
        screenshot(page, f"tour-{model}-step{i}")
        if i < STEPS:
            next_step(page)


def test_step_6_opens_sliders_at_its_hole_with_the_map_on(page) -> None:
    goto(page, "/?model=mnist-mlp-2d", timeout=180)
    for _ in range(5):
        next_step(page)
    assert "Holes in the latent space" in step_text(page)
    link = tour_box(page).get_by_role("link", name="Open Latent sliders")
    z = parse_qs(urlsplit(link.get_attribute("href")).query)["z"][0]
    link.click()
    page.wait_for_url("**/sliders**", timeout=60_000)
    wait_for_app(page, timeout=180, expect_rerun=True)
    assert_healthy(page, "sliders from the tour")
    assert not page.get_by_text("could not be followed").count()
    holes = page.get_by_role("switch", name="Hole map")
    assert holes.is_checked()
    shown = ", ".join(f"{float(v):.2f}" for v in z.split(","))
    assert f"z on the server: ({shown})" in page.locator("body").inner_text()
    screenshot(page, "tour-mnist-mlp-2d-step6-full-view")
