"""Latent sliders' server-side fallback: moving a slider (mouse drag, keyboard) changes the
decoded image's bytes.

The page decodes in the browser (the latent pad, tests/e2e/test_pad_browser.py) for every model
whose decoder exports and has at most 64 latent dimensions; these tests use an untrained 65-D
model, which gets Streamlit sliders and a server-decoded image instead.

Streamlit >= 1.5x draws st.slider with react-aria: the visible thumb is a <div> wrapping a
visually hidden <input type="range"> (implicit ARIA role "slider", so CSS `[role="slider"]`
no longer matches; Playwright's get_by_role does). Older versions used baseweb's
`<div role="slider">`. `thumb()` and `value_input()` handle both.
"""

import pytest
from e2e_helpers import assert_healthy, goto, screenshot, wait_for_app
from page_helpers import image_bytes, pick_model

pytestmark = pytest.mark.e2e

DECODED = '[data-testid="stMain"] [data-testid="stImage"]'
SLIDERS = '[data-testid="stMain"] [data-testid="stSlider"]'


@pytest.fixture(scope="module")
def wide_model(user_models_dir) -> str:
    """A 65-D model in the server's user-models folder; its picker label."""
    import torch

    from vae_core import ModelConfig, TrainConfig, build_model, save_checkpoint

    torch.manual_seed(0)
    save_checkpoint(user_models_dir / "wide65", build_model(ModelConfig(latent_dim=65,
                                                                        hidden=[64])),
                    TrainConfig(epochs=1), {"epochs": 0})
    return "wide65 (yours)"


@pytest.fixture
def fallback(page, wide_model):
    """The Latent sliders page on the 65-D model."""
    goto(page, "/sliders")
    pick_model(page, wide_model)
    assert page.get_by_text("Decoded on the server").count() == 1
    return page


def decoded_image(page):
    box = page.locator(DECODED).filter(has_text="decoded mean image")
    box.first.wait_for(state="visible", timeout=60_000)
    assert box.count() == 1, f"expected one decoded image, found {box.count()}"
    return box.locator("img")


def slider(page, i: int):
    s = page.locator(SLIDERS)
    s.first.wait_for(state="visible", timeout=60_000)
    assert s.count() >= 2, f"expected a slider per latent dimension, found {s.count()}"
    return s.nth(i)


def value_input(page, i: int):
    """The element holding the value and keyboard focus (the ARIA slider)."""
    return slider(page, i).get_by_role("slider")


def thumb(page, i: int):
    """The visible thumb to grab with the mouse."""
    s = slider(page, i)
    legacy = s.locator('div[role="slider"]')
    if legacy.count():
        return legacy.first
    return s.locator('div:has(> [data-testid="stSliderThumbValue"])').first


def value(page, i: int) -> float:
    el = value_input(page, i)
    v = el.get_attribute("aria-valuenow") or el.input_value()
    return float(v)


def wait_image_changed(page, before: bytes, timeout: float = 30.0) -> bytes:
    """Poll the decoded image until its bytes differ from `before` (Streamlit reruns async)."""
    wait_for_app(page, expect_rerun=True, timeout=timeout)
    for _ in range(int(timeout * 5)):
        after = image_bytes(page, decoded_image(page))
        if after != before:
            return after
        page.wait_for_timeout(200)
    return after


def test_mouse_drag_changes_image(fallback):
    page = fallback
    assert_healthy(page, "sliders")
    before = image_bytes(page, decoded_image(page))
    assert before[:8] == b"\x89PNG\r\n\x1a\n", "decoded image is not a PNG"
    value_before = value(page, 0)
    box = thumb(page, 0).bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 60, y, steps=8)
    page.mouse.move(x + 120, y, steps=8)
    page.mouse.up()
    after = wait_image_changed(page, before)
    assert value(page, 0) > value_before, (value_before, value(page, 0))
    assert after != before, "dragging the z0 slider did not change the decoded image"
    assert_healthy(page, "sliders after drag")
    screenshot(page, "sliders-after-drag")


def test_keyboard_changes_image(fallback):
    page = fallback
    before = image_bytes(page, decoded_image(page))
    value_before = value(page, 1)
    value_input(page, 1).focus()
    for _ in range(30):  # step 0.01: +0.30 in z1
        page.keyboard.press("ArrowRight")
    after = wait_image_changed(page, before)
    value_after = value(page, 1)
    assert value_after > value_before, (value_before, value_after)
    assert after != before, "ArrowRight on the z1 slider did not change the decoded image"
    caption = page.locator(DECODED).filter(has_text="decoded mean image").inner_text()
    assert f"{value_after:.2f}" in caption, caption
    assert_healthy(page, "sliders after keyboard")


def test_fast_key_presses_are_not_lost(fallback):
    """Five quick ArrowRight (then ArrowLeft) presses move the slider by exactly 5 steps.

    Each press starts a rerun; a page that writes the slider's session_state key during the
    run pushes that run's (older) value back into the browser, so presses made meanwhile are
    lost and the thumb jumps back.
    """
    page = fallback
    el = value_input(page, 0)
    for k in range(10):
        start = value(page, 0)
        direction = 1 if k % 2 == 0 else -1
        el.focus()
        for _ in range(5):
            page.keyboard.press("ArrowRight" if direction > 0 else "ArrowLeft")
        page.wait_for_timeout(300)
        wait_for_app(page, settle=1.0)
        expected = round(start + 0.05 * direction, 2)
        got = value(page, 0)
        assert abs(got - expected) < 1e-6, (
            f"round {k}: 5 presses from {start:.2f} should end at {expected:.2f}, the slider "
            f"shows {got:.2f} (key presses lost)")
    assert_healthy(page, "sliders after fast key presses")


# --- the latent pad's page: one classifier reading, slider labels that fit ------------------

PAD_READING = '[data-testid="latent-pad-reading"]'


def open_sliders(page, model: str) -> None:
    """Latent sliders on a bundled `model`, once the pad has drawn its sliders."""
    goto(page, f"/sliders?model={model}")
    page.locator(".lp-row").first.wait_for(state="visible", timeout=120_000)
    assert_healthy(page, f"sliders on {model}")


def test_the_digit_reading_is_shown_once_in_the_pad(page):
    """The browser's classifier reads the digit in the pad; the server's sentence under the
    pad said the same thing a second time (and lagged behind a drag)."""
    open_sliders(page, "mnist-mlp-2d")
    reading = page.locator(PAD_READING)  # Playwright's CSS locators pierce the shadow root
    reading.wait_for(state="attached", timeout=60_000)
    page.wait_for_function("el => el.textContent.includes('reads')",
                           arg=reading.element_handle(), timeout=60_000)
    server = page.locator('[data-testid="stMain"] [data-testid="stMarkdownContainer"]').filter(
        has_text="classifier reads")
    assert server.count() == 0, f"a second reading under the pad: {server.first.inner_text()}"
    screenshot(page, "sliders-mnist-mlp-2d")


@pytest.mark.parametrize("model", ["mnist-conv-16d", "mnist-mlp-50d"])
def test_slider_labels_fit_their_column(page, model):
    """Every pad slider's label shows whole (no ellipsis): 'z0 · inactive (KL 0.…' was cut."""
    open_sliders(page, model)
    labels = page.locator(".lp-label").evaluate_all(
        "els => els.map(el => [el.textContent, el.scrollWidth > el.clientWidth + 0.5])")
    cut = [text for text, clipped in labels if clipped]
    assert len(labels) == int(model.split("-")[-1].rstrip("d")), labels
    assert cut == [], f"labels cut off on {model}: {cut}"
    screenshot(page, f"sliders-{model}")
