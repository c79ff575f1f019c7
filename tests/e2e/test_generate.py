"""Generate in Chromium with the conditional mnist-cvae-2d: the class picker changes the
digits drawn."""

import pytest
from e2e_helpers import assert_healthy, goto, screenshot, wait_for_app
from page_helpers import image_bytes, main_images, pick_model

pytestmark = pytest.mark.e2e


def test_generate_class_picker_changes_the_samples(page):
    goto(page, "/generate", timeout=180)
    pick_model(page, "mnist-cvae-2d (bundled)", timeout=180)
    assert_healthy(page, "generate, mnist-cvae-2d")
    assert "class 9" in page.locator('[data-testid="stMain"]').inner_text()  # all classes
    shown = {}
    for k in ("3", "8"):
        page.locator('[data-testid="stMain"] [data-testid="stSelectbox"]').first.click()
        page.get_by_role("option", name=k, exact=True).click()
        wait_for_app(page, expect_rerun=True, timeout=120)
        assert_healthy(page, f"generate, class {k}")
        caption = page.get_by_text(f"48 prior samples of class {k}, seed 0")
        caption.wait_for(state="visible", timeout=60_000)
        shown[k] = image_bytes(page, main_images(page).first)
    assert shown["3"] != shown["8"], "the class changes the digits drawn"
    screenshot(page, "generate-cvae-class")
