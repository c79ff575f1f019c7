"""The plane layers in Chromium (issue 20, item 4): the Sliders pad draws the hole map and the
round-trip field on its canvas when their toggles are switched (the canvas's pixels change),
and the per-pixel cost the page computes against a chosen test digit equals PyTorch's within
1e-4 wherever the cursor takes the decoded digit (mnist-mlp-2d, and mnist-cvae-2d under a
class). Screenshots of both pages with their layers land in artifacts/e2e/."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
import torch
from e2e_helpers import REPO_ROOT, assert_healthy, goto, screenshot, wait_for_app
from page_helpers import pick_model

from ui.latent_pad import Blob
from vae_core import export_decoder, load_checkpoint, pixel_cost

pytestmark = pytest.mark.e2e

MARGIN_L, PLANE = 34, 400  # the plane canvas's left margin and plane size, CSS pixels

# The plane canvas's pixels: a checksum (to see it settle) and the RGB bytes.
PIXELS_JS = """(c) => {
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let sum = 0;
  for (let i = 0; i < d.length; i += 4) {
    sum = (sum * 31 + d[i] + 7 * d[i + 1] + 13 * d[i + 2]) % 1e9;
  }
  return {sum, data: Array.from(d.filter((_, i) => i % 4 !== 3))};
}"""


def stats(page) -> dict:
    return page.evaluate("window.latentPadStats")


def open_pad(page, model: str) -> torch.nn.Module:
    goto(page, "/sliders")
    if model != "mnist-mlp-2d":
        pick_model(page, f"{model} (bundled)")
    vae = load_checkpoint(REPO_ROOT / "checkpoints" / model).model.eval()
    digest = Blob.of(export_decoder(vae)[1].astype("<f4").tobytes()).hash
    page.wait_for_function(
        "h => { const s = window.latentPadStats; return !!s && s.ready && s.model === h; }",
        arg=digest, timeout=120_000)
    assert_healthy(page, f"sliders on {model}")
    return vae


def plane_pixels(page, timeout: float = 20.0) -> np.ndarray:
    """The plane canvas's RGB bytes once two reads 300 ms apart agree (the manifold grows a
    few tiles per frame)."""
    canvas = page.get_by_test_id("latent-pad-plane")
    end, last = time.monotonic() + timeout, None
    while True:
        got = canvas.evaluate(PIXELS_JS)
        if last is not None and got["sum"] == last["sum"]:
            return np.array(got["data"], dtype=np.uint8)
        assert time.monotonic() < end, "the plane canvas never settled"
        last = got
        page.wait_for_timeout(300)


def switch(page, label: str) -> None:
    page.locator('[data-testid="stCheckbox"]').filter(has_text=label).first.click()
    wait_for_app(page, expect_rerun=True)


def changed(a: np.ndarray, b: np.ndarray) -> float:
    """Share of the canvas's pixels that differ by more than a rounding step."""
    diff = np.abs(a.astype(int) - b.astype(int)).reshape(-1, 3).max(1)
    return float((diff > 2).mean())


def plane_point(page, x: float, y: float, r: float = 3.0) -> tuple[float, float]:
    box = page.get_by_test_id("latent-pad-plane").bounding_box()
    e = r * 15 / 14
    return (box["x"] + MARGIN_L + (x + e) / (2 * e) * PLANE, box["y"] + (e - y) / (2 * e) * PLANE)


def check_cost(page, vae: torch.nn.Module, index: int, label: int | None) -> float:
    """The browser's per-pixel cost at its z against PyTorch's; returns the max difference."""
    s = stats(page)
    got = np.array(page.evaluate("window.latentPadCostPixels()"))
    from ui.state import test_set  # the test set the page reads (a name pytest would collect)

    images, _, _ = test_set("mnist")
    x = torch.from_numpy(np.array(images[index])).reshape(1, 1, 28, 28)
    y = None if label is None else torch.tensor([label])
    with torch.no_grad():
        logits = vae.decode_logits(torch.tensor([s["cost"]["z"]], dtype=torch.float32), y)
    want = pixel_cost(logits, x, "bernoulli").reshape(-1).numpy()
    diff = float(np.abs(got - want).max())
    assert s["cost"]["index"] == index and got.shape == (784,)
    assert diff <= 1e-4, f"max |browser - torch| = {diff:.2e} at z = {s['cost']['z']}"
    assert abs(s["cost"]["total"] - float(want.sum())) < 1e-2
    return diff


