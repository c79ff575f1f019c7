"""A seeded synthetic "real-world" corpus: MNIST digits as a phone or a scanner sees them.

`render(digit, seed)` turns one MNIST digit (uint8 [28, 28], white ink on black) into the bytes
of a photo-like image file: the digit written with a thin pen, a normal pen or a thick marker,
in black, blue, red, green, pencil or chalk, rotated by up to +-15 degrees, at 2-12 times
MNIST's size, somewhere on a larger page of paper (white, cream, yellow, blue, pink, grey, kraft,
or a dark board) with a texture, ruled or squared lines (slightly tilted) or a margin line,
under a lighting gradient, vignetting and sometimes a shadow, then blurred, given sensor noise
and saved as JPEG (quality 35-95) or PNG. Every choice comes from `numpy.random.default_rng`
seeded with `seed`, so a corpus is the same on every machine.

`corpus(images, seed)` renders many; `Render.params` says what each render drew (for
failure reports). Used by tests/core/test_realworld.py and bench/realworld.py.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image
from scipy import ndimage

PAPERS = {  # RGB, 0-255
    "white": (246, 246, 242), "cream": (240, 231, 205), "yellow": (250, 241, 165),
    "blue": (212, 226, 245), "pink": (245, 216, 222), "light grey": (205, 205, 203),
    "mid grey": (150, 150, 148), "kraft": (192, 160, 118), "green": (204, 230, 204),
}
BOARDS = {"blackboard": (42, 52, 46), "dark grey": (70, 70, 72), "navy": (30, 36, 70)}
INKS = {"black": (22, 22, 28), "blue": (25, 45, 165), "dark blue": (12, 22, 85),
        "red": (185, 25, 35), "green": (25, 115, 45), "pencil": (85, 85, 92),
        "purple": (90, 30, 120)}
LIGHT_INKS = {"chalk": (232, 232, 222), "yellow chalk": (240, 225, 120)}
LINE_COLOURS = [(150, 182, 228), (170, 170, 175), (120, 150, 210), (185, 205, 235)]
MARGIN_RED = (220, 110, 120)
MAX_SIDE = 640  # canvas limit (pixels a side), keeps a corpus of hundreds fast to render


@dataclass
class Render:
    """One rendered image file and the choices that made it."""

    data: bytes
    params: dict[str, Any] = field(default_factory=dict)


def _smoothstep(a: np.ndarray, lo: float, hi: float) -> np.ndarray:
    t = np.clip((a - lo) / (hi - lo), 0, 1)
    return t * t * (3 - 2 * t)


def _stroke(digit: np.ndarray, scale: float, style: str) -> np.ndarray:
    """The digit's ink coverage in [0, 1], enlarged `scale` times, as a pen of that style."""
    size = max(28, round(28 * scale))
    up = np.asarray(Image.fromarray(digit).resize((size, size), Image.Resampling.BICUBIC),
                    np.float32) / 255
    if style == "thin pen":  # the core of the stroke only
        return _smoothstep(up, 0.62, 0.9)
    if style == "marker":  # grown by about a third of MNIST's stroke width
        grow = max(3, round(scale * 1.2)) | 1
        return _smoothstep(ndimage.grey_dilation(up, size=(grow, grow)), 0.25, 0.55)
    return _smoothstep(up, 0.3, 0.65)


