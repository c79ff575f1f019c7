"""Train: a tiny run (300 images, 1 epoch) finishes, draws its loss chart, is saved under a
name and can then be picked in the sidebar's model selectbox. The server's
VAE_USER_MODELS_DIR is a temporary folder, so nothing is written into checkpoints/."""

import pytest
from e2e_helpers import MAIN, assert_healthy, goto, screenshot, wait_for_app
from page_helpers import field, plotly_point_counts, set_number, wait_for_text

pytestmark = pytest.mark.e2e

MODEL_NAME = "e2e-tiny"


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
