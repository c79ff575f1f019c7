"""Any uploaded image -> an MNIST-like 28x28 digit in [0, 1], or an ImageError saying why.

The recipe is MNIST's own (LeCun et al.): grey levels, white ink on black, the digit's bounding
box fitted into 20x20 keeping its aspect ratio, then placed in 28x28 so that its centre of mass
is at the centre. Before that, a photo's paper is told from its ink: the paper's brightness is
estimated (a smooth surface, so uneven lighting goes too) and subtracted, the ink is whichever
side of the paper the far-off pixels lie on (never an absolute brightness), and differences
within a few noise levels, and specks, are not ink. Files are accepted by content (Pillow must
open and verify them), never by their extension, and limited in bytes and pixels before they
are decoded.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import ImageError
from .paper import (NOISE_K, border_shading, contrast_gray, ink_is_dark, mad_sigma,
                    paper_lines, remove_shadows, stroke_estimate, stroke_width)

MAX_BYTES = 10 * 1024 * 1024  # keep equal to server.maxUploadSize in .streamlit/config.toml
MAX_PIXELS = 40_000_000
FIT = 20  # the digit's box is scaled to fit FIT x FIT, as in MNIST
SIZE = 28
INK_FRACTION = 0.25  # pixels brighter than this share of the max count as ink for the crop
MIN_CONTRAST = 0.08  # below this spread between ink and background there is no digit
MIN_SNR = 6.0  # the ink must stand this many noise levels off the paper to be a digit
SPECK_FRACTION = 0.02  # ink pieces smaller than this share of the largest piece are specks
PAPER_SIDE = 96  # the paper's brightness is fitted on a copy at most this many pixels a side
NOISE_SAMPLE = 250_000  # pixels (a regular subsample) used to measure the noise level
# Where MNIST puts the centre of mass: measured on its 70,000 digits it is (14.0, 14.0) with a
# spread of +-0.5 px (integer shifts), not the geometric pixel centre 13.5.
CENTRE = SIZE / 2
STROKE_MIN = 2.0  # output strokes thinner than this (px) are thickened ...
STROKE_TARGET = 2.5  # ... to about this width
MID_PER_OUT = 4  # resolution of the thickening step, in pixels per output pixel


def open_image(data: bytes | str | Path, max_bytes: int = MAX_BYTES,
               max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Open and fully decode an image's first frame, upright (EXIF orientation applied)."""
    if isinstance(data, (str, Path)):
        p = Path(data)
        if not p.is_file():
            raise ImageError(f"image not found: {p}")
        if p.stat().st_size > max_bytes:
            raise ImageError(f"{p.name} is {p.stat().st_size / 2**20:.1f} MB; the limit is "
                             f"{max_bytes / 2**20:.0f} MB")
        data = p.read_bytes()
    if len(data) == 0:
        raise ImageError("the file is empty")
    if len(data) > max_bytes:
        raise ImageError(f"the file is {len(data) / 2**20:.1f} MB; the limit is "
                         f"{max_bytes / 2**20:.0f} MB")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            probe = Image.open(io.BytesIO(data))
            w, h = probe.size
            if w * h > max_pixels:
                raise ImageError(f"the image is {w}x{h} = {w * h / 1e6:.0f} megapixels; the "
                                 f"limit is {max_pixels / 1e6:.0f}")
            probe.verify()  # structural check; the object is unusable afterwards
            img = Image.open(io.BytesIO(data))
            img.seek(0)  # first frame of animated GIF / WebP / multi-page TIFF
            img.load()
            img = ImageOps.exif_transpose(img) or img
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise ImageError(f"the image has too many pixels to decode safely ({e})") from e
    except UnidentifiedImageError as e:
        raise ImageError("this file is not an image we can read (PNG, JPEG, BMP, GIF, WebP "
                         "or TIFF)") from e
    except (OSError, SyntaxError, ValueError, EOFError, TypeError, IndexError,
            MemoryError) as e:
        raise ImageError(f"the image is corrupt or truncated ({type(e).__name__}: {e})") from e
    if img.width < 1 or img.height < 1:
        raise ImageError("the image has no pixels")
    return img


