"""Paper, not ink: the parts of a photo of handwriting that preprocess.py takes away.

* `contrast_gray`: colour -> grey along the colour difference between ink and paper, for
  coloured ink that luminance all but loses (yellow on white);
* `remove_shadows`: shadows, stains and uneven light that a smooth surface cannot follow, by a
  morphological top-hat: what is left after an opening wider than the strokes is the paper;
* `paper_lines`: ruled or squared paper lines and margin lines: long, thin, straight, nearly
  horizontal or vertical structures, found by a projection at the angle they lie at and taken
  out by an opening along them (where a line crosses the digit, the darker ink stays).

All work on an ink map: paper near 0, ink positive (see preprocess.ink_map). scipy.ndimage is
imported inside the functions: it costs half a second that the app's first page does not need.
"""

from __future__ import annotations

import numpy as np

NOISE_K = 3.0  # a pixel within this many noise levels of the paper is paper
LUMA = np.array([0.299, 0.587, 0.114], np.float32)
COLOUR_COS = 0.97  # ink-paper difference this close to grey: luminance is as good
FAR_SHARE = 0.02  # the farthest pixels from the paper colour, taken as the ink colour
SAMPLE = 200_000  # pixels (a regular subsample) used to find paper and ink colours
POLARITY_SIDE = 256  # ink_is_dark works on a block-mean copy at most this many pixels a side
OPENING_STROKES = 3.0  # the shadow opening is this many stroke widths wide ...
OPENING_MIN = 9  # ... and at least this many pixels
BORDER_STROKES = 3  # a piece along this many stroke widths of border is shading ...
FREE_PIECE = 0.3  # ... and any piece on the border, when one this share of the largest is not
LINE_MARGIN = 1.5  # rows beside a line's core rows that belong to it (antialiasing, blur)
LINE_TOPHAT = 9  # lines are sought among structures thinner than this (pixels)
LINE_ANGLES = np.arange(-5.0, 5.01, 0.25)  # degrees off horizontal (or vertical) searched
LINE_COVER = 0.3  # a line spans at least this share of the image ...
LINE_SPAN = 0.85  # ... and a lone line this share (more lines make a ruled page)
LINE_FAMILY = 3  # this many parallel lines are a ruled or squared page ...
LINE_FAMILY_SPAN = 0.75  # ... if each spans at least this share of the longest one's span
LINE_THICK = 0.75  # a line is at most this share of the digit's stroke width thick (or 3 px)
LINE_KEEP = 0.3  # removing lines must leave ink this share of the peak (else it was the digit)
LINE_LEVEL = 0.1  # line pixels stand this share of the peak ink above the paper


def contrast_gray(rgb: np.ndarray) -> np.ndarray | None:
    """RGB floats [H, W, 3] in [0, 1] -> grey [H, W] in [0, 1] along the colour difference
    between ink and paper, or None when that difference is nearly grey (luminance is as good).

    The paper colour is the median colour, the ink colour the mean of the pixels farthest
    from it. The grey level is the paper's luminance moved along their difference, with the
    sign of the luminance change, so dark ink stays dark and light ink light.
    """
    lum = rgb @ LUMA
    stride = max(1, int(np.sqrt(lum.size / SAMPLE)))
    px = rgb[::stride, ::stride].reshape(-1, 3)
    paper = np.median(px, axis=0)
    dist = np.linalg.norm(px - paper, axis=1)
    far = dist >= np.quantile(dist, 1 - FAR_SHARE)
    diff = px[far].mean(axis=0) - paper
    norm = float(np.linalg.norm(diff))
    if norm < 1e-3 or abs(diff.sum()) / (norm * np.sqrt(3)) >= COLOUR_COS:
        return None
    u = (diff / norm).astype(np.float32)
    sign = 1.0 if float(diff @ LUMA) >= 0 else -1.0
    # Scaled so that a grey difference would change the grey level as luminance does.
    v = (rgb - paper.astype(np.float32)) @ u / np.float32(np.sqrt(3))
    return np.clip(float(paper @ LUMA) + sign * v, 0, 1).astype(np.float32)


def mad_sigma(r: np.ndarray) -> float:
    """Robust standard deviation (1.4826 x the median absolute deviation) of the values r."""
    return 1.4826 * float(np.median(np.abs(r - np.median(r)))) if r.size else 0.0


