"""Helpers for the latent pad in Chromium, shared by the e2e tests that drive it: open Latent
sliders and wait for the pad's decoder, read its test hooks, find a latent point on its plane,
wait for Python's z (the caption under the pad), and drive it without a mouse: Tab to an
element, a touch drag (CDP touch events, as a finger sends them).

`window.latentPadStats` (frames, decodes, digit changes, releases, z, Python's z) is the pad's
read-only test hook (ui/frontend/latent_pad/)."""

from __future__ import annotations

import re
import time

import torch
from e2e_helpers import REPO_ROOT, assert_healthy, goto
from page_helpers import pick_model

from ui.latent_pad import Blob
from vae_core import export_decoder, load_checkpoint

DEFAULT = "mnist-mlp-2d"
MARGIN_L, PLANE = 34, 400  # the plane canvas's left margin and plane size, CSS pixels
SERVER_Z = re.compile(r"z on the server: \(([^)]*)\)")


def stats(page) -> dict:
    return page.evaluate("window.latentPadStats")


def open_pad(page, model: str = DEFAULT) -> tuple[torch.nn.Module, str]:
    """Open Latent sliders on `model` and wait until the browser holds its decoder."""
    goto(page, "/sliders")
    if model != DEFAULT:
        pick_model(page, f"{model} (bundled)")
    vae = load_checkpoint(REPO_ROOT / "checkpoints" / model).model
    digest = Blob.of(export_decoder(vae)[1].astype("<f4").tobytes()).hash
    page.wait_for_function(
        "h => { const s = window.latentPadStats; return !!s && s.ready && s.model === h; }",
        arg=digest, timeout=120_000)
    assert_healthy(page, f"sliders on {model}")
    return vae, digest


def python_z(page) -> list[float]:
    """z as the server last rendered it (the caption under the pad)."""
    text = page.locator('[data-testid="stCaptionContainer"]').filter(
        has_text="z on the server").first.inner_text()
    return [float(v) for v in SERVER_Z.search(text).group(1).split(", ") if v != "…"]


def wait_python_has(page, z: list[float], timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while python_z(page) != z[:16]:
        assert time.monotonic() < end, f"Python shows {python_z(page)}, the pad {z}"
        page.wait_for_timeout(100)


def plane_point(page, x: float, y: float) -> tuple[float, float]:
    """Screen position of latent (x, y) on the plane (range 3, 15 manifold tiles)."""
    box = page.get_by_test_id("latent-pad-plane").bounding_box()
    e = 3.0 * 15 / 14
    return (box["x"] + MARGIN_L + (x + e) / (2 * e) * PLANE,
            box["y"] + (e - y) / (2 * e) * PLANE)


def plane(page):
    """The plane, found as a screen reader finds it: its role and accessible name."""
    return page.get_by_role("application", name=re.compile(r"^Latent pad"))


def tab_to(page, target, limit: int = 120) -> int:
    """Press Tab until `target` (a locator) has focus; the number of presses."""
    for presses in range(1, limit + 1):
        page.keyboard.press("Tab")
        if target.evaluate("e => e.matches(':focus')"):
            return presses
    raise AssertionError(f"{limit} Tab presses never reached {target}")


def touch_drag(page, points: list[tuple[float, float]], pause_ms: int = 30) -> None:
    """One finger down at points[0], through the rest, then up (viewport coordinates)."""
    cdp = page.context.new_cdp_session(page)
    try:
        for i, (x, y) in enumerate(points):
            cdp.send("Input.dispatchTouchEvent", {
                "type": "touchStart" if i == 0 else "touchMove",
                "touchPoints": [{"x": x, "y": y}]})
            page.wait_for_timeout(pause_ms)
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    finally:
        cdp.detach()
