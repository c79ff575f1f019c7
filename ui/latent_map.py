"""Pictures of latent codes. The decoded manifold as a Plotly image with ticks at round latent
values (Manifold page); the clickable map the Latent sliders page draws with PIL when the
in-browser pad is unavailable (the decoded plane, the test codes by class, axes), with the
conversions between its pixels and latent coordinates; and the first page's pictures, drawn
without a chart library so that it loads fast: test codes with one posterior, and the posterior
per dimension as inline SVG. Pure: arrays in, pictures out."""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go
from PIL import Image, ImageDraw, ImageFont

from ui.figures import data_uri, ellipse_xy, nice_ticks, tick_text
from vae_core import CLASS_COLORS

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


def draw_codes(xy: np.ndarray, labels: np.ndarray, center: np.ndarray, cov: np.ndarray,
               size: int = 300, classes: tuple[str, ...] = (), mark: str = "") -> np.ndarray:
    """RGB picture of codes on a plane: dots coloured by class, one posterior's 1-sigma
    ellipse and centre in red, ticks in the margins; with `classes`, their legend underneath
    (and `mark`, the red ring's name). A picture, not a Plotly chart: the home page's tour
    shows it on the first page, which then needs no chart library (cold start)."""
    pts = np.asarray(xy, dtype=np.float64)
    e = float(np.percentile(np.abs(pts), 99.5)) * 1.1 if len(pts) else 1.0
    ring = ellipse_xy(center, cov)
    e = max(e, float(np.abs(ring).max()) * 1.05, 0.5)
    img = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(img)
    for (x, y), lab in zip(pts, labels, strict=True):
        if abs(x) < e and abs(y) < e:
            px, py = latent_to_px(x, y, e, size)
            draw.ellipse([px - 1.5, py - 1.5, px + 1.5, py + 1.5],
                         fill=CLASS_COLORS[int(lab) % len(CLASS_COLORS)])
    draw.line([latent_to_px(x, y, e, size) for x, y in ring], fill="#e0002a", width=2)
    cx, cy = latent_to_px(float(center[0]), float(center[1]), e, size)
    # A ring and cross as on the Sliders map: a small sigma's ellipse hides under the dots.
    draw.ellipse([cx - 7, cy - 7, cx + 7, cy + 7], outline="#e0002a", width=3)
    draw.line([cx - 11, cy, cx + 11, cy], fill="#e0002a", width=1)
    draw.line([cx, cy - 11, cx, cy + 11], fill="#e0002a", width=1)
    canvas = Image.new("RGB", (size + MAP_MARGIN[0], size + MAP_MARGIN[1]), "white")
    canvas.paste(img, (MAP_MARGIN[0], 0))
    draw_axes(ImageDraw.Draw(canvas), e, e, size)
    if not classes:
        return np.asarray(canvas)
    return np.concatenate([np.asarray(canvas), class_legend(classes, canvas.width, mark)])


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


