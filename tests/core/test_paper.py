"""Paper, not ink (vae_core.paper): ruled, squared and margin lines, sharp shadows, lit
patches and colours that luminance loses are taken away, and the digit is what is left: the
same 28x28 digit as from the same ink on plain white paper."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from vae_core import ImageError, preprocess_image
from vae_core.classifier import classify
from vae_core.paper import contrast_gray, ink_is_dark, paper_lines
from vae_core.preprocess import to_mnist

H, W = 420, 560
AT = (120, 230)  # where the digit's 28*SCALE box starts
SCALE = 6


@pytest.fixture(scope="module")
def digits(mnist_test) -> dict[int, np.ndarray]:
    out: dict[int, np.ndarray] = {}
    for img, label in zip(mnist_test.images[:, 0].numpy(), mnist_test.labels.tolist(),
                          strict=True):
        out.setdefault(label, img)
    return out


def cover(d: np.ndarray, scale: int = SCALE) -> np.ndarray:
    big = Image.fromarray(d).resize((28 * scale, 28 * scale), Image.Resampling.BICUBIC)
    return np.asarray(big, np.float32) / 255


def page(d: np.ndarray, paper: np.ndarray | float = 0.92, ink: float = 0.1,
         at: tuple[int, int] = AT, noise: float = 0.01) -> np.ndarray:
    """Grey [H, W]: ink on `paper` (a level or a field), with a little sensor noise."""
    g = np.broadcast_to(np.float32(paper), (H, W)).copy()
    c = cover(d)
    (y, x), n = at, c.shape[0]
    g[y:y + n, x:x + n] += (ink - g[y:y + n, x:x + n]) * c
    g += np.random.default_rng(0).normal(0, noise, g.shape).astype(np.float32)
    return np.clip(g, 0, 1)


def ruled(spacing: int = 40, width: int = 2, tilt_deg: float = 1.5, vertical: bool = False,
          level: float = 0.85) -> np.ndarray:
    """Lines of brightness `level` (0 where there is no line, 1 on a line: a blend weight)."""
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    t = np.tan(np.radians(tilt_deg))
    coord = (xx - yy * t) if vertical else (yy + xx * t)
    on = (coord % spacing) < width
    return on.astype(np.float32) * level


def with_lines(g: np.ndarray, weight: np.ndarray, line: float = 0.5) -> np.ndarray:
    """Lines printed under the ink: the paper's brightness moves to `line` where weight is 1,
    but ink stays ink (the darker wins)."""
    paper_with_lines = g * (1 - weight) + line * weight
    return np.minimum(g, paper_with_lines)


def corr(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def as_png(g: np.ndarray | Image.Image) -> bytes:
    img = g if isinstance(g, Image.Image) else Image.fromarray((g * 255).astype(np.uint8))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


@pytest.mark.parametrize("label", [0, 1, 4, 7])
@pytest.mark.parametrize("kind", ["ruled", "squared", "margin"])
def test_paper_lines_are_removed(digits, label: int, kind: str) -> None:
    d = digits[label]
    plain = to_mnist(page(d))
    weight = {"ruled": ruled(),
              "squared": np.maximum(ruled(spacing=45), ruled(spacing=45, vertical=True)),
              "margin": (np.abs(np.arange(W) - 80) < 2)[None, :].repeat(H, 0) * 0.85,
              }[kind]
    out = to_mnist(with_lines(page(d), weight))
    assert corr(out, plain) > 0.85
    assert classify(out)[0][0] == label


def test_a_tall_one_is_not_a_margin_line(digits) -> None:
    """A 1 that crosses the whole image is a long, straight, lone vertical stroke: it stays."""
    d = digits[1]
    c = cover(d, 15)[40:-40]  # the stroke runs from the top edge to the bottom edge
    g = 0.9 - 0.8 * c
    out = to_mnist(g)
    assert classify(out)[0][0] == 1 and out.sum() > 30


def test_lines_darker_than_the_ink_are_found(digits) -> None:
    d = digits[3]
    g = page(d, ink=0.45)
    weight = np.maximum(ruled(spacing=50, width=3), ruled(spacing=50, width=3, vertical=True))
    lines = paper_lines(0.92 - with_lines(g, weight, line=0.25),
                        -with_lines(g, weight, line=0.25), 0.03)
    assert lines is not None and (lines > 0.3).mean() > 0.05
    out = to_mnist(with_lines(g, weight, line=0.25))
    assert classify(out)[0][0] == 3


@pytest.mark.parametrize("label", [2, 6, 8])
@pytest.mark.parametrize("edge", [2.0, 15.0])
def test_sharp_shadow_across_the_page(digits, label: int, edge: float) -> None:
    """A shadow with a sharp edge (a hand, a phone) over part of the page and of the digit:
    it is not ink, and the ink is still dark ink (a large lit patch once flipped the
    polarity: light on dark)."""
    d = digits[label]
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    dist = np.clip((xx * 0.8 + yy * 0.6 - 330) / edge, -50, 50)
    light = 1 - 0.5 / (1 + np.exp(-dist))
    g = np.clip(page(d, ink=0.25) * light, 0, 1)
    assert ink_is_dark(g - np.median(g), 0.05) is True
    out = to_mnist(g)
    assert corr(out, to_mnist(page(d, ink=0.25))) > 0.85
    assert classify(out)[0][0] == label


def test_isoluminant_coloured_ink_is_found(digits) -> None:
    """Green ink on pink paper of about the same luminance: no digit in grey levels, found
    along the ink-paper colour difference."""
    d = digits[5]
    c = cover(d)[..., None]
    paper, ink = np.array([240, 200, 200], np.float32), np.array([150, 230, 170], np.float32)
    rgb = np.broadcast_to(paper, (H, W, 3)).copy()
    (y, x), n = AT, c.shape[0]
    rgb[y:y + n, x:x + n] = paper * (1 - c) + ink * c
    rgb += np.random.default_rng(1).normal(0, 2, rgb.shape).astype(np.float32)
    img = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), "RGB")
    with pytest.raises(ImageError):
        to_mnist(np.asarray(img.convert("L"), np.float32) / 255)  # luminance alone
    grey = contrast_gray(np.asarray(img, np.float32) / 255)
    assert grey is not None
    out = preprocess_image(as_png(img))
    assert classify(out)[0][0] == 5
    assert corr(out, to_mnist(page(d))) > 0.85


def test_grey_images_have_no_colour_grey() -> None:
    rgb = np.repeat(np.random.default_rng(0).random((50, 60, 1), np.float32), 3, axis=2)
    assert contrast_gray(rgb) is None


def test_blank_ruled_page_is_no_digit() -> None:
    """(Level lines: of a tilted one the last few pixels, where it leaves through the top
    edge, can be left over and then read as a tiny digit: a known limit.)"""
    g = with_lines(np.full((H, W), 0.92, np.float32), ruled(tilt_deg=0)) \
        + np.random.default_rng(0).normal(0, 0.01, (H, W)).astype(np.float32)
    with pytest.raises(ImageError, match="no digit"):
        to_mnist(np.clip(g, 0, 1))