def _low_freq(shape: tuple[int, int], cells: int, rng: np.random.Generator) -> np.ndarray:
    """Smooth random field in about [-1, 1] with `cells` bumps across the larger side."""
    h, w = shape
    small = rng.standard_normal((max(2, cells * h // max(h, w)), max(2, cells * w // max(h, w))))
    img = Image.fromarray(small.astype(np.float32), mode="F").resize((w, h),
                                                                      Image.Resampling.BICUBIC)
    return np.asarray(img) / max(1e-6, float(np.abs(small).max()))


def _lines(shape: tuple[int, int], rng: np.random.Generator, kind: str, spacing: float,
           width: float, tilt_deg: float) -> np.ndarray:
    """Coverage [0, 1] of ruled ('ruled'), squared ('squared') or margin ('margin') lines."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    t = np.tan(np.radians(tilt_deg))
    cov = np.zeros(shape, np.float32)

    def family(coord: np.ndarray, period: float) -> np.ndarray:
        d = np.abs(((coord - rng.uniform(0, period)) % period) - period / 2) - period / 2
        return np.clip(width / 2 + 0.5 - np.abs(d), 0, 1)  # antialiased line of `width` px

    if kind in ("ruled", "squared"):
        cov = np.maximum(cov, family(yy + xx * t, spacing))
    if kind == "squared":
        cov = np.maximum(cov, family(xx - yy * t, spacing))
    if kind == "margin":
        x0 = rng.uniform(0.05, 0.2) * w
        cov = np.maximum(cov, np.clip(width / 2 + 0.5 - np.abs(xx - yy * t - x0), 0, 1))
    return cov


def render(digit: np.ndarray, seed: int) -> Render:
    """One photo-like image file (JPEG or PNG bytes) of the MNIST digit uint8 [28, 28]."""
    rng = np.random.default_rng(seed)
    p: dict[str, Any] = {"seed": seed}
    dark_board = rng.random() < 0.1
    paper_name = rng.choice(list(BOARDS if dark_board else PAPERS))
    ink_name = rng.choice(list(LIGHT_INKS if dark_board else INKS))
    paper = np.array((BOARDS if dark_board else PAPERS)[paper_name], np.float32) / 255
    ink = np.array((LIGHT_INKS if dark_board else INKS)[ink_name], np.float32) / 255
    style = rng.choice(["thin pen", "pen", "marker"], p=[0.35, 0.3, 0.35])
    scale = float(np.exp(rng.uniform(np.log(2), np.log(12))))
    angle = float(rng.uniform(-15, 15))
    p.update(paper=str(paper_name), ink=str(ink_name), style=str(style),
             scale=round(scale, 2), angle=round(angle, 1))
    cover = _stroke(digit, scale, str(style))
    cover = np.asarray(Image.fromarray(cover, mode="F").rotate(
        angle, Image.Resampling.BICUBIC, expand=True), np.float32).clip(0, 1)
    # The page: the digit's box plus margins, at most MAX_SIDE a side.
    dh, dw = cover.shape
    h = min(MAX_SIDE, max(dh + 4, round(dh * rng.uniform(1.15, 3.0))))
    w = min(MAX_SIDE, max(dw + 4, round(dw * rng.uniform(1.15, 3.0))))
    if dh + 4 > h or dw + 4 > w:  # too large for the page: shrink the digit
        f = min((h - 4) / dh, (w - 4) / dw)
        cover = np.asarray(Image.fromarray(cover, mode="F").resize(
            (max(1, int(dw * f)), max(1, int(dh * f))), Image.Resampling.BILINEAR))
        dh, dw = cover.shape
    top, left = int(rng.integers(2, h - dh - 1)), int(rng.integers(2, w - dw - 1))
    a = np.zeros((h, w), np.float32)
    a[top:top + dh, left:left + dw] = cover
    p.update(page=(h, w))
    # Paper texture: a slow mottling and a fine grain.
    page = paper * (1 + 0.04 * _low_freq((h, w), 6, rng)[..., None]
                    + 0.015 * rng.standard_normal((h, w, 1)).astype(np.float32))
    lines = str(rng.choice(["none", "ruled", "squared", "margin"], p=[0.3, 0.35, 0.25, 0.1]))
    p.update(lines=lines)
    if lines != "none":
        spacing = max(8.0, dh * rng.uniform(0.3, 0.9))
        width = float(rng.uniform(1, 3.0))
        tilt = float(rng.uniform(-3, 3))
        colour = np.array(MARGIN_RED if lines == "margin"
                          else LINE_COLOURS[rng.integers(len(LINE_COLOURS))], np.float32) / 255
        if dark_board:  # chalkboards have light lines, if any
            colour = np.clip(paper + 0.25, 0, 1)
        cov = _lines((h, w), rng, lines, spacing, width, tilt)[..., None]
        strength = rng.uniform(0.5, 1.0)
        page = page * (1 - strength * cov) + colour * strength * cov
        p.update(spacing=round(spacing, 1), line_width=round(width, 1), tilt=round(tilt, 1))
    opacity = rng.uniform(0.65, 1.0) if ink_name in ("pencil", "chalk") else rng.uniform(0.85, 1)
    a = (a * opacity)[..., None]
    img = page * (1 - a) + ink * a
    # Light: a gradient, vignetting and sometimes a soft-edged shadow across part of the page.
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    yy, xx = yy / h - 0.5, xx / w - 0.5
    theta = rng.uniform(0, 2 * np.pi)
    light = 1 + rng.uniform(0, 0.35) * (np.cos(theta) * xx + np.sin(theta) * yy)
    light -= rng.uniform(0, 0.5) * (xx ** 2 + yy ** 2)
    if rng.random() < 0.4:
        phi = rng.uniform(0, 2 * np.pi)
        dist = (np.cos(phi) * xx + np.sin(phi) * yy - rng.uniform(-0.3, 0.3)) * max(h, w)
        soft = rng.uniform(4, 60)
        depth = rng.uniform(0.2, 0.5)
        light *= 1 - depth / (1 + np.exp(-dist / soft * 4))
        p.update(shadow=round(float(depth), 2))
    img = img * light[..., None]
    blur = float(rng.uniform(0, 1.5))
    if blur > 0.3:
        img = ndimage.gaussian_filter(img, (blur, blur, 0))
    noise = float(rng.uniform(0.004, 0.035))
    img = img + noise * rng.standard_normal(img.shape).astype(np.float32)
    out = Image.fromarray((np.clip(img, 0, 1) * 255).round().astype(np.uint8), "RGB")
    buf = io.BytesIO()
    if rng.random() < 0.8:
        quality = int(rng.integers(35, 96))
        out.save(buf, "JPEG", quality=quality)
        p.update(jpeg=quality)
    else:
        out.save(buf, "PNG")
    p.update(blur=round(blur, 2), noise=round(noise, 3))
    return Render(buf.getvalue(), p)


def corpus(images: np.ndarray, seed: int = 0) -> list[Render]:
    """One render per digit of uint8 [N, 28, 28] (or [N, 1, 28, 28]); render i is seeded with
    (seed, i), so a longer corpus starts with the renders of a shorter one."""
    imgs = np.asarray(images).reshape(-1, 28, 28)
    return [render(d, seed * 1_000_003 + i) for i, d in enumerate(imgs)]
