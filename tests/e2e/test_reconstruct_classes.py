"""Reconstruct in Chromium with a conditional model and with a 2-D one (issues 16 and 17): an
uploaded 7 comes back in every class, each reconstruction labelled with the classifier's
reading; beside mnist-mlp-2d the bundled upload model's reconstruction appears, read too."""

import re

import pytest
from e2e_helpers import UPLOAD_INPUT, assert_healthy, goto, screenshot, wait_for_app
from page_helpers import digit_png, pick_model

pytestmark = pytest.mark.e2e

CAPTIONS = '[data-testid="stMain"] [data-testid="stImage"]'


def upload_seven(page) -> None:
    page.locator(UPLOAD_INPUT).set_input_files(
        {"name": "seven.png", "mimeType": "image/png", "buffer": digit_png(0)})
    wait_for_app(page, expect_rerun=True, timeout=180)


def image_captions(page) -> list[str]:
    page.locator(CAPTIONS).first.wait_for(state="visible", timeout=60_000)
    return [t.strip() for t in page.locator(CAPTIONS).all_inner_texts()]


def test_conditional_model_draws_the_upload_in_every_class(page):
    goto(page, "/reconstruct", timeout=180)
    pick_model(page, "mnist-cvae-2d (bundled)", timeout=180)
    upload_seven(page)
    assert_healthy(page, "reconstruct, mnist-cvae-2d")
    picker = page.locator('[data-testid="stMain"] [data-testid="stSelectbox"]').first
    assert "label" in picker.inner_text()
    main = page.locator('[data-testid="stMain"]').inner_text()
    assert "reads your digit as 7" in main, main[:2000]  # the suggested label
    caps = [" ".join(c.split()) for c in image_captions(page)]
    every = [c for c in caps if c.startswith("as ")]
    assert [c.split(" ·")[0] for c in every] == [f"as {k}" for k in range(10)], caps
    read_as_own = [c for k, c in enumerate(every) if re.match(rf"as {k} · reads {k} ", c)]
    assert len(read_as_own) >= 9, every
    assert any(c.startswith("reconstruction") and "as 7 · reads 7" in c for c in caps), caps
    screenshot(page, "reconstruct-cvae-every-class")


def test_2d_model_shows_the_upload_model_with_readings(page):
    goto(page, "/reconstruct", timeout=180)
    pick_model(page, "mnist-mlp-2d (bundled)", timeout=180)
    upload_seven(page)
    assert_healthy(page, "reconstruct, mnist-mlp-2d")
    caps = [" ".join(c.split()) for c in image_captions(page)]
    assert any(c.startswith("reconstruction") and re.search(r"reads \d \(\d+%\)", c)
               for c in caps), caps
    upload_model = [c for c in caps if c.startswith("mnist-conv-upload")]
    assert upload_model and "reads 7" in upload_model[0], caps
    assert not [c for c in caps if c.startswith("as ")], "no class row for this model"
    screenshot(page, "reconstruct-mlp-upload-model")
