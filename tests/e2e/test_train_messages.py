"""The Train page's messages where the learner looks.

- Another server holds the machine's training slot (a replica behind the proxy, see
  `python -m deploy`): the top of the page says so before Start, Start's refusal takes its
  place there (and a toast points to it); 'No training run in this session yet' is not shown.
  The slot is taken by this test process on the server's VAE_USER_MODELS_DIR, as another
  replica would.
- A run saved from the "Unsaved runs" list is confirmed in one line naming the model and the
  picker (it used to leave the list without a word).
"""

import pytest
from e2e_helpers import MAIN, assert_healthy, goto, screenshot, wait_for_app
from page_helpers import set_number, wait_for_text

from vae_core import acquire_training_slot

pytestmark = pytest.mark.e2e

ALERTS = f'{MAIN} [data-testid="stAlert"]'


def test_a_taken_slot_is_said_at_the_top(page, user_models_dir):
    slot = acquire_training_slot(user_models_dir, "20260101-000000-other", server="replica 2")
    try:
        goto(page, "/train")
        assert_healthy(page, "train with a taken slot")
        main = page.locator(MAIN).inner_text()
        assert "No training run in this session yet" not in main
        first = page.locator(ALERTS).first
        assert "replica 2" in first.inner_text() and "refused" in first.inner_text()
        screenshot(page, "train-slot-taken")

        page.locator(MAIN).get_by_role("button", name="Start training").click()
        wait_for_app(page, expect_rerun=True)
        assert_healthy(page, "train after a refused start")
        alerts = page.locator(ALERTS)
        texts = [alerts.nth(i).inner_text() for i in range(alerts.count())]
        assert texts and "Not started" in texts[0] and "replica 2" in texts[0], texts
        assert sum("replica 2" in t for t in texts) == 1, texts
        top = alerts.first.bounding_box()["y"]
        start = page.locator(MAIN).get_by_role("button", name="Start training").bounding_box()
        assert top < start["y"], "the refusal is under the form"
        toast = page.locator('[data-testid="stToast"]')
        assert "top of the page" in toast.first.inner_text()  # seen from the form's bottom
        screenshot(page, "train-start-refused")
        alerts.first.scroll_into_view_if_needed()
        screenshot(page, "train-start-refused-top")
    finally:
        slot.release()


def tiny_run(page) -> None:
    set_number(page, "Training images (0 = all)", 200)
    set_number(page, "Epochs", 1)
    set_number(page, "MLP hidden widths", 16)  # a text field: small and fast
    page.locator(MAIN).get_by_role("button", name="Start training").click()
    wait_for_app(page, expect_rerun=True)
    wait_for_text(page, "Finished:", timeout=180)
    wait_for_app(page, timeout=60)


def test_a_save_from_the_unsaved_list_is_confirmed(page, user_models_dir):
    goto(page, "/train")
    tiny_run(page)
    tiny_run(page)  # the first run now waits in "Unsaved runs"
    listed = page.locator(f'{MAIN} [data-testid="stExpander"]').filter(
        has_text="Unsaved runs (1)")
    listed.get_by_text("Unsaved runs (1)").click()
    name = listed.get_by_label("Save as", exact=True)
    name.wait_for(state="visible", timeout=30_000)
    name.fill("e2e-from-list")
    name.press("Enter")
    wait_for_app(page, expect_rerun=True)
    listed.get_by_role("button", name="Save", exact=True).click()
    wait_for_text(page, "Saved as e2e-from-list", timeout=60)
    wait_for_app(page)
    assert (user_models_dir / "e2e-from-list" / "config.json").is_file()
    said = page.locator(f"{ALERTS}").filter(has_text="e2e-from-list")
    assert said.count() == 1 and "e2e-from-list (yours)" in said.inner_text()
    assert "model picker" in said.inner_text()
    assert page.get_by_text("Unsaved runs").count() == 0  # the list is empty now
    assert page.locator(MAIN).get_by_label("Save as", exact=True).count() == 1  # the current run
    said.scroll_into_view_if_needed()
    screenshot(page, "train-saved-from-list")
