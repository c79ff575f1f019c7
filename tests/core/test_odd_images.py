"""Odd but valid images (issue 16, item 5) are accepted, reconstructed by the bundled upload
model, and both the preprocessed digit and its reconstruction read as the digit that was
drawn. (tests/core/test_preprocess.py checks the same formats pixel by pixel, and that hostile
files are refused.)"""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from realworld import render
from vae_core import load_checkpoint, preprocess_image
from vae_core.classifier import classify

pytestmark = pytest.mark.usefixtures("one_torch_thread")

LABELS = (2, 4, 7)


@pytest.fixture(scope="module")
def digits(mnist_test) -> dict[int, np.ndarray]:
    """One MNIST test digit of each label in LABELS (uint8, white on black)."""
    out: dict[int, np.ndarray] = {}
    for img, label in zip(mnist_test.images[:, 0].numpy(), mnist_test.labels.tolist(),
                          strict=True):
        if label in LABELS:
            out.setdefault(label, img)
    return out


@pytest.fixture(scope="module")
def upload_model(repo_root):
    return load_checkpoint(repo_root / "checkpoints/mnist-conv-upload").model


def encode(img: Image.Image, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def coverage(d: np.ndarray, scale: int) -> np.ndarray:
    """The digit's ink coverage in [0, 1], enlarged `scale` times."""
    big = Image.fromarray(d).resize((28 * scale, 28 * scale), Image.Resampling.BICUBIC)
    return np.asarray(big, np.float32) / 255


def photo(d: np.ndarray, seed: int) -> Image.Image:
    """A photo-like RGB render of the digit (tests/realworld.py)."""
    return Image.open(io.BytesIO(render(d, seed).data)).convert("RGB")


def assert_read_back(data: bytes, label: int, model) -> None:
    """Accepted; the classifier reads `label` in the preprocessed digit and in the model's
    reconstruction of it."""
    x = preprocess_image(data)
    assert classify(x)[0][0] == label
    with torch.no_grad():
        rec = model.reconstruct(torch.from_numpy(x).view(1, 1, 28, 28))
    assert classify(rec)[0][0] == label


def sixteen_bit_png(d: np.ndarray) -> bytes:
    """A 16-bit greyscale PNG (a scanner's output): dark ink on light paper, full range."""
    grey = 60_000 - coverage(d, 6) * 55_000
    img = Image.fromarray(grey.astype(np.uint16))
    assert img.mode.startswith("I;16")
    return encode(img)


def cmyk_jpeg(d: np.ndarray) -> bytes:
    img = photo(d, 11).convert("CMYK")
    data = encode(img, "JPEG", quality=90)
    assert Image.open(io.BytesIO(data)).mode == "CMYK"
    return data


def exif_rotated_jpeg(d: np.ndarray) -> bytes:
    """Stored on its side, with the EXIF tag that says 'rotate 90 degrees to display'."""
    stored = photo(d, 12).transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    return encode(stored, "JPEG", exif=exif.tobytes(), quality=92)


def alpha_only(d: np.ndarray) -> bytes:
    """A drawing app's export: black everywhere, the ink only in the alpha channel."""
    a = (coverage(d, 8) * 255).round().astype(np.uint8)
    rgba = np.zeros((*a.shape, 4), np.uint8)
    rgba[..., 3] = a
    return encode(Image.fromarray(rgba, "RGBA"))


def animated_gif(d: np.ndarray, other: np.ndarray) -> bytes:
    """Two frames: the digit, then another digit; the first frame is the upload."""
    frames = [photo(x, 13).convert("P") for x in (d, other)]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=200,
                  loop=0)
    assert getattr(Image.open(io.BytesIO(data)), "n_frames", 1) == 2
    return data


def dark_on_dark_grey(d: np.ndarray) -> bytes:
    """Dark ink on dark-grey paper (once refused as blank), with sensor noise, as JPEG."""
    g = 0.28 - 0.2 * coverage(d, 8)
    g += np.random.default_rng(0).normal(0, 0.01, g.shape).astype(np.float32)
    canvas = np.full((400, 500), 0.28, np.float32)
    canvas += np.random.default_rng(1).normal(0, 0.01, canvas.shape).astype(np.float32)
    canvas[90:90 + g.shape[0], 140:140 + g.shape[1]] = g
    return encode(Image.fromarray((np.clip(canvas, 0, 1) * 255).astype(np.uint8)), "JPEG",
                  quality=85)


def small_in_large_photo(d: np.ndarray) -> bytes:
    """A 3000x2200 phone photo of a page with a digit about 170 px tall, off centre, under
    uneven light, as JPEG."""
    h, w = 2200, 3000
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    page = 0.92 - 0.15 * xx / w - 0.08 * yy / h
    cov = coverage(d, 6)
    y0, x0 = 1300, 800
    page[y0:y0 + cov.shape[0], x0:x0 + cov.shape[1]] *= 1 - 0.85 * cov
    rgb = np.stack([page, page * 0.98, page * 0.93], -1)
    rgb += np.random.default_rng(2).normal(0, 0.01, rgb.shape).astype(np.float32)
    return encode(Image.fromarray((np.clip(rgb, 0, 1) * 255).astype(np.uint8)), "JPEG",
                  quality=88)


@pytest.mark.parametrize("label", LABELS)
@pytest.mark.parametrize("make", [sixteen_bit_png, cmyk_jpeg, exif_rotated_jpeg, alpha_only,
                                  dark_on_dark_grey])
def test_odd_image_is_read_back(digits, upload_model, make, label: int) -> None:
    assert_read_back(make(digits[label]), label, upload_model)


@pytest.mark.parametrize("label", LABELS)
def test_animated_gif_first_frame_is_read_back(digits, upload_model, label: int) -> None:
    other = next(v for k, v in digits.items() if k != label)
    assert_read_back(animated_gif(digits[label], other), label, upload_model)


def test_small_digit_in_a_3000x2200_photo_is_read_back(digits, upload_model) -> None:
    data = small_in_large_photo(digits[4])
    assert Image.open(io.BytesIO(data)).size == (3000, 2200)
    assert_read_back(data, 4, upload_model)


def test_exif_tag_is_what_makes_it_upright(digits) -> None:
    """Without its tag the stored pixels are a digit on its side: the classifier must not
    read it as well (so the EXIF test above tests the tag)."""
    stored = photo(digits[7], 12).transpose(Image.Transpose.ROTATE_90)
    _, probs = classify(preprocess_image(encode(stored, "JPEG", quality=92)))
    upright, up_probs = classify(preprocess_image(exif_rotated_jpeg(digits[7])))
    assert upright[0] == 7 and probs[0, 7] < up_probs[0, 7]
