"""The app without a mouse, in Chromium: the latent pad by keyboard alone (Tab to the plane by
its accessible name, a visible focus ring, arrow keys move z and the digit, the live region
says where z landed, what the classifier reads and, with the hole map on, whether z is in a
hole, the release reaches Python; a digit key jumps to its class's mean code; a 16-D pad's
sliders have names and speak too), touch drags on a tablet-sized page (the pad's plane, the
replay's scrubber, a stroke on Reconstruct's drawing canvas), and the home page's tour walked
with Tab, Enter and Space.

The prefers-reduced-motion check of the replay (no autoplay) is test_replay_player.py's
test_reduced_motion_does_not_autoplay.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch
from e2e_helpers import REPO_ROOT, assert_healthy, goto, screenshot, wait_for_app
from pad_helpers import (open_pad, plane, plane_point, python_z, stats, tab_to, touch_drag,
                         wait_python_has)

from vae_core import HOLE_RATIO, load_checkpoint, load_replay

pytestmark = pytest.mark.e2e

TABLET = {"width": 1024, "height": 768}
LIVE = '[data-testid="latent-pad-live"]'
TOUR_STEPS = 8


def live_text(page) -> str:
    return page.locator(LIVE).text_content() or ""


def wait_live_changes(page, before: str, timeout: float = 30_000) -> str:
    """Wait until the pad has announced something new; the live region's text (the DOM)."""
    page.wait_for_function("b => { const s = window.latentPadStats; "
                           "return !!s && !!s.announced && s.announced !== b; }",
                           arg=before, timeout=timeout)
    said = live_text(page)
    assert said != before and said == stats(page)["announced"], said
    return said


def test_the_pad_by_keyboard_alone(page) -> None:
    open_pad(page)
    pad = plane(page)
    presses = tab_to(page, pad)
    print(f"{presses} Tab presses to the latent pad")
    assert pad.evaluate("e => e.matches(':focus-visible')")
    ring = pad.evaluate("e => { const s = getComputedStyle(e); "
                        "return [s.outlineStyle, s.outlineWidth, s.outlineColor]; }")
    assert ring == ["solid", "3px", "rgb(0, 95, 204)"], ring
    assert "Arrow keys move z" in page.locator(".lp-keys").inner_text()  # shown while focused
    pad.scroll_into_view_if_needed()
    screenshot(page, "latent-pad-keyboard-focus")
    before, said = stats(page), live_text(page)
    assert before["z"] == [0.0, 0.0]
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    page.wait_for_function("() => window.latentPadStats.z[0] === 0.5", timeout=10_000)
    said = wait_live_changes(page, said)
    after = stats(page)
    assert after["z"] == [0.5, 0.0]
    assert after["digitChanges"] > before["digitChanges"], "the digit did not change"
    label, p = after["reading"]["label"], after["reading"]["p"]
    assert said.startswith("z0 0.50, z1 0.00; the classifier reads ") and \
        f"reads {label}, {round(p * 100)}%" in said, said
    assert re.search(r"nearest test image #\d+, class \d", said), said
    assert pad.get_attribute("aria-label") == "Latent pad: z0 0.50, z1 0.00"
    digit = page.get_by_role("img", name=f"decoded digit, read as {label}, {round(p * 100)}%")
    assert digit.count() == 1
    assert after["commits"] == before["commits"] + 1, "one release for the run of 5 presses"
    wait_python_has(page, [0.5, 0.0])
    page.keyboard.press("Shift+ArrowUp")  # a big step: 5 small ones
    said = wait_live_changes(page, said)
    wait_python_has(page, [0.5, 0.5])
    page.keyboard.press("Home")
    said = wait_live_changes(page, said)
    assert said.startswith("z0 0.00, z1 0.00;"), said
    wait_python_has(page, [0.0, 0.0])
    assert pad.evaluate("e => e.matches(':focus')"), "the reruns took the focus away"
    assert_healthy(page, "the pad by keyboard")


def test_a_digit_key_jumps_to_its_class_mean_code(page) -> None:
    from ui.state import test_set  # the same test set the page encodes

    vae, _ = open_pad(page)
    images, labels, _ = test_set("mnist")
    with torch.no_grad():
        mu = vae.encode(torch.from_numpy(np.array(images)).unsqueeze(1))[0].numpy()
    want = mu[labels == 3].mean(0)
    plane(page).focus()
    said = live_text(page)
    page.keyboard.press("3")
    said = wait_live_changes(page, said)
    z = stats(page)["z"]
    assert np.abs(np.array(z) - want).max() <= 0.006, (z, want)
    wait_python_has(page, z)
    assert python_z(page) == z
    print(f"key 3: z = {z}, class 3's mean code {want}; said: {said}")


