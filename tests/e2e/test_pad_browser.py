"""The latent pad in Chromium: the browser's decode equals the model's for every bundled
checkpoint; a drag morphs the digit frame by frame and z reaches Python only on release; the
page's buttons move the pad; each blob is fetched once.

`window.latentPadStats` (frames, decodes, digit changes, releases, z, Python's z) and
`window.latentPadDecode(z)` are the pad's read-only test hooks (ui/frontend/latent_pad/pad.js).
"""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
import torch
from e2e_helpers import goto, nav_to, screenshot, wait_for_app
from pad_helpers import open_pad, plane_point, python_z, stats, wait_python_has

pytestmark = pytest.mark.e2e

MODELS = ["mnist-mlp-2d", "mnist-conv-2d", "mnist-conv-16d", "mnist-mlp-50d", "fashion-mlp-2d"]


@pytest.mark.parametrize("model", MODELS)
def test_browser_decode_equals_the_model(page, model: str) -> None:
    vae, _ = open_pad(page, model)
    g = np.random.default_rng(0)
    z = g.standard_normal((20, vae.cfg.latent_dim)).astype(np.float32)
    z[0], z[-3:] = 0.0, z[-3:] * 3.0  # the origin and a few codes far out
    got = np.array(page.evaluate("zs => zs.map(z => window.latentPadDecode(z))", z.tolist()))
    with torch.no_grad():
        want = vae.decode(torch.from_numpy(z)).reshape(20, 784).numpy()
    diff = np.abs(got - want).max()
    print(f"{model}: max |browser - torch| = {diff:.2e}")
    assert got.shape == (20, 784) and diff <= 1e-4


def test_pad_drag_morphs_the_digit_and_python_gets_z_on_release(page) -> None:
    open_pad(page)
    page.wait_for_timeout(500)
    before = stats(page)
    cx, cy = plane_point(page, 0.0, 0.0)
    page.mouse.move(cx, cy)
    page.mouse.down()
    t0, i = time.monotonic(), 0
    while time.monotonic() - t0 < 2.0:  # a 2-second drag along a Lissajous curve
        i += 1
        page.mouse.move(cx + 150 * math.sin(i / 6), cy + 150 * math.sin(i / 9 + 1))
    during = stats(page)
    page.mouse.up()
    changes = during["digitChanges"] - before["digitChanges"]
    print(f"{i} mouse moves in 2 s: {changes} digit changes, "
          f"{during['decodes'] - before['decodes']} decodes")
    assert changes >= 30, f"the digit changed {changes} times during a 2-second drag"
    assert during["commits"] == before["commits"], "z was sent to Python during the drag"
    wait_for_app(page, expect_rerun=True)
    after = stats(page)
    assert after["commits"] == before["commits"] + 1
    wait_python_has(page, after["z"])
    assert after["pythonZ"] == after["z"]
    screenshot(page, "latent-pad-after-drag")


def test_hovering_a_test_digit_shows_its_image(page) -> None:
    from ui.state import test_set  # the same test set the page encodes

    vae, _ = open_pad(page)
    images, _, _ = test_set("mnist")
    with torch.no_grad():
        mu, _ = vae.encode(torch.from_numpy(np.array(images[:1])).unsqueeze(1))
    page.mouse.move(*plane_point(page, *mu[0].tolist()))
    tip = page.locator(".lp-tip")  # Playwright's CSS locators pierce the shadow root
    tip.wait_for(state="visible", timeout=10_000)
    assert tip.inner_text().startswith("test #") and tip.get_attribute("data-index")
    screenshot(page, "latent-pad-hover")


def test_16d_slider_drag_changes_the_digit_during_the_drag(page) -> None:
    open_pad(page, "mnist-conv-16d")
    page.wait_for_timeout(500)
    box = page.get_by_test_id("latent-pad-slider-3").bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2  # z3 = 0: the middle
    before = stats(page)
    page.mouse.move(x, y)
    page.mouse.down()
    for step in range(1, 25):
        page.mouse.move(x + step * box["width"] / 60, y)
    during = stats(page)
    page.mouse.up()
    changes = during["digitChanges"] - before["digitChanges"]
    assert changes >= 5, f"the digit changed {changes} times while dragging z3"
    assert during["commits"] == before["commits"] and during["z"][3] > 0.5
    wait_for_app(page, expect_rerun=True)
    after = stats(page)
    wait_python_has(page, after["z"])
    assert after["pythonZ"] == after["z"] and len(after["z"]) == 16
    screenshot(page, "latent-pad-16d")