def remove_shadows(ink: np.ndarray, raw: np.ndarray, stroke: float
                   ) -> tuple[np.ndarray, float | None]:
    """Ink map minus its broad structures: shadows, stains, uneven light.

    `raw` is the grey image turned so that ink is positive (ink = raw - paper surface). A
    top-hat of `raw` keeps what is thinner than an opening a few `stroke` widths wide; the
    rest of the ink map is shading. (On `raw`, not on the ink map: a shadow is a broad
    half-plane there, while the fitted surface may have turned it into a band narrower than
    the opening.) Returns the flattened map and its noise level (robust standard deviation),
    or the map unchanged and None when no shading stands out from that noise (a plain page
    comes through exactly as it was).
    """
    from scipy import ndimage  # deferred: a slow import the app's first page does not need

    k = int(max(OPENING_MIN, round(OPENING_STROKES * stroke)))
    # In a small image (a thick marker, cropped tightly) the opening is narrowed to half the
    # image, down to 1.5 stroke widths: it still loses every stroke, if not every blot.
    k = min(k, min(ink.shape) // 2) | 1
    if k < 1.5 * stroke + 2:  # no room for a background wider than the strokes
        return ink, None
    # Opening a noisy map would follow the noise's minima (a biased, speckled background):
    # open a smoothed copy instead. (Not smoothed afterwards: that would blur a shadow's sharp
    # edge into a band of false ink along it.)
    smooth = ndimage.uniform_filter(raw, 3)
    env = ndimage.grey_opening(smooth, size=(k, k))
    # The opening is a lower envelope, below the paper's mean by about the smoothed noise:
    # lift it by the typical paper-minus-envelope gap (the median: most pixels are paper).
    stride = max(1, int(np.sqrt(ink.size / SAMPLE)))
    env += float(np.median((smooth - env)[::stride, ::stride]))
    shade = env - (raw - ink)  # the broad part of the ink map
    sigma = mad_sigma((ink - shade)[::stride, ::stride])
    # Only what stands out from the noise is shading: shrink it towards 0 by the noise floor.
    floor = NOISE_K * sigma
    shade = np.sign(shade) * np.maximum(np.abs(shade) - floor, 0)
    if not shade.any():
        return ink, None
    return np.subtract(ink, shade, dtype=np.float32), sigma


def ink_is_dark(d: np.ndarray, far: float) -> bool | None:
    """Whether the ink is darker than the paper, judged on d (grey minus the fitted paper
    level): the side with more far-off mass in thin structures. A broad region (a shadow, a
    lit patch, the table beside the page) is far off too, but an opening wider than a stroke
    keeps it and so takes it out of the count. None when neither side has thin far-off mass
    (the caller decides by the whole image).
    """
    from scipy import ndimage  # deferred: a slow import the app's first page does not need

    h, w = d.shape
    f = max(1, -(-max(h, w) // POLARITY_SIDE))
    sh, sw = h // f, w // f
    if sh < 8 or sw < 8:
        return None
    small = d[:sh * f, :sw * f].reshape(sh, f, sw, f).mean(axis=(1, 3))
    k = max(OPENING_MIN, min(sh, sw) // 10) | 1
    mass = []
    for side in (-small, small):
        weight = np.maximum(side - far, 0)
        mass.append(float((weight - ndimage.grey_opening(weight, size=(k, k))).sum()))
    if max(mass) <= 0:
        return None
    return mass[0] > mass[1]


def border_shading(labels: np.ndarray, n: int, stroke: float) -> np.ndarray:
    """Which of the ink pieces `labels` (1..n; 0 is paper) are shading, not ink: the rest of
    a shadow's or a lit patch's edge, left where the patch narrows towards the border.

    When a large piece (the digit) stands free of the border, every piece that touches the
    border goes; otherwise (the digit itself may have been cropped tightly) only pieces that
    run along the border for longer than a few stroke widths (a stroke leaving the image
    crosses the border in about one). Returns a bool per label.
    """
    edge = np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])
    contact = np.bincount(edge, minlength=n + 1)
    areas = np.bincount(labels.ravel(), minlength=n + 1)
    areas[0] = 0
    free = (contact == 0) & (areas >= FREE_PIECE * areas.max())
    drop = contact > 0 if free.any() else contact > BORDER_STROKES * stroke + 2
    drop[0] = False
    if not (~drop[1:]).any():  # nothing else: it may be a digit cropped tightly
        drop[:] = False
    return drop


def _best_angle(mask: np.ndarray) -> tuple[float, np.ndarray]:
    """The shear angle (degrees) at which the rows of `mask` are most line-like, and that
    angle's row profile (ink pixels per sheared row)."""
    h, w = mask.shape
    ys, xs = np.nonzero(mask)
    best, best_score, best_prof = 0.0, -1.0, np.zeros(1)
    for a in LINE_ANGLES:
        off = np.round((xs - w / 2) * np.tan(np.radians(a))).astype(np.int64)
        prof = np.bincount(ys - off + w, minlength=h + 2 * w)
        score = float((prof.astype(np.float64) ** 2).sum())
        if score > best_score:
            best, best_score, best_prof = float(a), score, prof
    return best, best_prof


def _shear_offsets(w: int, angle: float) -> np.ndarray:
    """Per column, how many rows (a fraction) a line at `angle` (degrees) has moved from the
    centre column's row: sheared row r of column x is image row r + offset[x]."""
    return (np.arange(w) - w / 2) * np.tan(np.radians(angle))


def _shift_columns(a: np.ndarray, off: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """out[i, x] = a[rows[i] + off[x], x], linearly interpolated between rows (0 outside the
    image). Whole-row steps would leave a tilted line as a staircase that no row holds."""
    h, w = a.shape
    base = np.floor(off).astype(np.int64)
    frac = (off - base).astype(np.float32)[None, :]
    cols = np.arange(w)[None, :]
    out = np.zeros((len(rows), w), a.dtype)
    for step, weight in ((0, 1 - frac), (1, frac)):
        src = rows[:, None] + base[None, :] + step
        ok = (src >= 0) & (src < h)
        out += np.where(ok, a[np.clip(src, 0, h - 1), cols], 0) * weight
    return out


def _horizontal_lines(ink: np.ndarray, level: float, stroke: float
                      ) -> tuple[np.ndarray, bool]:
    """The part of `ink` that belongs to near-horizontal paper lines (zeros if none), and
    whether they are a ruled page's family of lines (else a lone line or none)."""
    from scipy import ndimage  # deferred: a slow import the app's first page does not need

    h, w = ink.shape
    if h < 8 or w < 32:
        return np.zeros_like(ink), False
    angle, _ = _best_angle(ink > level)
    off = _shear_offsets(w, angle)
    # Sheared rows reach beyond the image's, so that a line leaving it through the top or the
    # bottom edge has a row of its own.
    reach = int(np.ceil(np.abs(off).max())) + 1
    srows = np.arange(-reach, h + reach)
    straight = _shift_columns(ink, off, srows)
    # Along a line: smoothed (JPEG and sensor noise), then opened with a segment a tenth of
    # the width long; a stroke crossing the row is shorter than that and goes.
    seg = max(15, w // 10)
    along = ndimage.uniform_filter1d(straight, 5, axis=1)
    opened = ndimage.grey_opening(along, size=(1, seg))
    # The share of each sheared row that is line, of the part of it inside the image (a line
    # that leaves through the top or bottom edge is still a line).
    inside = _shift_columns(np.ones_like(ink), off, srows) > 0.5
    span = inside.sum(axis=1)
    cover = np.where(span >= seg, (opened > level).sum(axis=1) / np.maximum(span, 1), 0)
    if cover.max() < LINE_COVER:
        return np.zeros_like(ink), False
    # A band: neighbouring rows of some cover; its line is the rows of at least half its peak
    # cover (a line crossing the digit: the digit's rows beside it cover much less).
    labels, n = ndimage.label(cover >= LINE_COVER / 2)
    spans = ndimage.maximum(cover, labels, np.arange(1, n + 1))
    core = cover >= 0.5 * np.concatenate([[np.inf], spans])[labels]
    widths = np.bincount(labels[core], minlength=n + 1)[1:]
    long = spans >= LINE_COVER
    # A ruled or squared page: its lines cross the image about equally far (a digit's sides,
    # shorter, are no part of the family) and are about equally thick (a band much thicker
    # is the digit lying along a line, a 7's bar).
    family = long & (spans >= LINE_FAMILY_SPAN * spans.max())
    ruled_page = family.sum() >= LINE_FAMILY
    if ruled_page:
        line = family & (widths <= max(3.0, 2 * float(np.median(widths[family]))))
    else:
        # A lone line (a margin) must cross the image and be thinner than the strokes: a
        # band as thick as they are is the digit (a tall 1, a wide 7's bar).
        line = long & (spans >= LINE_SPAN) & (widths <= max(3.0, LINE_THICK * stroke))
    if not line.any():
        return np.zeros_like(ink), False
    out = np.zeros_like(ink)
    cols = np.arange(w)
    for b in np.flatnonzero(line) + 1:
        rows = np.flatnonzero((labels == b) & core)
        lo, hi = srows[rows[0]] - LINE_MARGIN, srows[rows[-1]] + LINE_MARGIN
        # The line's brightness along it: per column its brightest row, then the running
        # median along the line (a stroke that crosses it is shorter than half the segment),
        # or, where the line ends at the image's edge, its lower envelope.
        top = straight[max(0, rows[0] - 1):rows[-1] + 2].max(axis=0)
        peak = np.maximum(ndimage.median_filter(top, size=seg),
                          ndimage.grey_opening(top, size=seg))
        # Every pixel of the image whose sheared row falls in the band (no interpolation
        # here: a staircase line is taken whole) loses up to that brightness; ink that is
        # darker than the line, where the digit crosses it, keeps the rest.
        y0 = max(0, int(np.floor(lo + off.min())))
        y1 = min(h, int(np.ceil(hi + off.max())) + 1)
        ys = np.arange(y0, y1)[:, None] - off[None, :]
        inside = (ys >= lo) & (ys <= hi)
        part = np.minimum(np.maximum(ink[y0:y1], 0), peak[None, cols])
        out[y0:y1] = np.where(inside, np.maximum(out[y0:y1], part), out[y0:y1])
    return out, ruled_page


def stroke_width(mask: np.ndarray, max_run: float = np.inf) -> float:
    """Typical stroke width of a boolean ink mask in pixels: the smaller of the median
    horizontal and the median vertical ink run (0 if there is no ink). Runs longer than
    `max_run` (a shadow, a line) are left out."""
    def runs(m: np.ndarray) -> np.ndarray:
        p = np.zeros((m.shape[0], m.shape[1] + 2), np.int8)
        p[:, 1:-1] = m
        d = np.diff(p, axis=1).ravel()
        r = np.flatnonzero(d == -1) - np.flatnonzero(d == 1)
        return r[r <= max_run]

    h, v = runs(mask), runs(mask.T)
    return float(min(np.median(h), np.median(v))) if len(h) and len(v) else 0.0


def stroke_estimate(ink: np.ndarray) -> float:
    """Typical stroke width (px) of an ink map: the larger of the estimates on the map and on
    a 3x3-smoothed copy (a dithered scan's dots would otherwise pass for 1-px strokes), from
    runs shorter than a quarter of the image (longer ones are shadows or lines)."""
    from scipy import ndimage  # deferred: a slow import the app's first page does not need

    half, longest = 0.5 * float(ink.max()), max(ink.shape) / 4
    return max(stroke_width(ink > half, longest),
               stroke_width(ndimage.uniform_filter(ink, 3) > half, longest))


def paper_lines(ink: np.ndarray, raw: np.ndarray, floor: float) -> np.ndarray | None:
    """The ruled, squared or margin lines in an ink map (a map of them to subtract), or None.

    They are looked for in a top-hat of `raw` (see remove_shadows) a few pixels wide, which
    holds every thin structure and no shading; `floor` is the noise floor.
    """
    from scipy import ndimage  # deferred: a slow import the app's first page does not need

    if min(ink.shape) < 2 * LINE_TOPHAT:
        return None
    thin = raw - ndimage.grey_opening(raw, size=(LINE_TOPHAT, LINE_TOPHAT))
    stride = max(1, int(np.sqrt(ink.size / SAMPLE)))
    thin -= float(np.median(thin[::stride, ::stride]))  # the opening's bias in noise
    peak = float(ink.max())
    level = max(floor, LINE_LEVEL * peak)
    stroke = stroke_estimate(ink)
    found = None
    for transpose in (False, True):
        lines, ruled_page = _horizontal_lines(thin.T if transpose else thin, level, stroke)
        if not lines.any():
            continue
        lines = lines.T if transpose else lines
        # A lone line must not have been the digit: strong ink must remain. (A ruled page
        # with nothing written on it is no digit.)
        if not ruled_page and float((ink - lines).max()) < LINE_KEEP * peak:
            continue
        found = lines if found is None else np.maximum(found, lines)
    return found