def test_with_the_hole_map_on_the_live_region_says_whether_z_is_in_a_hole(page) -> None:
    from ui.plane_layers import HOLE_CELLS, holes  # the server's own hole map

    e, n = 3.0 * 15 / 14, HOLE_CELLS
    gap = holes(load_checkpoint(REPO_ROOT / "checkpoints" / "mnist-mlp-2d"), e)

    def hole(x: float, y: float) -> bool:
        return bool(gap[int((e - y) / (2 * e) * n), int((x + e) / (2 * e) * n)]
                    >= math.log(HOLE_RATIO))

    # a hole at Shift+Arrow steps (0.5) from 0 whose mirror images are not holes, so a
    # lookup with a flipped or transposed axis says otherwise
    right, up = next((i, j) for i in range(-5, 6) for j in range(-5, 6) if hole(i / 2, j / 2)
                     and not any(hole(a / 2, b / 2) for a, b in ((-i, j), (i, -j), (j, i))))
    assert not hole(0.0, 0.0)
    open_pad(page)
    switch = page.get_by_role("switch", name="Hole map")
    switch.focus()
    page.keyboard.press(" ")
    wait_for_app(page, expect_rerun=True)
    page.wait_for_function("() => { const l = window.latentPadStats.layers; "
                           "return !!l && l.holes && l.drawn; }", timeout=60_000)
    plane(page).focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Home")
    said = wait_live_changes(page, live_text(page))
    assert "; not in a hole;" in said, said
    for _ in range(abs(right)):
        page.keyboard.press("Shift+ArrowRight" if right > 0 else "Shift+ArrowLeft")
    for _ in range(abs(up)):
        page.keyboard.press("Shift+ArrowUp" if up > 0 else "Shift+ArrowDown")
    said = wait_live_changes(page, said)
    assert said.startswith(f"z0 {right / 2:.2f}, z1 {up / 2:.2f};"), said
    assert "; in a hole: " in said, said


def test_a_16d_pad_s_sliders_are_named_and_speak(page) -> None:
    open_pad(page, "mnist-conv-16d")
    names = page.get_by_role("slider").evaluate_all("es => es.map(e => e.ariaLabel)")
    assert [n.split(" ")[0] for n in names if n.startswith("z")] == [f"z{i}" for i in range(16)]
    slider = page.get_by_role("slider", name=re.compile(r"^z3\b"))
    said = live_text(page)
    slider.focus()
    page.keyboard.press("ArrowRight")
    said = wait_live_changes(page, said)
    z = stats(page)["z"]
    assert z[3] == 0.01 and said.startswith("z0 0.00, z1 0.00, z2 0.00, z3 0.01 and 12 more; "
                                            "the classifier reads "), said
    wait_python_has(page, z)


def test_a_touch_drag_on_a_tablet_morphs_the_digit(browser, base_url) -> None:
    context = browser.new_context(viewport=TABLET, base_url=base_url, has_touch=True,
                                  is_mobile=False)
    context.set_default_timeout(60_000)
    try:
        page = context.new_page()
        open_pad(page)
        plane(page).scroll_into_view_if_needed()
        page.wait_for_timeout(300)
        before = stats(page)
        cx, cy = plane_point(page, 0.0, 0.0)
        path = [(cx + 120 * np.sin(i / 5), cy + 120 * np.sin(i / 7 + 1)) for i in range(40)]
        touch_drag(page, path)
        wait_for_app(page, expect_rerun=True)
        after = stats(page)
        changes = after["digitChanges"] - before["digitChanges"]
        print(f"touch drag of 40 points: {changes} digit changes")
        assert changes >= 20, f"the digit changed {changes} times during a touch drag"
        assert after["commits"] == before["commits"] + 1, "one release, at touchEnd"
        assert after["z"] != before["z"]
        wait_python_has(page, after["z"])
        screenshot(page, "latent-pad-touch-tablet")
    finally:
        context.close()