def test_fast_key_presses_on_a_pad_slider_are_not_lost(page) -> None:
    """Each press is a release; a run answering an older one must not undo the newer ones."""
    open_pad(page)
    slider = page.get_by_test_id("latent-pad-slider-0")
    for k in range(6):
        start = stats(page)["z"][0]
        direction = 1 if k % 2 == 0 else -1
        slider.focus()
        for _ in range(5):
            page.keyboard.press("ArrowRight" if direction > 0 else "ArrowLeft")
        page.wait_for_timeout(300)
        wait_for_app(page, settle=1.0)
        expected = round(start + 0.05 * direction, 2)
        z = stats(page)["z"]
        assert abs(z[0] - expected) < 1e-9, f"round {k}: {start} + 5 presses -> {z[0]}"
        wait_python_has(page, z)


def test_buttons_move_the_pad_and_blobs_are_fetched_once(page) -> None:
    fetched: list[str] = []
    page.on("response", lambda r: fetched.append(r.url) if r.url.endswith(".bin") else None)
    open_pad(page)
    page.get_by_role("button", name="Random draw").click()
    wait_for_app(page, expect_rerun=True)
    page.wait_for_function("() => window.latentPadStats.z[0] !== 0")
    wait_python_has(page, stats(page)["z"])
    page.get_by_role("button", name="Reset to 0").click()
    wait_for_app(page, expect_rerun=True)
    page.wait_for_function("() => window.latentPadStats.z.every(v => v === 0)")
    nav_to(page, "manifold")  # away and back: the page keeps what it fetched
    nav_to(page, "sliders")
    page.get_by_test_id("latent-pad-plane").wait_for(state="visible")
    page.wait_for_timeout(1000)
    # decoder, test digits, their images, the digit classifier: once each
    assert len(fetched) == 4, fetched


def test_pad_sliders_start_at_python_z_before_any_frame(page) -> None:
    """Under load a key press can come before the pad's first frame: the slider must already
    hold Python's z then (a new range input starts at its max, so ArrowRight did nothing and
    ArrowLeft sent max - 0.05; the load test's 'pythonZ lag')."""
    page.add_init_script("window.requestAnimationFrame = () => 0;")  # no frame ever comes
    goto(page, "/sliders")
    page.wait_for_function(
        "() => { const s = window.latentPadStats; return !!s && (s.pythonZ || []).length === 2; }",
        timeout=120_000)
    slider = page.get_by_test_id("latent-pad-slider-0")
    values = [float(page.get_by_test_id(f"latent-pad-slider-{i}").input_value())
              for i in range(2)]
    assert values == python_z(page) == [0.0, 0.0]
    slider.focus()
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    wait_python_has(page, [0.05, 0.0])


def test_pad_follows_a_button_after_a_click_that_moved_nothing(page) -> None:
    """Pressing a slider's thumb without moving it fires no 'change'; the pad then ignored
    every later z from Python (Random draw changed the caption, not the digit)."""
    open_pad(page)
    slider = page.get_by_test_id("latent-pad-slider-0")
    box = slider.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_timeout(300)
    assert stats(page)["commits"] == 0
    page.get_by_role("button", name="Random draw").click()
    wait_for_app(page, expect_rerun=True)
    want = python_z(page)
    assert want != [0.0, 0.0]
    page.wait_for_function(
        "w => window.latentPadStats.z.every((v, i) => Math.abs(v - w[i]) < 0.006)",
        arg=want, timeout=10_000)


def test_pad_follows_python_back_to_its_own_last_release(page) -> None:
    """Python moves z away from the pad's last release, then sets that very z again: the pad
    took the second z for an echo of its release and kept showing the first."""
    open_pad(page)
    page.get_by_role("button", name="Set from this digit").click()
    wait_for_app(page, expect_rerun=True)
    digit = python_z(page)
    page.wait_for_function("w => window.latentPadStats.z.every((v, i) => v === w[i])",
                           arg=digit, timeout=10_000)
    slider = page.get_by_test_id("latent-pad-slider-0")
    for key in ("ArrowRight", "ArrowLeft"):  # two releases; the last one is the digit's z
        slider.focus()
        page.keyboard.press(key)
        wait_for_app(page, expect_rerun=True, settle=1.0)
    wait_python_has(page, digit)
    page.get_by_role("button", name="Reset to 0").click()
    wait_for_app(page, expect_rerun=True)
    page.wait_for_function("() => window.latentPadStats.z.every(v => v === 0)")
    page.get_by_role("button", name="Set from this digit").click()
    wait_for_app(page, expect_rerun=True)
    assert python_z(page) == digit
    page.wait_for_function("w => window.latentPadStats.z.every((v, i) => v === w[i])",
                           arg=digit, timeout=10_000)
