"""The replay player in Chromium: Play draws at display rate with no rerun (no element marked
stale), a pause tells the server the snapshot (Copy link holds its step), the timeline works
by keyboard, the run autoplays once in 10-20 s unless the browser asks for reduced motion,
and the blob is fetched once.

`window.replayPlayerStats` (draws, playing, frame, step, snapshots sent to Python, fetches)
is the player's read-only test hook (ui/frontend/replay_player/player.js).
"""

from __future__ import annotations

import time

import pytest
from e2e_helpers import REPO_ROOT, assert_healthy, goto, screenshot, wait_for_app

from vae_core import load_replay

pytestmark = pytest.mark.e2e

REPLAY = load_replay(REPO_ROOT / "checkpoints" / "mnist-mlp-2d")
STEPS = [int(s) for s in REPLAY.step]
STALE_JS = "document.querySelectorAll('[data-stale=\"true\"]').length"


def stats(page) -> dict:
    return page.evaluate("window.replayPlayerStats")


def open_player(page, query: str = "?model=mnist-mlp-2d&step=0") -> dict:
    """Open Training replay (a link with a step: no autoplay) and wait until the player holds
    the replay's frames."""
    goto(page, f"/replay{query}")
    page.wait_for_function("() => { const s = window.replayPlayerStats; return !!s && s.ready "
                           "&& s.frame !== null; }", timeout=120_000)
    assert_healthy(page, "replay")
    return stats(page)


def copied_step(page) -> int:
    """The step= of the page's Copy link (opens and closes its popover)."""
    page.get_by_role("button", name="Copy link").click()
    code = page.locator('[data-testid="stPopoverBody"] code, [data-testid="stPopover"] code')
    code.first.wait_for(timeout=30_000)
    url = code.first.inner_text()
    page.keyboard.press("Escape")
    assert "step=" in url, url
    return int(url.split("step=")[1].split("&")[0])


def test_play_draws_at_display_rate_without_a_rerun(page) -> None:
    s = open_player(page)
    assert s["frame"] == 0 and not s["playing"] and not s["autoplayed"] and s["fetches"] == 1
    page.get_by_test_id("replay-play").click()
    samples: list[tuple[float, int, int, bool]] = []
    t_end = time.monotonic() + 3.0
    while time.monotonic() < t_end:
        got = page.evaluate(f"() => [window.replayPlayerStats.draws, {STALE_JS}, "
                            "window.replayPlayerStats.playing]")
        samples.append((time.monotonic(), *got))
        page.wait_for_timeout(100)
    (t0, d0, _, _), (t1, d1, _, _) = samples[0], samples[-1]
    fps = (d1 - d0) / (t1 - t0)
    print(f"replay player: {fps:.1f} frames/s over {t1 - t0:.1f} s, {len(samples)} samples")
    assert all(playing for *_, playing in samples), "the player stopped by itself"
    assert not [n for _, _, n, _ in samples if n], "an element was marked stale while playing"
    assert fps >= 30, f"{fps:.1f} frames/s"
    screenshot(page, "replay-playing")
    page.get_by_test_id("replay-play").click()  # pause: the server hears the snapshot
    wait_for_app(page, expect_rerun=True)
    s = stats(page)
    assert not s["playing"] and s["sent"] and s["sent"][-1] == s["frame"] > 0
    assert copied_step(page) == s["step"] == STEPS[s["frame"]]
    assert stats(page)["frame"] == s["frame"] and stats(page)["fetches"] == 1
    screenshot(page, "replay-paused")


def test_timeline_by_keyboard_and_by_dragging_the_curves(page) -> None:
    open_player(page)
    clouds = page.get_by_test_id("replay-clouds")
    first = clouds.screenshot()
    scrub = page.get_by_test_id("replay-scrubber")
    scrub.focus()
    page.keyboard.press("End")
    wait_for_app(page, expect_rerun=True)
    assert stats(page)["frame"] == len(STEPS) - 1
    assert clouds.screenshot() != first, "the clouds did not move from step 0 to the end"
    page.keyboard.press("ArrowLeft")
    wait_for_app(page, expect_rerun=True)
    assert stats(page)["frame"] == len(STEPS) - 2
    assert copied_step(page) == STEPS[-2]
    scrub.focus()
    page.keyboard.press("Home")
    wait_for_app(page, expect_rerun=True)
    assert stats(page)["frame"] == 0
    box = page.get_by_test_id("replay-curves").bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + 60, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2, y, steps=6)
    page.mouse.up()
    wait_for_app(page, expect_rerun=True)
    s = stats(page)
    assert 0 < s["frame"] < len(STEPS) - 1 and s["sent"][-1] == s["frame"]
    assert copied_step(page) == STEPS[s["frame"]]
    screenshot(page, "replay-scrubbed")


def test_play_by_keyboard_and_scrub_by_touch(browser, base_url) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, base_url=base_url,
                                  has_touch=True)
    try:
        page = context.new_page()
        open_player(page)
        button = page.get_by_test_id("replay-play")
        button.focus()
        page.keyboard.press("Enter")
        page.wait_for_function("() => window.replayPlayerStats.frame > 0", timeout=30_000)
        assert stats(page)["playing"]
        page.keyboard.press("Space")
        wait_for_app(page, expect_rerun=True)
        s = stats(page)
        assert not s["playing"] and s["sent"] == [s["frame"]] and s["frame"] > 0
        box = page.get_by_test_id("replay-curves").bounding_box()
        y = box["y"] + box["height"] / 2
        cdp = context.new_cdp_session(page)
        for kind, x in (("touchStart", 80), ("touchMove", 200), ("touchMove", 300),
                        ("touchEnd", None)):
            points = [] if x is None else [{"x": box["x"] + x, "y": y}]
            cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})
            page.wait_for_timeout(100)
        wait_for_app(page, expect_rerun=True)
        t = stats(page)
        # The snapshot under the finger: the plot spans x = 52 .. width - 44 over the epochs.
        under = (300 - 52) / (box["width"] - 96) * float(REPLAY.epoch[-1])
        assert abs(float(REPLAY.epoch[t["frame"]]) - under) < 0.2, (t["frame"], under)
        assert t["frame"] != s["frame"] and t["sent"][-1] == t["frame"]
        assert copied_step(page) == STEPS[t["frame"]]
    finally:
        context.close()


def test_autoplay_plays_the_run_once_in_10_to_20_seconds(page) -> None:
    s = open_player(page, "")
    assert s["autoplayed"]
    t0 = time.monotonic()
    page.wait_for_function("() => !window.replayPlayerStats.playing", timeout=60_000,
                           polling=100)
    seconds = time.monotonic() - t0
    s = stats(page)
    print(f"autoplay of mnist-mlp-2d (40 epochs) took {seconds:.1f} s")
    assert s["frame"] == len(STEPS) - 1 and 10 <= seconds <= 20


def test_reduced_motion_does_not_autoplay(browser, base_url) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, base_url=base_url,
                                  reduced_motion="reduce")
    try:
        page = context.new_page()
        s = open_player(page, "")
        page.wait_for_timeout(1000)
        s = stats(page)
        assert not s["autoplayed"] and not s["playing"] and s["frame"] == len(STEPS) - 1
        screenshot(page, "replay-reduced-motion")
    finally:
        context.close()