def test_a_touch_drag_on_the_replay_scrubber_moves_the_frame(browser, base_url) -> None:
    steps = [int(s) for s in load_replay(REPO_ROOT / "checkpoints" / "mnist-mlp-2d").step]
    context = browser.new_context(viewport=TABLET, base_url=base_url, has_touch=True)
    context.set_default_timeout(60_000)
    try:
        page = context.new_page()
        goto(page, "/replay?model=mnist-mlp-2d&step=0")
        page.wait_for_function("() => { const s = window.replayPlayerStats; return !!s && "
                               "s.ready && s.frame === 0; }", timeout=120_000)
        scrub = page.get_by_test_id("replay-scrubber")
        scrub.scroll_into_view_if_needed()
        box = scrub.bounding_box()
        y = box["y"] + box["height"] / 2
        xs = np.linspace(box["x"] + 4, box["x"] + box["width"] * 0.6, 12)
        touch_drag(page, [(float(x), y) for x in xs], pause_ms=50)
        wait_for_app(page, expect_rerun=True)
        s = page.evaluate("window.replayPlayerStats")
        print(f"touch on the scrubber: frame {s['frame']} of {len(steps)}, sent {s['sent']}")
        assert 0 < s["frame"] < len(steps) - 1 and s["sent"][-1] == s["frame"]
        assert not s["playing"]
        screenshot(page, "replay-touch-tablet")
    finally:
        context.close()


def tour_step(page) -> str:
    box = page.locator('[data-testid="stVerticalBlock"]').filter(
        has_text="Guided tour · step").last
    return re.search(r"step \d+ of \d+", box.inner_text()).group(0)


def test_the_tour_by_keyboard_alone(page) -> None:
    goto(page, "/?model=mnist-mlp-2d", timeout=180)
    nxt = page.get_by_role("button", name="Next")
    tab_to(page, nxt)
    for i in range(1, TOUR_STEPS):
        assert tour_step(page) == f"step {i} of {TOUR_STEPS}"
        if not nxt.evaluate("e => e.matches(':focus')"):
            tab_to(page, nxt)  # a step's new widgets can take the focus's place
        page.keyboard.press("Enter" if i % 2 else " ")
        page.wait_for_function(
            "s => document.body.innerText.includes(s)", arg=f"step {i + 1} of {TOUR_STEPS}",
            timeout=180_000)
        wait_for_app(page, timeout=180)
        assert_healthy(page, f"tour step {i + 1} by keyboard")
    assert nxt.is_disabled()
    back = page.get_by_role("button", name="Back")
    tab_to(page, back)
    page.keyboard.press("Enter")
    page.wait_for_function("s => document.body.innerText.includes(s)",
                           arg=f"step {TOUR_STEPS - 1} of {TOUR_STEPS}", timeout=180_000)
    wait_for_app(page, timeout=180)
    link = page.get_by_role("link", name=re.compile(r"^Open"))
    tab_to(page, link.last)
    screenshot(page, "tour-by-keyboard")


def test_a_touch_drawing_on_reconstruct_is_reconstructed(browser, base_url) -> None:
    context = browser.new_context(viewport=TABLET, base_url=base_url, has_touch=True)
    context.set_default_timeout(60_000)
    try:
        page = context.new_page()
        goto(page, "/reconstruct")
        page.locator('[data-testid="stMain"] [data-testid="stRadio"]').get_by_text(
            "Draw a digit").tap()
        wait_for_app(page, expect_rerun=True)
        canvas = page.locator('[data-testid="stMain"] canvas').first
        canvas.wait_for(state="visible", timeout=60_000)
        canvas.scroll_into_view_if_needed()
        box = canvas.bounding_box()
        assert box, "no drawing canvas"
        x0, y0 = box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.2
        stroke = [(x0 + 6 * np.sin(t), y0 + t * box["height"] * 0.6 / 12) for t in range(13)]
        touch_drag(page, stroke, pause_ms=40)
        wait_for_app(page, expect_rerun=True)
        recon = page.locator('[data-testid="stMain"] [data-testid="stImage"]').filter(
            has_text="reconstruction")
        recon.first.wait_for(state="visible", timeout=60_000)
        assert_healthy(page, "reconstruct after a touch drawing")
        screenshot(page, "reconstruct-touch-drawing")
        # The canvas's own toolbar needs hover; Clear drawing is a tap away.
        page.get_by_role("button", name="Clear drawing").tap()
        wait_for_app(page, expect_rerun=True)
        page.get_by_text("on the black square").first.wait_for(state="visible", timeout=60_000)
        assert recon.count() == 0
        column = page.locator('[data-testid="stMain"] [data-testid="stColumn"]').filter(
            has=page.locator("canvas")).first.bounding_box()
        assert column and column["width"] >= 280, column  # the whole square fits its column
    finally:
        context.close()