def class_legend(classes: tuple[str, ...], width: int, mark: str = "") -> np.ndarray:
    """RGB strip: one coloured dot and name per class, in as many rows as needed; with
    `mark`, a last row naming the red ring (as mark_point and draw_codes draw it)."""
    font = ImageFont.load_default(size=12)
    per_row = 5 if max(len(c) for c in classes) > 2 else 10
    cell, rows = width // per_row, -(-len(classes) // per_row)
    img = Image.new("RGB", (width, 20 * (rows + bool(mark)) + 4), "white")
    draw = ImageDraw.Draw(img)
    for i, name in enumerate(classes):
        x, y = (i % per_row) * cell + 2, (i // per_row) * 20 + 4
        draw.ellipse([x, y + 3, x + 10, y + 13], fill=CLASS_COLORS[i % len(CLASS_COLORS)])
        draw.text((x + 14, y), name, fill="#333", font=font)
    if mark:
        y = rows * 20 + 4
        draw.ellipse([3, y + 2, 13, y + 12], outline="#e0002a", width=2)
        draw.text((18, y), mark, fill="#333", font=font)
    return np.asarray(img)


def legend_alt(classes: tuple[str, ...]) -> str:
    """class_legend's text alternative."""
    return f"colour key: a coloured dot for each class ({', '.join(classes)})"


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


def posterior_svg(mu, sigma, z, width: int = 460, height: int = 280) -> str:
    """Inline SVG of the posterior per latent dimension: a bar from 0 to mu, a capped whisker
    from mu - sigma to mu + sigma and the sampled z as a hollow red diamond, with a legend
    naming each; hovering a dimension shows its numbers. SVG rather than
    Plotly so that the first page needs no chart library (cold start)."""
    mu, sigma, z = (np.asarray(a, dtype=np.float64) for a in (mu, sigma, z))
    n = len(mu)
    left, right, top, bottom = 44, 8, 44, 26  # title, then the legend, above the plot
    w, h = width - left - right, height - top - bottom
    hi = float(np.max(np.abs(np.concatenate([mu + sigma, mu - sigma, z])))) or 1.0
    ticks = nice_ticks(-hi, hi, 5)
    lo_v, hi_v = min(ticks[0], -hi), max(ticks[-1], hi)

    def y(v: float) -> float:
        return top + (hi_v - v) / (hi_v - lo_v) * h

    cell = w / n
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
           f'width="100%" role="img" aria-label="posterior q(z|x) per latent dimension: for each '
           f'of the {n}, μ as a bar from 0, μ ± σ as a whisker and the sampled z as a diamond" '
           f'style="max-width:{width}px;font:11px sans-serif">',
           f'<text x="{left}" y="14" font-size="13">posterior q(z|x) per latent dimension</text>']
    for t in ticks:
        out.append(f'<line x1="{left}" x2="{left + w}" y1="{y(t):.1f}" y2="{y(t):.1f}" '
                   f'stroke="{"#999" if t == 0 else "#eee"}"/>'
                   f'<text x="{left - 4}" y="{y(t) + 4:.1f}" text-anchor="end" fill="#555">'
                   f'{t:g}</text>')
    label_every = max(1, int(np.ceil(n / 16)))
    for i in range(n):
        cx, bw = left + (i + 0.5) * cell, min(40.0, max(2.0, 0.6 * cell))
        y0, y1 = sorted((y(0.0), y(mu[i])))
        out.append(
            f'<g><title>z{i}: μ = {mu[i]:.3f}, σ = {sigma[i]:.3f}, z = {z[i]:.3f}</title>'
            f'<rect x="{cx - cell / 2:.1f}" y="{top}" width="{cell:.1f}" height="{h}" '
            f'fill="transparent"/>'
            f'<rect x="{cx - bw / 2:.1f}" y="{y0:.1f}" width="{bw:.1f}" '
            f'height="{max(y1 - y0, 0.5):.1f}" fill="#9ecae1"/>'
            + _whisker(cx, y(mu[i] - sigma[i]), y(mu[i] + sigma[i]), min(8.0, bw))
            # hollow, so the whisker under it stays visible
            + f'<path d="M{cx:.1f},{y(z[i]) - 5:.1f} l5,5 l-5,5 l-5,-5 z" fill="none" '
            f'stroke="#d62728" stroke-width="1.5"/></g>')
        if i % label_every == 0:
            out.append(f'<text x="{cx:.1f}" y="{top + h + 14}" text-anchor="middle" '
                       f'fill="#555">z{i}</text>')
    lx = left  # the legend, on its own line, names each mark as drawn
    out.append(f'<rect x="{lx}" y="22" width="10" height="10" fill="#9ecae1"/>'
               f'<text x="{lx + 14}" y="31">μ (bar from 0)</text>'
               + _whisker(lx + 104, 32, 21, 8) +
               f'<text x="{lx + 112}" y="31">μ ± σ</text>'
               f'<path d="M{lx + 165},22 l5,5 l-5,5 l-5,-5 z" fill="none" stroke="#d62728" '
               f'stroke-width="1.5"/><text x="{lx + 174}" y="31">z = μ + σ·ε</text></svg>')
    return "".join(out)


def _whisker(x: float, y0: float, y1: float, cap: float) -> str:
    """A vertical line from y0 to y1 at x with horizontal caps `cap` pixels wide (SVG)."""
    line = 'stroke="#08519c" stroke-width="1.5"'
    return (f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{y0:.1f}" y2="{y1:.1f}" {line}/>'
            + "".join(f'<line x1="{x - cap / 2:.1f}" x2="{x + cap / 2:.1f}" y1="{v:.1f}" '
                      f'y2="{v:.1f}" {line}/>' for v in (y0, y1)))
