"""The latent pad with a conditional model (mnist-cvae-2d) in Chromium: the browser decodes
with the class's one-hot exactly as PyTorch does, and picking another class on Latent sliders
changes the digit the pad draws (its canvas, its live decode, its reading and Python's). The
digit classifier also runs in the page and reads the digit during a drag (every MNIST model)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from e2e_helpers import assert_healthy, nav_to, screenshot, wait_for_app
from pad_helpers import open_pad, plane_point, stats

from vae_core import read_digit

pytestmark = pytest.mark.e2e

CVAE = "mnist-cvae-2d"


def digit_pixels(page) -> np.ndarray:
    """The pad's digit canvas as drawn (RGBA bytes), read in the page."""
    data = page.get_by_test_id("latent-pad-digit").evaluate(
        "c => Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data)")
    return np.array(data, dtype=np.uint8)


def pick_class(page, name: str) -> None:
    radio = page.locator('[data-testid="stRadio"]').filter(has_text="Class").first
    radio.locator("label").filter(has_text=name).first.click()
    wait_for_app(page, expect_rerun=True)


@pytest.mark.parametrize("label", [2, 8])
def test_browser_decode_equals_the_model_for_a_class(page, label: int) -> None:
    vae, _ = open_pad(page, CVAE)
    g = np.random.default_rng(label)
    z = g.standard_normal((20, 2)).astype(np.float32)
    z[0], z[-3:] = 0.0, z[-3:] * 3.0
    got = np.array(page.evaluate("([zs, y]) => zs.map(z => window.latentPadDecode(z, y))",
                                 [z.tolist(), label]))
    with torch.no_grad():
        want = vae.decode(torch.from_numpy(z), label).reshape(20, 784).numpy()
    diff = np.abs(got - want).max()
    print(f"{CVAE} class {label}: max |browser - torch| = {diff:.2e}")
    assert got.shape == (20, 784) and diff <= 1e-4
    other = np.array(page.evaluate("z => window.latentPadDecode(z, 0)", z[1].tolist()))
    assert np.abs(other - got[1]).max() > 0.3  # the class, not only z, picks the digit


def test_picking_a_class_changes_the_digit(page) -> None:
    vae, _ = open_pad(page, CVAE)
    page.wait_for_function("() => window.latentPadStats.label === 0")
    page.wait_for_timeout(500)
    before, pixels = stats(page), digit_pixels(page)
    pick_class(page, "5")
    page.wait_for_function("() => window.latentPadStats.label === 5", timeout=30_000)
    page.wait_for_function("n => window.latentPadStats.digitChanges > n",
                           arg=before["digitChanges"], timeout=10_000)
    after = stats(page)
    assert after["commits"] == before["commits"]  # the class came from Python, not a release
    changed = np.abs(digit_pixels(page).astype(int) - pixels).mean()
    print(f"class 0 -> 5: mean |canvas change| = {changed:.1f} of 255")
    assert changed > 10
    # The live decode uses the class: the pad's own decoder at its z equals PyTorch's 5.
    live = np.array(page.evaluate("z => window.latentPadDecode(z)", after["z"]))
    with torch.no_grad():
        want = vae.decode(torch.tensor([after["z"]], dtype=torch.float32), 5).reshape(784).numpy()
    assert np.abs(live - want).max() <= 1e-4
    reading = page.get_by_text("The digit classifier reads").first.inner_text()
    assert "reads 5" in reading, reading  # Python's, for the z it holds
    page.wait_for_function("() => (window.latentPadStats.reading || {}).label === 5")
    live = page.get_by_test_id("latent-pad-reading").inner_text()  # the page's own
    assert live.startswith("the digit classifier reads 5"), live
    assert_healthy(page, "sliders after a class change")
    screenshot(page, "latent-pad-cvae-class-5")


def test_the_page_reads_the_digit_during_a_drag(page) -> None:
    vae, _ = open_pad(page, "mnist-mlp-2d")
    page.wait_for_function("() => window.latentPadStats.reads > 0", timeout=30_000)
    s = stats(page)
    with torch.no_grad():
        want = read_digit(vae.decode(torch.tensor([s["z"]], dtype=torch.float32)))
    assert s["reading"]["label"] == want[0] and abs(s["reading"]["p"] - want[1]) < 2e-3
    before = s["reads"]
    cx, cy = plane_point(page, -2.0, 0.0)
    page.mouse.move(cx, cy)
    page.mouse.down()
    for i in range(60):  # about a second across the plane
        page.mouse.move(cx + 4 * i, cy - 2 * i)
        page.wait_for_timeout(16)
    during = stats(page)
    page.mouse.up()
    wait_for_app(page, expect_rerun=True)
    ms = sorted(during["readMs"])
    print(f"{during['reads'] - before} readings during the drag, read p50 "
          f"{ms[len(ms) // 2]:.1f} ms, max {ms[-1]:.1f} ms")
    assert during["reads"] - before >= 4
    page.wait_for_timeout(500)  # a few frames after the release
    end = stats(page)
    with torch.no_grad():
        want = read_digit(vae.decode(torch.tensor([end["z"]], dtype=torch.float32)))
    assert end["reading"]["label"] == want[0]  # the last position is read once the drag stops


def test_the_model_survives_a_fragment_rerun_and_a_page_switch(page) -> None:
    """A class pick (a rerun of the Sliders explorer fragment only) and then another page:
    the sidebar's model stayed mnist-cvae-2d (it fell back to the default before)."""
    open_pad(page, CVAE)
    pick_class(page, "3")
    nav_to(page, "manifold")
    card = page.locator('[data-testid="stSidebar"]').inner_text()
    assert "mnist-cvae-2d · MLP" in card, card
    page.get_by_text("manifold of one class").wait_for(state="visible")
