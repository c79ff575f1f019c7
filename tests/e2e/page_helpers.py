"""Driving and reading a page's main area in the e2e tests: text waits, number fields,
uploads, images, Plotly points, the model picker, a box selection. The server, chromium and
page waits are in e2e_helpers.py; the latent pad's helpers in pad_helpers.py.
"""

from __future__ import annotations

import base64
import time
from urllib.parse import urljoin

from e2e_helpers import MAIN, UPLOAD_INPUT, wait_for_app, assert_healthy


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


# --- filling in the main area ----------------------------------------------------------------

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


def upload(page, name: str, data: bytes, mime: str = "image/png") -> None:
    page.locator(UPLOAD_INPUT).set_input_files({"name": name, "mimeType": mime, "buffer": data})
    wait_for_app(page, expect_rerun=True, timeout=120)


# --- images and charts ---------------------------------------------------------------------

def image_bytes(page, img) -> bytes:
    """The bytes behind an <img> locator: fetched from its src URL (or decoded data: URI)."""
    src = img.get_attribute("src")
    assert src, "image has no src"
    if src.startswith("data:"):
        return base64.b64decode(src.split(",", 1)[1])
    resp = page.request.get(urljoin(page.url, src))
    assert resp.ok, f"GET {src} -> {resp.status}"
    return resp.body()


def main_images(page):
    """All <img> elements of st.image in the main area (not the sidebar)."""
    return page.locator('[data-testid="stMain"] [data-testid="stImage"] img, '
                        'section.main [data-testid="stImage"] img')


# Plotly.py >= 6 ships numpy arrays base64-encoded ({dtype, bdata}); plotly.js decodes them
# into gd._fullData, so count from there and fall back to decoding the length of bdata.
_PLOTLY_POINTS_JS = """() => {
  const SIZES = {i1: 1, u1: 1, i2: 2, u2: 2, i4: 4, u4: 4, f4: 4, f8: 8};
  const len = (a) => {
    if (a == null) return 0;
    if (typeof a.length === 'number') return a.length;
    if (a.bdata) {
      const shape = a.shape ? String(a.shape).split(',').map(Number) : null;
      if (shape) return shape[0];
      return atob(a.bdata).length / (SIZES[a.dtype] || 8);
    }
    return 0;
  };
  return Array.from(document.querySelectorAll('.js-plotly-plot')).map(gd => {
    const traces = (gd._fullData && gd._fullData.length) ? gd._fullData : (gd.data || []);
    return traces.reduce((n, t) => n + (len(t.x) || len(t.y)), 0);
  });
}"""


def plotly_point_counts(page) -> list[int]:
    """Number of points (sum of len(trace.x) over traces) of every Plotly chart on the page."""
    return page.evaluate(_PLOTLY_POINTS_JS)


def digit_png(index: int = 0, scale: int = 8) -> bytes:
    """A real MNIST test digit as a user would photograph it: dark ink on light paper, 8x."""
    import io

    from PIL import Image

    from vae_core import load_split

    split = load_split("mnist", train=False, limit=index + 1)
    pixels = 255 - split.images[index, 0].numpy()  # MNIST is white on black: invert
    img = Image.fromarray(pixels, mode="L")
    img = img.resize((28 * scale, 28 * scale), Image.Resampling.BICUBIC)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def pick_model(page, label: str, timeout: float = 120.0) -> None:
    """Make the model labelled `label` (e.g. "mnist-conv-16d (bundled)") active in the sidebar."""
    page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').first.click()
    page.get_by_role("option", name=label, exact=True).click()
    wait_for_app(page, timeout=timeout, expect_rerun=True)


def box_select(page, chart, at: float, size: float, timeout: float = 120.0) -> None:
    """Drag Plotly's box-select tool over `chart` from (at, at) of its plot area (fractions of
    its width and height) by `size` pixels each way, and wait for the rerun it causes."""
    chart.hover()
    chart.locator('.modebar-btn[data-title="Box Select"]').click()
    area = chart.locator(".nsewdrag").first.bounding_box()
    x0, y0 = area["x"] + area["width"] * at, area["y"] + area["height"] * at
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move(x0 + size, y0 + size, steps=8)
    page.mouse.up()
    wait_for_app(page, expect_rerun=True, timeout=timeout)
