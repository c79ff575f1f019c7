"""Reconstruct: upload a photographed-style digit and get a reconstruction; a bad file is
refused with a friendly message, not a traceback; the drawing canvas's toolbar does not cover
the "Input" choice."""

import pytest
from e2e_helpers import assert_healthy, goto, screenshot, wait_for_app
from page_helpers import digit_png, image_bytes, upload

pytestmark = pytest.mark.e2e

def test_upload_digit_shows_reconstruction(page):
    goto(page, "/reconstruct")
    assert_healthy(page, "reconstruct")
    upload(page, "seven.png", digit_png(0))
    recon = page.locator('[data-testid="stMain"] [data-testid="stImage"]').filter(
        has_text="reconstruction")
    recon.first.wait_for(state="visible", timeout=60_000)
    data = image_bytes(page, recon.first.locator("img"))
    assert data[:8] == b"\x89PNG\r\n\x1a\n" or data[:3] == b"\xff\xd8\xff", data[:16]
    assert len(data) > 100
    assert_healthy(page, "reconstruct after upload")
    screenshot(page, "reconstruct-upload")


def test_bad_file_is_refused_politely(page):
    goto(page, "/reconstruct")
    upload(page, "bad.png", b"this is not an image, just text\n" * 4, mime="image/png")
    alert = page.locator('[data-testid="stMain"] [data-testid="stAlertContentError"]')
    alert.first.wait_for(state="visible", timeout=30_000)
    text = alert.first.inner_text()
    assert "bad.png" in text, text
    assert page.locator('[data-testid="stException"]').count() == 0
    assert_healthy(page, "reconstruct after bad upload")
    screenshot(page, "reconstruct-bad-file")


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
