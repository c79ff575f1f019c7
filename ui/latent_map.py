"""Pictures of a 2-D latent plane: the decoded manifold as a Plotly image with ticks at round
latent values (Manifold page), and the clickable map the Latent sliders page draws with PIL
when the in-browser pad is unavailable (the decoded plane, the test codes by class, axes), with
the conversions between its pixels and latent coordinates. Pure: arrays in, pictures out."""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go
from PIL import Image, ImageDraw, ImageFont

from ui.figures import CLASS_COLORS, data_uri, nice_ticks, tick_text

MAP_MARGIN = (30, 20)  # pixels left of and under the latent map's plane, for its ticks


def map_extent(r: float, n: int) -> float:
    """Half-width, in latent units, of an n-tile manifold whose tile centres span [-r, r]."""
    return r * n / (n - 1)


def draw_latent_map(grid: np.ndarray, r: float, n: int, size: int, mu: np.ndarray,
                    labels: np.ndarray, max_points: int = 2000) -> np.ndarray:
    """RGB [size + margin] map of a 2-D latent plane: the decoded n x n manifold `grid`
    (tile centres spanning [-r, r], dimmed) as background, encoded test points (coloured by
    class) on top, ticks in the margins. Pixel (MAP_MARGIN[0], 0) is (-E, +E), E = map_extent."""
    ink = (255 - np.asarray(grid) * 150).astype(np.uint8)  # grey digits on white: dots stand out
    bg = Image.fromarray(ink, "L").resize((size, size), Image.Resampling.BILINEAR).convert("RGB")
    draw = ImageDraw.Draw(bg)
    e = map_extent(r, n)
    for (x, y), lab in zip(mu[:max_points, :2], labels[:max_points], strict=True):
        if abs(x) < e and abs(y) < e:
            px, py = latent_to_px(x, y, e, size)
            draw.ellipse([px - 1.6, py - 1.6, px + 1.6, py + 1.6],
                         fill=CLASS_COLORS[int(lab) % len(CLASS_COLORS)])
    canvas = Image.new("RGB", (size + MAP_MARGIN[0], size + MAP_MARGIN[1]), "white")
    canvas.paste(bg, (MAP_MARGIN[0], 0))
    draw_axes(ImageDraw.Draw(canvas), r, e, size)
    return np.asarray(canvas)


def nice_step(span: float, target: int = 6) -> float:
    """A round tick step (1, 2 or 5 times a power of ten) giving about `target` ticks."""
    raw = span / max(1, target)
    mag = 10 ** np.floor(np.log10(raw))
    return float(next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw))


def draw_axes(draw: ImageDraw.ImageDraw, r: float, e: float, size: int) -> None:
    """Ticks and labels at round latent values in the margins left of (z1, vertical) and
    under (z0, horizontal) the plane, which sits at x >= MAP_MARGIN[0], y < size."""
    font = ImageFont.load_default(size=12)
    left = MAP_MARGIN[0]
    step = nice_step(2 * r)
    for v in np.arange(np.ceil(-r / step) * step, r + 1e-9, step):
        x, y = latent_to_px(v, v, e, size)
        draw.line([left + x, size, left + x, size + 4], fill="#444", width=1)
        draw.line([left - 4, y, left, y], fill="#444", width=1)
        draw.text((left + x, size + 5), f"{v:g}", fill="#333", font=font, anchor="mt")
        draw.text((left - 6, y), f"{v:g}", fill="#333", font=font, anchor="rm")


def class_legend(classes: tuple[str, ...], width: int) -> np.ndarray:
    """RGB strip: one coloured dot and name per class, in as many rows as needed."""
    font = ImageFont.load_default(size=12)
    per_row = 5 if max(len(c) for c in classes) > 2 else 10
    cell, rows = width // per_row, -(-len(classes) // per_row)
    img = Image.new("RGB", (width, 20 * rows + 4), "white")
    draw = ImageDraw.Draw(img)
    for i, name in enumerate(classes):
        x, y = (i % per_row) * cell + 2, (i // per_row) * 20 + 4
        draw.ellipse([x, y + 3, x + 10, y + 13], fill=CLASS_COLORS[i % len(CLASS_COLORS)])
        draw.text((x + 14, y), name, fill="#333", font=font)
    return np.asarray(img)


def latent_to_px(x: float, y: float, e: float, size: int) -> tuple[float, float]:
    return (x + e) / (2 * e) * size, (e - y) / (2 * e) * size


def px_to_latent(px: float, py: float, e: float, width: float, height: float
                 ) -> tuple[float, float]:
    """Inverse of latent_to_px for an image displayed at width x height pixels."""
    return -e + 2 * e * px / width, e - 2 * e * py / height


def click_to_latent(click: dict[str, Any], e: float, size: int) -> tuple[float, float]:
    """The latent point under a click on the map (with its margins) shown at any width."""
    scale = click["width"] / (size + MAP_MARGIN[0])
    return px_to_latent(click["x"] / scale - MAP_MARGIN[0], click["y"] / scale, e, size, size)


def mark_point(base: np.ndarray, x: float, y: float, e: float) -> Image.Image:
    """The map with the current code drawn as a red ring with a cross."""
    img = Image.fromarray(base)
    draw = ImageDraw.Draw(img)
    px, py = latent_to_px(x, y, e, img.height - MAP_MARGIN[1])
    px += MAP_MARGIN[0]
    draw.ellipse([px - 8, py - 8, px + 8, py + 8], outline="#e0002a", width=3)
    draw.line([px - 12, py, px + 12, py], fill="#e0002a", width=1)
    draw.line([px, py - 12, px, py + 12], fill="#e0002a", width=1)
    return img


def manifold_figure(grid: np.ndarray, vals: np.ndarray, xlabel: str, ylabel: str) -> go.Figure:
    """The grid as an image with ticks at round latent values.

    Tile i's centre is pixel 28 i + 13.5 and holds vals[i]; a round value between two centres
    is placed by linear interpolation (vals may be Gaussian quantiles, not evenly spaced), and
    ticks run to the outer edges of the first and last tiles, so both ends are labelled."""
    n = len(vals)
    fig = go.Figure(go.Image(source=data_uri(grid), hoverinfo="skip"))
    v = np.asarray(vals, dtype=np.float64)
    cell = grid.shape[1] / n
    centres = np.arange(n) * cell + (cell - 1) / 2
    if n > 1:  # extend by half a tile at both ends: the image's edges
        v = np.concatenate([[v[0] - (v[1] - v[0]) / 2], v, [v[-1] + (v[-1] - v[-2]) / 2]])
        centres = np.concatenate([[-0.5], centres, [grid.shape[1] - 0.5]])
    ticks = nice_ticks(v[0], v[-1])
    px = np.interp(ticks, v, centres)
    text = tick_text(ticks)
    fig.update_xaxes(tickvals=px.tolist(), ticktext=text, title=xlabel, showgrid=False)
    # Row 0 (top) holds the largest y value (plane_codes puts +y up): mirror the pixels.
    fig.update_yaxes(tickvals=(grid.shape[0] - 1 - px).tolist(), ticktext=text, title=ylabel,
                     showgrid=False)
    fig.update_layout(height=720, margin={"l": 10, "r": 10, "t": 10, "b": 10})
    return fig
