"""Train: a tiny run (300 images, 1 epoch) finishes, draws its loss chart, is saved under a
name and can then be picked in the sidebar's model selectbox. The server's
VAE_USER_MODELS_DIR is a temporary folder, so nothing is written into checkpoints/."""

import time

import pytest
from e2e_helpers import assert_healthy, goto, plotly_point_counts, screenshot, wait_for_app

pytestmark = pytest.mark.e2e

MODEL_NAME = "e2e-tiny"
MAIN = '[data-testid="stMain"]'


def field(page, label: str):
    """The input of the widget labelled exactly `label` in the main area."""
    el = page.locator(MAIN).get_by_label(label, exact=True)
    el.first.wait_for(state="visible", timeout=30_000)
    assert el.count() == 1, f"{el.count()} inputs labelled {label!r}"
    return el


def set_number(page, label: str, value: int) -> None:
    el = field(page, label)
    el.fill(str(value))
    el.press("Tab")  # commit the value (inside a form it is sent on submit)


def wait_for_text(page, text: str, timeout: float) -> None:
    """Wait for `text` in the main area, surfacing a Streamlit exception at once if one shows."""
    deadline = time.monotonic() + timeout
    main = page.locator(MAIN)
    while text not in main.inner_text():
        assert_healthy(page, "train")
        errors = page.locator(f'{MAIN} [data-testid="stAlertContentError"]')
        if errors.count():
            raise AssertionError(f"training failed: {errors.first.inner_text()}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{text!r} did not appear in {timeout:.0f} s; the page says:\n"
                               f"{main.inner_text()[:2000]}")
        page.wait_for_timeout(500)


def test_tiny_training_saves_a_pickable_model(page, user_models_dir):
    goto(page, "/train")
    assert_healthy(page, "train")
    set_number(page, "Training images (0 = all)", 300)
    set_number(page, "Epochs", 1)
    page.locator(MAIN).get_by_role("button", name="Start training").click()
    wait_for_text(page, "Finished:", timeout=180)
    wait_for_app(page, timeout=60)

    counts = plotly_point_counts(page)
    assert counts and max(counts) > 0, f"loss chart is empty: points per chart {counts}"
    screenshot(page, "train-finished")

    name = field(page, "Save as")
    name.fill(MODEL_NAME)
    name.press("Enter")
    wait_for_app(page, expect_rerun=True)
    page.locator(MAIN).get_by_role("button", name="Save", exact=True).click()
    wait_for_text(page, f"Saved as {MODEL_NAME}", timeout=60)
    wait_for_app(page)
    assert (user_models_dir / MODEL_NAME / "config.json").is_file()
    assert_healthy(page, "train after save")

    picker = page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').filter(
        has_text="Active model")
    combo = picker.get_by_role("combobox")
    # Saving made the new model active; switch to the bundled one and back through the list.
    for label in ("mnist-mlp-2d (bundled)", f"{MODEL_NAME} (yours)"):
        picker.get_by_role("button", name="Open").click()
        option = page.get_by_role("option").filter(has_text=label)
        option.first.wait_for(state="visible", timeout=15_000)
        option.first.click()
        wait_for_app(page, expect_rerun=True)
        assert combo.input_value() == label, combo.input_value()
    assert_healthy(page, "train with the new model active")
    screenshot(page, "train-saved")