def to_gray(img: Image.Image) -> np.ndarray:
    """Grey levels in [0, 1]; transparency is composited on the background opposite the ink."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        a = np.asarray(img, dtype=np.float64)
        lo, hi = float(a.min()), float(a.max())
        return ((a - lo) / (hi - lo)).astype(np.float32) if hi > lo else \
            np.zeros_like(a, np.float32)
    if img.mode == "P" or img.mode == "PA":
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "La", "RGBa"):
        rgba = np.asarray(img.convert("RGBA"), dtype=np.float32) / 255.0
        alpha = rgba[..., 3]
        lum = rgba[..., :3] @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
        if alpha.min() > 0.999:
            return lum
        # Ink drawn light on a transparent canvas needs a dark backdrop, and vice versa.
        weight = alpha.sum()
        ink_level = float((lum * alpha).sum() / weight) if weight > 0 else 0.0
        backdrop = 0.0 if ink_level > 0.5 else 1.0
        return lum * alpha + backdrop * (1 - alpha)
    if img.mode == "LAB":  # CIELAB TIFF: Pillow cannot convert it, but L is the lightness
        img = img.getchannel("L")
    try:
        grey = img.convert("L")
    except (ValueError, OSError) as e:
        raise ImageError(f"unsupported colour mode {img.mode!r}") from e
    return np.asarray(grey, dtype=np.float32) / 255.0


def _thicken_thin_strokes(g: np.ndarray) -> np.ndarray:
    """A pen stroke a few pixels wide in a large photo would shrink to a fraction of an output
    pixel and fade to a grey ghost. When the digit's strokes would come out thinner than
    STROKE_MIN pixels, max-pool the crop down to MID_PER_OUT pixels per output pixel (which
    keeps thin strokes at full intensity) and dilate them to about STROKE_TARGET output pixels.
    MNIST's strokes are 2-4 px wide (median 3)."""
    h, w = g.shape
    scale = FIT / max(h, w)
    if scale >= 1 or stroke_width(g > 0.5) * scale >= STROKE_MIN:
        return g
    f = max(1, int(1 / (scale * MID_PER_OUT)))
    if f > 1:
        hp, wp = -(-h // f) * f, -(-w // f) * f
        pad = np.zeros((hp, wp), np.float32)
        pad[:h, :w] = g
        g = pad.reshape(hp // f, f, wp // f, f).max(axis=(1, 3))
    mid_scale = FIT / max(g.shape)  # output pixels per mid-resolution pixel
    extra = round(STROKE_TARGET / mid_scale - max(stroke_width(g > 0.5), 1.0))
    if extra <= 0:
        return g
    g = np.pad(g, extra)  # room for the strokes to grow, so nothing is cut off
    for axis in (0, 1):  # separable max filter of size extra + 1
        padded = np.pad(g, [(extra // 2, extra - extra // 2) if a == axis else (0, 0)
                            for a in (0, 1)])
        g = np.lib.stride_tricks.sliding_window_view(padded, extra + 1, axis=axis).max(-1)
    rows = np.flatnonzero((g > INK_FRACTION).any(1))
    cols = np.flatnonzero((g > INK_FRACTION).any(0))
    return np.ascontiguousarray(g[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1])


def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates in [-1, 1] down the rows [h, 1] and across the columns [1, w]."""
    return (np.linspace(-1, 1, h, dtype=np.float32)[:, None],
            np.linspace(-1, 1, w, dtype=np.float32)[None, :])


def paper_level(g: np.ndarray) -> tuple[np.ndarray, float]:
    """The paper's brightness under the digit and its pixel-to-pixel noise (sensor, JPEG).

    The brightness is a quadratic surface in x and y (so that a lighting gradient or
    vignetting is removed too), float32, broadcastable to g. It is fitted on a shrunken copy to
    the pixels that look like paper: first a plane through the image's border, then the whole
    surface through every pixel within 3 noise levels of it, a few times over. The noise level
    is a robust standard deviation of the full-resolution residual in those paper regions
    only, so a digit that fills much of the image does not count as noise.
    """
    h, w = g.shape
    fy, fx = -(-h // PAPER_SIDE), -(-w // PAPER_SIDE)
    sh, sw = h // fy, w // fx
    # The noise is measured on a regular subsample: it keeps single-pixel noise, bounds the cost.
    stride = max(1, int(np.sqrt(g.size / NOISE_SAMPLE)))
    rows, cols = np.arange(0, h, stride), np.arange(0, w, stride)
    if sh < 4 or sw < 4:  # too few pixels to fit a surface: one level, the border's
        border = np.concatenate([g[0], g[-1], g[:, 0], g[:, -1]])
        level = np.full((1, 1), np.median(border), np.float32)
        return level, mad_sigma(g[np.ix_(rows, cols)] - level)
    # Block means: fast, and the surface is the slow variation anyway.
    small = g[:sh * fy, :sw * fx].reshape(sh, fy, sw, fx).mean(axis=(1, 3), dtype=np.float64)
    y, x = (a.astype(np.float64) for a in _grid(sh, sw))
    design = np.stack([np.broadcast_to(t, (sh, sw)).ravel()
                       for t in (np.ones((1, 1)), x, y, x * x, x * y, y * y)], axis=1)
    values = small.ravel()
    ring = np.zeros((sh, sw), bool)
    ring[[0, -1]] = ring[:, [0, -1]] = True
    mask, n_terms, coef = ring.ravel(), 3, np.zeros(6)
    for _ in range(4):
        coef[:] = 0
        a = design[mask, :n_terms]  # least squares by the normal equations: 6x6, fast
        coef[:n_terms] = np.linalg.lstsq(a.T @ a, a.T @ values[mask], rcond=None)[0]
        resid = values - design @ coef
        # Not below 2 grey levels in 255: a noiseless page must not fall apart into specks.
        keep = np.abs(resid) <= max(3 * mad_sigma(resid[mask]), 2 / 255)
        if keep.sum() < 4 * len(coef):
            break
        mask, n_terms = keep, len(coef)
    c0, cx, cy, cxx, cxy, cyy = (float(v) for v in coef)
    y, x = _grid(h, w)
    surface = np.empty(g.shape, np.float32)  # built in place: photos can be 40 megapixels
    surface[:] = (cx + cxx * x) * x
    surface += c0 + (cy + cyy * y) * y
    if cxy:
        surface += (cxy * y) * x
    paper = mask.reshape(sh, sw)[np.minimum(rows // fy, sh - 1)][:, np.minimum(cols // fx, sw - 1)]
    resid = g[np.ix_(rows, cols)] - surface[np.ix_(rows, cols)]
    return surface, mad_sigma(resid[paper])


def ink_map(g: np.ndarray) -> np.ndarray:
    """Grey image in [0, 1] -> ink in [0, 1] (1 at the strongest ink, 0 on the paper), light
    or dark ink alike; raises ImageError when no digit stands out from the paper."""
    surface, sigma = paper_level(g)
    d = np.subtract(g, surface, out=surface if surface.shape == g.shape else None,
                    dtype=np.float32)
    floor = NOISE_K * sigma
    # The ink lies far from the paper, on one side of it: the side with more far-off mass.
    far = max(floor, MIN_CONTRAST / 2)
    dark = light = 0.0
    chunk = max(1, NOISE_SAMPLE // d.shape[1])  # in row bands, to bound the temporaries
    for i in range(0, d.shape[0], chunk):
        band = d[i:i + chunk]
        dark += float(np.clip(-band - far, 0, None).sum())
        light += float(np.clip(band - far, 0, None).sum())
    # Shadows and lit patches are far off too, but they run along the border: judged
    # without them when there is ink elsewhere.
    is_dark = ink_is_dark(d, far)
    is_dark = dark > light if is_dark is None else is_dark
    ink = np.negative(d, out=d) if is_dark else d
    peak = float(ink.max())
    if peak < MIN_CONTRAST:
        raise ImageError("no digit found: the image is blank (all one shade)")
    # What the smooth surface left: paper lines (long and thin), shadows and stains (broad).
    # Once shading is gone, the noise is measured again: shading is not noise.
    raw = -g if is_dark else g
    lines = paper_lines(ink, raw, floor)
    if lines is not None:
        ink -= lines
        raw = raw - lines
    stroke = stroke_estimate(ink)
    ink, flat_sigma = remove_shadows(ink, raw, stroke)
    if flat_sigma is not None:
        sigma, floor = flat_sigma, NOISE_K * flat_sigma
    peak = float(ink.max())
    if peak < MIN_SNR * sigma or peak < MIN_CONTRAST:
        raise ImageError("no digit found: nothing stands out from the paper, its lines and "
                         "the image's noise")
    # Within the noise floor of the paper is paper: subtract it, so that the background comes
    # out black rather than speckled grey.
    ink -= floor
    np.maximum(ink, 0.0, out=ink)
    ink /= peak - floor
    # Ink comes in pieces of many pixels, noise that got past the floor in specks of a few:
    # left in, one speck far off would stretch the digit's box over the whole photo.
    from scipy import ndimage  # here, not at the top: 0.5 s off the app's first page

    eight = np.ones((3, 3), bool)
    labels, n = ndimage.label(ink > INK_FRACTION, structure=eight)
    if n > 1:
        # So is what is left of a shadow's or a page's edge: along the border. It goes with
        # its fainter fringe (the pieces above the floor it lies in, unless they hold ink).
        shading = border_shading(labels, n, stroke)
        if shading.any():
            faint, m = ndimage.label(ink > 0, structure=eight)
            has_shade = np.bincount(faint[shading[labels]], minlength=m + 1) > 0
            has_ink = np.bincount(faint[(labels > 0) & ~shading[labels]], minlength=m + 1) > 0
            drop = has_shade & ~has_ink
            drop[0] = False
            ink[drop[faint] | shading[labels]] = 0.0
            ink /= float(ink.max())
            labels, n = ndimage.label(ink > INK_FRACTION, structure=eight)
        areas = np.bincount(labels.ravel(), minlength=n + 1)
        areas[0] = areas.max()  # the background (label 0) is no speck
        speck = areas < SPECK_FRACTION * areas[1:].max()
        if speck.any():
            ink[speck[labels]] = 0.0
            ink /= float(ink.max())
    return ink


def to_mnist(gray: np.ndarray) -> np.ndarray:
    """Grey array (any size, values in [0, 1]) -> MNIST-like float32 [28, 28] in [0, 1]."""
    with np.errstate(over="ignore"):  # values beyond float32 become inf, refused below
        g = np.asarray(gray, dtype=np.float32)
    if g.ndim != 2 or g.size == 0:
        raise ImageError(f"expected a 2-D grey image, got shape {g.shape}")
    if not np.isfinite(g).all():
        raise ImageError("the image holds NaN or infinite values")
    g = ink_map(np.clip(g, 0.0, 1.0))
    rows = np.flatnonzero((g > INK_FRACTION).any(1))
    cols = np.flatnonzero((g > INK_FRACTION).any(0))
    g = g[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    g = _thicken_thin_strokes(g)
    h, w = g.shape
    scale = FIT / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    small = Image.fromarray((g * 255).astype(np.uint8)).resize((nw, nh), Image.Resampling.LANCZOS)
    box = np.asarray(small, dtype=np.float32) / 255.0
    out = np.zeros((SIZE, SIZE), dtype=np.float32)
    top, left = (SIZE - nh) // 2, (SIZE - nw) // 2
    out[top:top + nh, left:left + nw] = box
    total = out.sum()
    if total > 0:
        ys, xs = np.indices(out.shape)
        cy, cx = (ys * out).sum() / total, (xs * out).sum() / total
        dy = int(np.clip(round(CENTRE - cy), -top, SIZE - nh - top))
        dx = int(np.clip(round(CENTRE - cx), -left, SIZE - nw - left))
        out = np.roll(out, (dy, dx), axis=(0, 1))
    return np.clip(out, 0.0, 1.0)


def preprocess_image(data: bytes | str | Path, max_bytes: int = MAX_BYTES,
                     max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Bytes or a path of any image -> MNIST-like float32 [28, 28] in [0, 1].

    Grey levels are the luminance; only if no digit stands out in it, a colour image is tried
    again in grey levels along its ink-paper colour difference (yellow ink on white paper is
    nearly invisible in luminance, blue lines on kraft paper nearly so, and the lines should
    stay that way).
    """
    img = open_image(data, max_bytes, max_pixels)
    try:
        return to_mnist(to_gray(img))
    except ImageError as first:
        colour = _colour_gray(img)
        if colour is None:
            raise
        try:
            return to_mnist(colour)
        except ImageError:
            raise first from None


def _colour_gray(img: Image.Image) -> np.ndarray | None:
    """An opaque colour image in grey levels along its ink-paper colour difference (None for
    grey or transparent images, or a nearly grey difference)."""
    if img.mode not in ("RGB", "RGBX", "CMYK", "YCbCr", "HSV", "RGBA", "P"):
        return None
    rgba = np.asarray(img.convert("RGBA"), dtype=np.float32) / 255.0
    return contrast_gray(rgba[..., :3]) if rgba[..., 3].min() > 0.999 else None


def to_png_bytes(img: np.ndarray, scale: int = 1) -> bytes:
    """A [H, W] array in [0, 1] as PNG bytes, optionally enlarged with nearest neighbour."""
    arr = (np.clip(np.asarray(img, dtype=np.float32), 0, 1) * 255).round().astype(np.uint8)
    pil = Image.fromarray(arr, mode="L")
    if scale > 1:
        pil = pil.resize((pil.width * scale, pil.height * scale), Image.Resampling.NEAREST)
    buf = io.BytesIO()
    pil.save(buf, format="PNG")
    return buf.getvalue()
