"""Reconstruct: upload a photographed-style digit and get a reconstruction; a bad file is
refused with a friendly message, not a traceback."""

import pytest
from e2e_helpers import assert_healthy, digit_png, goto, image_bytes, screenshot, upload

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
