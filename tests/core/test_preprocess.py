"""Uploaded images -> MNIST-like digits: the recipe, every image flavour, hostile files, and
property tests (hypothesis) that nothing but a valid digit or an ImageError ever comes out."""

from __future__ import annotations

import io
import struct
import time
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays
from PIL import Image, ImageFilter

from vae_core import ImageError, preprocess_image, to_png_bytes
from vae_core import preprocess as pp
from vae_core.preprocess import to_mnist

FUZZ = settings(max_examples=80, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# --- helpers -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def digits(mnist_test) -> dict[int, np.ndarray]:
    """One real MNIST test digit per class, uint8 [28, 28], white ink on black."""
    out: dict[int, np.ndarray] = {}
    pairs = zip(mnist_test.images[:, 0].numpy(), mnist_test.labels.tolist(), strict=True)
    for img, label in pairs:
        out.setdefault(label, img)
        if len(out) == 10:
            break
    return out


def encode(img: Image.Image, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def corr(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(np.asarray(a, np.float64).ravel(),
                             np.asarray(b, np.float64).ravel())[0, 1])


def photo_like(d: np.ndarray, scale: int = 10) -> Image.Image:
    """Dark ink on light paper, enlarged: what a user uploads."""
    return Image.fromarray(255 - d).resize((28 * scale, 28 * scale), Image.Resampling.BICUBIC)


def assert_valid(out: np.ndarray) -> None:
    assert isinstance(out, np.ndarray)
    assert out.shape == (28, 28) and out.dtype == np.float32
    assert np.isfinite(out).all() and out.min() >= 0 and out.max() <= 1


def centre_of_mass(a: np.ndarray) -> tuple[float, float]:
    ys, xs = np.indices(a.shape)
    t = a.sum()
    return float((ys * a).sum() / t), float((xs * a).sum() / t)


# --- the MNIST recipe ----------------------------------------------------------------------
@pytest.mark.parametrize("label", range(10))
def test_real_digit_round_trip(digits, label: int) -> None:
    d = digits[label]
    out = preprocess_image(encode(photo_like(d)))
    assert_valid(out)
    assert corr(out, d / 255.0) > 0.9
    # MNIST's own convention: centre of mass within half a pixel of (14, 14) (measured on the
    # data set: mean 14.0, spread +-0.5 from integer shifts), i.e. near the centre (13.5, 13.5).
    cy, cx = centre_of_mass(out)
    assert abs(cy - 14.0) <= 0.51 and abs(cx - 14.0) <= 0.51, (cy, cx)
    assert abs(cy - 13.5) <= 1.0 and abs(cx - 13.5) <= 1.0
    rows = np.flatnonzero((out > 0).any(1))
    cols = np.flatnonzero((out > 0).any(0))
    h, w = rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1
    assert max(h, w) <= 20 and max(h, w) >= 17, (h, w)
    assert out.max() == pytest.approx(1.0, abs=0.05)  # normalized ink
    assert np.median(out) < 0.01  # black background


def test_centre_of_mass_matches_mnist_statistics(mnist_test) -> None:
    """Preprocessed renderings of 60 real digits sit where MNIST puts its digits."""
    imgs = mnist_test.images[:60, 0].numpy()
    ours = np.array([centre_of_mass(preprocess_image(encode(photo_like(d, 4)))) for d in imgs])
    theirs = np.array([centre_of_mass(d / 255.0) for d in imgs])
    assert np.abs(ours.mean(0) - theirs.mean(0)).max() < 0.15
    assert np.abs(ours - theirs).max() < 1.0


def test_already_mnist_like_input_is_nearly_unchanged(digits) -> None:
    d = digits[3]
    out = preprocess_image(encode(Image.fromarray(d)))
    assert corr(out, d / 255.0) > 0.9


def test_off_centre_small_digit_is_centred_and_scaled(digits) -> None:
    canvas = np.full((400, 300), 230, np.uint8)
    small = np.asarray(Image.fromarray(255 - digits[7]).resize((56, 56)))
    canvas[20:76, 200:256] = np.minimum(canvas[20:76, 200:256], small)
    out = preprocess_image(encode(Image.fromarray(canvas)))
    cy, cx = centre_of_mass(out)
    assert abs(cy - 14.0) <= 0.51 and abs(cx - 14.0) <= 0.51
    assert corr(out, digits[7] / 255.0) > 0.8


def draw_seven(size: int, width: int) -> bytes:
    from PIL import ImageDraw

    img = Image.new("L", (size, size), 255)
    s = size / 10
    ImageDraw.Draw(img).line([(3 * s, 2 * s), (7 * s, 2 * s), (4 * s, 8 * s)], fill=0,
                             width=width)
    return encode(img)


@pytest.mark.parametrize(("size", "width"), [(1200, 6), (3000, 8), (4000, 12), (600, 2)])
def test_thin_pen_in_large_photo_is_not_a_ghost(size: int, width: int) -> None:
    """A ballpoint stroke in a phone-sized image must come out as a solid MNIST-like digit,
    not a faint grey trace (strokes would otherwise shrink to a fraction of a pixel)."""
    ref = preprocess_image(draw_seven(280, 20))  # thick marker: strokes ~2.4 px after scaling
    out = preprocess_image(draw_seven(size, width))
    assert_valid(out)
    assert out.max() > 0.9
    assert 0.05 < out.mean() < 0.2  # MNIST digits: mean intensity ~0.13
    assert corr(out, ref) > 0.6  # the same 7 (sub-pixel placement differs)
    from vae_core.preprocess import stroke_width

    assert 2 <= stroke_width(out > 0.5) <= 4  # MNIST's range of stroke widths


# --- photos: paper that is not white, sensor noise, uneven light ---------------------------
def on_paper(d: np.ndarray, paper: float | np.ndarray, ink: float, sigma: float = 0.0,
             canvas: tuple[int, int] = (600, 800), at: tuple[int, int] = (200, 350),
             scale: int = 4, seed: int = 0) -> np.ndarray:
    """A real MNIST digit d (uint8, white on black) as a photo: ink of brightness `ink` on
    paper of brightness `paper` (a level or a [H, W] field), enlarged `scale` times, in a
    larger canvas, with Gaussian sensor noise of standard deviation `sigma`; grey in [0, 1]."""
    big = np.asarray(Image.fromarray(d).resize((28 * scale, 28 * scale),
                                               Image.Resampling.BICUBIC), np.float32) / 255
    g = np.broadcast_to(np.float32(paper), canvas).copy()
    (y, x), n = at, 28 * scale
    g[y:y + n, x:x + n] += (ink - g[y:y + n, x:x + n]) * big
    g += np.random.default_rng(seed).normal(0, sigma, canvas).astype(np.float32)
    return np.clip(g, 0, 1)


def as_png(g: np.ndarray) -> bytes:
    return encode(Image.fromarray((g * 255).round().astype(np.uint8)))


def ink_box(a: np.ndarray) -> np.ndarray:
    """(top, bottom, left, right) of the pixels above a quarter of full ink."""
    rows, cols = np.flatnonzero((a > 0.25).any(1)), np.flatnonzero((a > 0.25).any(0))
    return np.array([rows[0], rows[-1], cols[0], cols[-1]])


def off_digit(out: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """out's pixels more than 2 px away from any ink of ref: the background."""
    near = np.asarray(Image.fromarray((ref > 0.05).astype(np.uint8) * 255).filter(
        ImageFilter.MaxFilter(5))) > 0
    return out[~near]


def assert_same_digit(out: np.ndarray, ref: np.ndarray, min_corr: float) -> None:
    """out is ref's digit: the same tight box (within a pixel), the same strokes, a clean
    background (a noisy photo's background once came out as a grey box around a small digit,
    issue 18)."""
    assert_valid(out)
    assert np.abs(ink_box(out) - ink_box(ref)).max() <= 1, (ink_box(out), ink_box(ref))
    assert corr(out, ref) > min_corr
    assert off_digit(out, ref).max() <= 0.05


@pytest.mark.parametrize("label", range(10))
def test_noisy_photo_on_grey_paper_is_cropped_tightly(digits, label: int) -> None:
    """Issue 18 bug 5: dark grey ink on light grey paper, a little sensor noise, an 800x600
    photo. The noise used to count as ink, so the crop covered the whole photo."""
    d = digits[label]
    ref = to_mnist(on_paper(d, 1.0, 0.0))
    out = preprocess_image(as_png(on_paper(d, 0.8, 0.35, sigma=0.03, seed=label)))
    assert_same_digit(out, ref, 0.9 if label == 4 else 0.8)


@pytest.mark.parametrize("paper", [0.5, 0.3])
@pytest.mark.parametrize("sigma", [0.0, 0.02])
def test_dark_ink_on_grey_paper_is_a_digit(digits, paper: float, sigma: float) -> None:
    """Issue 16: the polarity was decided by the border's brightness against 0.5, so dark ink
    on mid- or dark-grey paper was taken for light ink on black and refused as blank."""
    for label in (2, 4, 7):
        d = digits[label]
        ref = to_mnist(on_paper(d, 1.0, 0.0, canvas=(300, 400), at=(90, 150)))
        g = on_paper(d, paper, 0.0, sigma, canvas=(300, 400), at=(90, 150), seed=label)
        assert_same_digit(to_mnist(g), ref, 0.9)
        assert_same_digit(preprocess_image(as_png(g)), ref, 0.9)  # as an upload


@pytest.mark.parametrize(("paper", "ink", "sigma"), [(0.0, 1.0, 0.0), (0.1, 0.9, 0.03),
                                                     (0.3, 0.7, 0.02)])
def test_light_ink_on_dark_paper_still_works(digits, paper: float, ink: float,
                                             sigma: float) -> None:
    for label in (0, 4, 9):
        d = digits[label]
        ref = to_mnist(on_paper(d, 1.0, 0.0))
        g = on_paper(d, paper, ink, sigma, seed=label)
        assert_same_digit(preprocess_image(as_png(g)), ref, 0.9)


def test_uneven_light_is_removed(digits) -> None:
    """Paper lit from one side (0.95 down to 0.5 across the photo) or shadowed in a corner:
    the background is estimated and removed, not taken for ink."""
    ys, xs = np.mgrid[0:600, 0:800].astype(np.float32) / np.array([600, 800], np.float32)[
        :, None, None]
    for paper in (0.95 - 0.45 * xs, 0.9 - 0.4 * np.clip(1 - xs - ys, 0, 1)):
        for label in (3, 5):
            d = digits[label]
            ref = to_mnist(on_paper(d, 1.0, 0.0))
            out = preprocess_image(as_png(on_paper(d, paper, 0.1, 0.01, seed=label)))
            assert_same_digit(out, ref, 0.9)


def test_specks_do_not_stretch_the_crop(digits) -> None:
    """Dust on the paper or hot pixels, far from the digit, are not part of it."""
    d = digits[7]
    g = on_paper(d, 0.9, 0.1)
    ref = to_mnist(g)
    for y, x in [(5, 5), (590, 20), (300, 790), (40, 700)]:
        g[y:y + 2, x:x + 2] = 0.1
    assert_same_digit(to_mnist(g), ref, 0.99)


@pytest.mark.parametrize("level", [0.2, 0.5, 0.8])
def test_sensor_noise_alone_is_not_a_digit(level: float) -> None:
    g = np.clip(np.random.default_rng(3).normal(level, 0.08, (300, 400)), 0, 1)
    with pytest.raises(ImageError, match="no digit found"):
        to_mnist(g)
    with pytest.raises(ImageError, match="no digit found"):
        preprocess_image(as_png(g))


# --- image flavours ------------------------------------------------------------------------
def test_palette_png(digits) -> None:
    img = photo_like(digits[2]).convert("RGB").convert("P", palette=Image.Palette.ADAPTIVE)
    assert img.mode == "P"
    out = preprocess_image(encode(img))
    assert corr(out, digits[2] / 255.0) > 0.8


@pytest.mark.parametrize("ink", ["dark", "light"])
def test_rgba_transparent_background(digits, ink: str) -> None:
    big = np.asarray(Image.fromarray(digits[5]).resize((140, 140), Image.Resampling.BICUBIC))
    rgba = np.zeros((140, 140, 4), np.uint8)
    rgba[..., :3] = 0 if ink == "dark" else 255
    rgba[..., 3] = big  # only the strokes are opaque
    data = encode(Image.fromarray(rgba, "RGBA"))
    out = preprocess_image(data)
    assert corr(out, digits[5] / 255.0) > 0.8


def test_rgba_opaque(digits) -> None:
    img = photo_like(digits[6]).convert("RGBA")
    assert corr(preprocess_image(encode(img)), digits[6] / 255.0) > 0.8


def test_grey_with_alpha_la(digits) -> None:
    img = photo_like(digits[6]).convert("LA")
    assert corr(preprocess_image(encode(img)), digits[6] / 255.0) > 0.8


def test_16_bit_grey(digits) -> None:
    a = (255 - np.asarray(photo_like(digits[4], 4), np.uint16)) * 257
    img = Image.fromarray(a.astype(np.uint16))
    assert img.mode.startswith("I;16")
    out = preprocess_image(encode(img))
    assert corr(out, digits[4] / 255.0) > 0.8
    # 16-bit data with a narrow range (a dim scan) still normalizes.
    dim = Image.fromarray((1000 + np.asarray(photo_like(digits[4], 4), np.uint16)).astype(
        np.uint16))
    assert corr(preprocess_image(encode(dim)), digits[4] / 255.0) > 0.8


def test_cmyk_jpeg(digits) -> None:
    img = photo_like(digits[8]).convert("CMYK")
    data = encode(img, "JPEG", quality=95)
    assert Image.open(io.BytesIO(data)).mode == "CMYK"
    assert corr(preprocess_image(data), digits[8] / 255.0) > 0.8


def test_rgb_jpeg_and_bmp_and_webp(digits) -> None:
    img = photo_like(digits[9]).convert("RGB")
    for fmt in ("JPEG", "BMP", "WEBP", "TIFF", "GIF"):
        assert corr(preprocess_image(encode(img, fmt)), digits[9] / 255.0) > 0.8, fmt


def test_exif_orientation(digits) -> None:
    upright = photo_like(digits[7]).convert("RGB")
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # as a phone stores it
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    data = encode(stored, "JPEG", exif=exif.tobytes(), quality=95)
    ref = preprocess_image(encode(upright, "JPEG", quality=95))
    out = preprocess_image(data)
    assert corr(out, ref) > 0.95
    # Without the tag the same pixels give a rotated digit: the check above can fail.
    assert corr(preprocess_image(encode(stored, "JPEG", quality=95)), ref) < 0.6


def test_animated_gif_uses_first_frame(digits) -> None:
    frames = [photo_like(d).convert("P") for d in (digits[1], digits[0])]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100,
                  loop=0)
    assert getattr(Image.open(io.BytesIO(data)), "n_frames", 1) == 2
    out = preprocess_image(data)
    assert corr(out, digits[1] / 255.0) > 0.8
    assert corr(out, digits[1] / 255.0) > corr(out, digits[0] / 255.0) + 0.2


@pytest.mark.parametrize("mode", ["LAB", "YCbCr", "I", "F", "1", "CMYK"])
def test_tiff_colour_modes(digits, mode: str) -> None:
    img = photo_like(digits[0], 4)
    img = img.convert("1") if mode == "1" else img.convert("RGB").convert(mode) \
        if mode in ("LAB", "YCbCr", "CMYK") else img.convert(mode)
    data = encode(img, "TIFF")
    assert Image.open(io.BytesIO(data)).mode == mode
    assert corr(preprocess_image(data), digits[0] / 255.0) > 0.8


def test_path_input(tmp_path, digits) -> None:
    f = tmp_path / "d.png"
    f.write_bytes(encode(photo_like(digits[2])))
    assert corr(preprocess_image(f), preprocess_image(str(f))) == pytest.approx(1.0)
    with pytest.raises(ImageError, match="not found"):
        preprocess_image(tmp_path / "missing.png")


@pytest.mark.parametrize("size", [(1, 1), (5000, 3), (3, 5000), (2, 2)])
def test_degenerate_sizes(size: tuple[int, int]) -> None:
    a = np.full(size[::-1], 255, np.uint8)
    if size[0] >= 3 and size[1] >= 3:
        a[size[1] // 2, size[0] // 2:] = 0 if size[0] > size[1] else 255
        a[size[1] // 2:, size[0] // 2] = 0
    a.flat[a.size // 2] = 0
    try:
        out = preprocess_image(encode(Image.fromarray(a)))
    except ImageError as e:
        assert str(e)
    else:
        assert_valid(out)
        assert out.max() > 0.5


@pytest.mark.parametrize("value", [0, 255, 128])
@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA"])
def test_blank_images(value: int, mode: str) -> None:
    img = Image.new(mode, (64, 48), (value,) * len(mode))
    with pytest.raises(ImageError, match="no digit found"):
        preprocess_image(encode(img))


def test_fully_transparent_image() -> None:
    img = Image.new("RGBA", (40, 40), (0, 0, 0, 0))
    with pytest.raises(ImageError, match="no digit found"):
        preprocess_image(encode(img))


def test_faint_noise_is_not_a_digit() -> None:
    rng = np.random.default_rng(0)
    a = (250 + rng.integers(0, 5, (60, 60))).astype(np.uint8)
    with pytest.raises(ImageError, match="no digit found"):
        preprocess_image(encode(Image.fromarray(a)))


# --- hostile and broken files --------------------------------------------------------------
@pytest.fixture(scope="module")
def good_png(digits) -> bytes:
    return encode(photo_like(digits[3]))


@pytest.mark.parametrize("make", [
    lambda g: g[: len(g) // 2],
    lambda g: g[:60],
    lambda g: g[:8],
    lambda g: g[:-20] + b"\0" * 20,
    lambda g: g[:40] + bytes(b ^ 0xFF for b in g[40:200]) + g[200:],
    lambda g: b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="28" '
              b'height="28"><text x="5" y="20">7</text></svg>',
    lambda g: b"<!DOCTYPE html><html><body><img src=x onerror=alert(1)></body></html>",
    lambda g: b"just some text pretending to be a png\n" * 10,
    lambda g: b"",
    lambda g: b"\x89PNG\r\n\x1a\n",
    lambda g: b"GIF89a" + b"\xff" * 20,
    lambda g: b"\xff\xd8\xff\xe0" + b"\0" * 50,
    lambda g: b"BM" + b"\xff" * 60,
], ids=["half", "header-only", "signature-only", "zeroed-tail", "flipped-idat", "svg", "html",
        "text", "zero-bytes", "png-magic", "gif-garbage", "jpeg-garbage", "bmp-garbage"])
def test_broken_files(good_png: bytes, make) -> None:
    data = make(good_png)
    with pytest.raises(ImageError) as ei:
        preprocess_image(data)
    assert str(ei.value) and "\n" not in str(ei.value)


def test_text_file_with_image_extension(tmp_path) -> None:
    f = tmp_path / "digit.jpg"
    f.write_text("hello")
    with pytest.raises(ImageError, match="not an image"):
        preprocess_image(f)
    (tmp_path / "zero.png").write_bytes(b"")
    with pytest.raises(ImageError, match="empty"):
        preprocess_image(tmp_path / "zero.png")


def test_over_byte_limit(tmp_path, good_png: bytes) -> None:
    big = b"\x89PNG\r\n\x1a\n" + b"\0" * (pp.MAX_BYTES + 1)
    t0 = time.perf_counter()
    with pytest.raises(ImageError, match="limit"):
        preprocess_image(big)
    f = tmp_path / "big.png"
    f.write_bytes(big)
    with pytest.raises(ImageError, match="limit"):
        preprocess_image(f)
    assert time.perf_counter() - t0 < 5
    with pytest.raises(ImageError, match="limit"):
        preprocess_image(good_png, max_bytes=len(good_png) - 1)
    assert_valid(preprocess_image(good_png, max_bytes=len(good_png)))


def png_header_only(width: int, height: int, mode_byte: int = 0, depth: int = 8) -> bytes:
    """A PNG whose IHDR claims width x height, with a tiny (bogus) IDAT: nothing to decode."""
    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(
            ">I", zlib.crc32(tag + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", width, height, depth, mode_byte, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
            + chunk(b"IEND", b""))


@pytest.mark.parametrize(("w", "h", "needle"), [
    (20000, 20000, "pixels"),  # 400 MP: beyond Pillow's own bomb limit too
    (8000, 8000, "megapixels"),  # 64 MP: only our limit refuses it
    (100_000_000, 1, "pixels"),
])
def test_over_pixel_limit_without_decoding(w: int, h: int, needle: str,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    data = png_header_only(w, h)
    with monkeypatch.context() as m:
        m.setattr(Image, "MAX_IMAGE_PIXELS", None)
        assert Image.open(io.BytesIO(data)).size == (w, h)  # the header really claims that
    t0 = time.perf_counter()
    with pytest.raises(ImageError, match=needle):
        preprocess_image(data)
    assert time.perf_counter() - t0 < 2  # refused from the header, nothing decoded


def test_max_pixels_argument(good_png: bytes) -> None:
    with pytest.raises(ImageError, match="megapixels"):
        preprocess_image(good_png, max_pixels=280 * 280 - 1)
    assert_valid(preprocess_image(good_png, max_pixels=280 * 280))


# --- to_mnist and to_png_bytes directly ----------------------------------------------------
@pytest.mark.parametrize("bad", [np.zeros((0, 5)), np.zeros((3, 4, 5)), np.zeros(7),
                                 np.full((5, 5), np.nan), np.array([[np.inf, 0], [0, 0]])])
def test_to_mnist_rejects(bad: np.ndarray) -> None:
    with pytest.raises(ImageError):
        to_mnist(bad)


def test_to_png_bytes_round_trip(digits) -> None:
    a = digits[0] / 255.0
    img = Image.open(io.BytesIO(to_png_bytes(a, scale=3)))
    assert img.size == (84, 84) and img.mode == "L"
    back = np.asarray(img)[::3, ::3]
    assert np.array_equal(back, digits[0])


# --- property tests ------------------------------------------------------------------------
finite_or_not = st.floats(allow_nan=True, allow_infinity=True, width=64)
grey_arrays = arrays(np.float64, array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=60),
                     elements=st.one_of(finite_or_not, st.floats(0, 1), st.sampled_from(
                         [0.0, 1.0, -1.0, 1e30, -1e30])))


@FUZZ
@given(grey_arrays)
def test_to_mnist_property(a: np.ndarray) -> None:
    try:
        out = to_mnist(a)
    except ImageError:
        return
    assert_valid(out)


@FUZZ
@given(arrays(np.float32, array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=60),
              elements=st.floats(0, 1, width=32)))
def test_to_mnist_property_valid_range(a: np.ndarray) -> None:
    try:
        out = to_mnist(a)
    except ImageError as e:
        assert "no digit found" in str(e)
        return
    assert_valid(out)
    assert out.max() > 0.5


SEEDS = {}


def _seed_files() -> dict[str, bytes]:
    """Small valid files of many formats, the starting points for mutation."""
    if not SEEDS:
        # A noisy "7" (the seeds must hold a digit: pure noise is refused, rightly, as "nothing
        # stands out from the image's noise", and the fuzzing would stop at that check).
        rng = np.random.default_rng(1)
        a = rng.integers(170, 230, (12, 10))
        a[2, 2:8] = rng.integers(0, 60, 6)
        a[np.arange(3, 11), [7, 6, 6, 5, 4, 4, 3, 3]] = rng.integers(0, 60, 8)
        base = Image.fromarray(a.astype(np.uint8))
        for fmt, mode in [("PNG", "L"), ("PNG", "RGBA"), ("PNG", "P"), ("PNG", "I;16"),
                          ("JPEG", "RGB"), ("JPEG", "CMYK"), ("GIF", "P"), ("BMP", "RGB"),
                          ("TIFF", "L"), ("TIFF", "F"), ("TIFF", "LAB"), ("TIFF", "YCbCr"),
                          ("TIFF", "1"), ("TIFF", "I"), ("WEBP", "RGB"), ("ICO", "RGBA"),
                          ("PPM", "RGB"), ("TGA", "RGB"), ("PCX", "L"), ("PSD", None)]:
            if fmt == "PSD":
                continue  # Pillow cannot write PSD
            img = base.convert(mode) if mode != "I;16" else Image.fromarray(
                (np.asarray(base, np.uint16) * 257).astype(np.uint16))
            SEEDS[f"{fmt}-{mode}"] = encode(img, fmt)
    return SEEDS


@st.composite
def mutated_images(draw) -> bytes:
    seeds = _seed_files()
    data = bytearray(seeds[draw(st.sampled_from(sorted(seeds)))])
    for _ in range(draw(st.integers(0, 6))):
        op = draw(st.sampled_from(["flip", "truncate", "insert", "set-int"]))
        if not data:
            break
        i = draw(st.integers(0, len(data) - 1))
        if op == "flip":
            data[i] ^= draw(st.integers(1, 255))
        elif op == "truncate":
            del data[i:]
        elif op == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=16))
        else:  # overwrite 4 bytes with an extreme integer (sizes, offsets, counts)
            data[i:i + 4] = struct.pack(">I", draw(st.sampled_from(
                [0, 1, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF, 65536, 30000])))
    return bytes(data)


def check_preprocess(data: bytes) -> None:
    try:
        out = preprocess_image(data, max_pixels=4_000_000)
    except ImageError as e:
        assert str(e)
        return
    assert_valid(out)


@pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow on corrupt EXIF etc.
@FUZZ
@given(st.binary(max_size=2048))
def test_preprocess_random_bytes(data: bytes) -> None:
    check_preprocess(data)


@pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow on corrupt EXIF etc.
@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(mutated_images())
def test_preprocess_mutated_images(data: bytes) -> None:
    check_preprocess(data)


def test_every_seed_file_is_readable() -> None:
    """The mutation seeds themselves preprocess fine (else the fuzzing above tests little)."""
    seeds = _seed_files()
    assert len(seeds) >= 14
    for name, data in seeds.items():
        out = preprocess_image(data)
        assert_valid(out)
        assert out.max() > 0.5, name