@pytest.mark.parametrize("model", ["mnist-mlp-2d", "mnist-cvae-2d"])
def test_pad_layers_render_and_the_cost_matches_torch(page, model: str) -> None:
    vae = open_pad(page, model)
    label = 0 if vae.cfg.conditional else None
    bare = plane_pixels(page)
    switch(page, "Hole map")
    page.wait_for_function("() => { const l = window.latentPadStats.layers; "
                           "return !!l && l.holes && l.drawn; }", timeout=30_000)
    holes = plane_pixels(page)
    switch(page, "Round-trip field")
    page.wait_for_function("() => window.latentPadStats.layers.field", timeout=30_000)
    both = plane_pixels(page)
    switch(page, "Hole map")  # off again: the field alone
    page.wait_for_function("() => !window.latentPadStats.layers.holes", timeout=30_000)
    field = plane_pixels(page)
    shares = [changed(bare, holes), changed(holes, both), changed(both, field),
              changed(bare, field)]
    print(f"{model}: canvas pixels changed by holes / +field / -holes / field alone: "
          + ", ".join(f"{v:.1%}" for v in shares))
    assert min(shares) > 0.01, shares
    switch(page, "Hole map")
    screenshot(page, f"plane-layers-sliders-{model}")

    switch(page, "Per-pixel cost")
    box = page.locator('[data-testid="stNumberInput"]').filter(has_text="against test digit")
    box.locator("input").fill("3")
    box.locator("input").press("Enter")
    wait_for_app(page, expect_rerun=True)
    page.wait_for_function("() => { const c = window.latentPadStats.cost; "
                           "return !!c && c.index === 3; }", timeout=30_000)
    diffs = [check_cost(page, vae, 3, label)]
    # Drag the cursor over the plane: the cost follows the decoded digit under it.
    page.mouse.move(*plane_point(page, 0.0, 0.0))
    page.mouse.down()
    totals = set()
    for i in range(12):
        page.mouse.move(*plane_point(page, 2.2 * math.cos(i / 2), 2.2 * math.sin(i / 3)))
        page.wait_for_timeout(60)
        diffs.append(check_cost(page, vae, 3, label))
        totals.add(stats(page)["cost"]["total"])
    page.mouse.up()
    wait_for_app(page, expect_rerun=True)
    diffs.append(check_cost(page, vae, 3, label))
    print(f"{model}: per-pixel cost, max |browser - torch| over {len(diffs)} codes = "
          f"{max(diffs):.2e}; {len(totals)} different totals during the drag")
    assert len(totals) >= 6
    text = page.get_by_test_id("latent-pad-cost-text").inner_text()
    assert text.startswith("−log p(x|z) = ") and "test #3" in text
    assert page.locator('[data-testid="stCaptionContainer"]').filter(
        has_text="computed on the server when you let go").count() == 1
    assert_healthy(page, f"sliders layers on {model}")
    screenshot(page, f"plane-layers-cost-{model}")


@pytest.mark.parametrize("likelihood,var", [("bernoulli", 0.5), ("gaussian", 0.5),
                                            ("gaussian", 0.05)])
def test_the_browsers_cost_formula_equals_torch(page, likelihood: str, var: float) -> None:
    """No bundled model is Gaussian: its formula is checked on its own, with logits far out
    (|logit| up to 30, where p = sigmoid(logit) rounds to 1 in float32)."""
    open_pad(page, "mnist-mlp-2d")
    g = torch.Generator().manual_seed(1)
    logits = (torch.randn(784, generator=g) * 10).clamp(-30, 30)
    x = torch.rand(784, generator=g)
    x[:100] = x[:100].round()  # some binary pixels, as in a binarized target
    means = torch.sigmoid(logits)
    got = np.array(page.evaluate(
        "([l, m, c]) => window.latentPadPixelCost(l, m, c)",
        [logits.tolist(), means.tolist(),
         {"pixels": x.tolist(), "likelihood": likelihood, "var": var}]))
    want = pixel_cost(logits, x, likelihood, var).numpy()
    diff = float(np.abs(got - want).max())
    print(f"{likelihood} (var {var}): max |browser - torch| = {diff:.2e}")
    assert diff <= 1e-4


def test_scatter_layers_render(page) -> None:
    goto(page, "/scatter")
    for label in ("Hole map", "Round-trip field"):
        switch(page, label)
    chart = page.locator('[data-testid="stPlotlyChart"]').first
    chart.wait_for(state="visible")
    assert chart.locator(".heatmaplayer image, .hm image").count() >= 1
    assert chart.locator(".scatterlayer .trace path.js-line").count() >= 1
    assert_healthy(page, "scatter layers")
    screenshot(page, "plane-layers-scatter")
