"""Plotly figures and image helpers shared by the pages. Pure functions: no Streamlit, no model.

Images are numpy arrays in [0, 1], either one [H, W] picture or a batch [N, 28, 28]
(a [N, 1, 28, 28] batch is accepted too). Latent points are [N, 2] arrays already projected.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import torch
from PIL import Image

from vae_core import CLASS_COLORS, compose_grid, to_png_bytes

# The loss terms' colours and names, in every training chart and the replay player (Okabe-Ito
# blue, orange and sky blue: apart under the colour-vision deficiencies, tests/core/test_palette).
CURVE_COLORS = {"loss": "#0072B2", "recon": "#E69F00", "kl": "#56B4E9"}
CURVE_NAMES = {"loss": "−ELBO (loss)", "recon": "reconstruction", "kl": "KL (right axis)"}
MODEL_COLORS = ["#636efa", "#ef553b", "#00cc96", "#ab63fa", "#ffa15a", "#19d3f3", "#ff6692"]


# --- images ---------------------------------------------------------------------------------
def as_images(x: Any) -> np.ndarray:
    """A batch of images as float32 [N, H, W] (from a tensor or array, [N,1,H,W] or [N,H,W])."""
    a = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    a = a.astype(np.float32, copy=False)
    if a.ndim == 4:
        a = a[:, 0]
    if a.ndim == 2:
        a = a[None]
    return a


def tile(images: Any, ncol: int, pad: int = 2, pad_value: float = 1.0) -> np.ndarray:
    """Tile a batch into one [H', W'] picture, `ncol` images per row, with light gutters."""
    a = as_images(images)
    ncol = max(1, min(ncol, len(a)))
    return compose_grid(torch.from_numpy(np.ascontiguousarray(a))[:, None], ncol, pad,
                        pad_value).numpy()


def tiles_of(grid: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """The tiles [rows * cols, 28, 28] of a grid [28 rows, 28 cols], row by row (tile's
    inverse without gutters)."""
    g = np.asarray(grid, np.float32)
    if g.shape != (28 * rows, 28 * cols):
        raise ValueError(f"a {rows} x {cols} grid is [{28 * rows}, {28 * cols}], got {g.shape}")
    return g.reshape(rows, 28, cols, 28).transpose(0, 2, 1, 3).reshape(-1, 28, 28)


def png(img: Any, scale: int = 1) -> bytes:
    """PNG bytes of one grey [H, W] or RGB [H, W, 3] picture in [0, 1] (or RGB uint8),
    enlarged `scale` times with nearest neighbour (crisp pixels: browsers blur small images
    when they scale them up)."""
    a = img.detach().cpu().numpy() if isinstance(img, torch.Tensor) else np.asarray(img)
    if a.ndim == 2:
        return to_png_bytes(a, scale)
    if a.dtype != np.uint8:
        a = (np.clip(a, 0, 1) * 255).round().astype(np.uint8)
    pil = Image.fromarray(a, "RGB")
    pil = pil.resize((pil.width * scale, pil.height * scale), Image.Resampling.NEAREST)
    buf = io.BytesIO()
    pil.save(buf, format="PNG")
    return buf.getvalue()


def data_uri(img: np.ndarray, scale: int = 1) -> str:
    return "data:image/png;base64," + base64.b64encode(png(img, scale)).decode("ascii")


def gif_bytes(frames: Any, scale: int = 4, duration_ms: int = 120, boomerang: bool = True
              ) -> bytes:
    """An animated, looping GIF of a batch of frames; `boomerang` plays it forth and back."""
    a = as_images(frames)
    seq = list(a) + (list(a[-2:0:-1]) if boomerang and len(a) > 2 else [])
    pics = [Image.fromarray((np.clip(f, 0, 1) * 255).round().astype(np.uint8), mode="L")
            .resize((f.shape[1] * scale, f.shape[0] * scale), Image.Resampling.NEAREST)
            for f in seq]
    buf = io.BytesIO()
    pics[0].save(buf, format="GIF", save_all=True, append_images=pics[1:],
                 duration=duration_ms, loop=0)
    return buf.getvalue()


def grid_figure(images: Any, ncol: int, row_labels: Sequence[str] | None = None,
                col_labels: Sequence[str] | None = None, pad: int = 2, cell_px: int = 44,
                title: str | None = None) -> go.Figure:
    """A tiled grid as a Plotly image with row and column labels at the cell centres."""
    a = as_images(images)
    ncol = max(1, min(ncol, len(a)))
    nrow = math.ceil(len(a) / ncol)
    grid = tile(a, ncol, pad)
    h, w = a.shape[1:]
    fig = go.Figure(go.Image(source=data_uri(grid), hoverinfo="skip"))
    centres_y = [pad + r * (h + pad) + h / 2 for r in range(nrow)]
    centres_x = [pad + c * (w + pad) + w / 2 for c in range(ncol)]
    scale = cell_px / (h + pad)
    fig.update_xaxes(showgrid=False, zeroline=False, showticklabels=col_labels is not None,
                     tickvals=centres_x[:len(col_labels or [])], ticktext=list(col_labels or []),
                     side="top")
    fig.update_yaxes(showgrid=False, zeroline=False, showticklabels=row_labels is not None,
                     tickvals=centres_y[:len(row_labels or [])], ticktext=list(row_labels or []))
    top = 30 + (22 if col_labels is not None else 0) + (20 if title else 0)
    fig.update_layout(height=int(grid.shape[0] * scale) + top + 10,
                      width=int(grid.shape[1] * scale) + (110 if row_labels is not None else 20),
                      margin={"l": 10, "r": 10, "t": top, "b": 10}, title=title)
    return fig


# --- latent space ---------------------------------------------------------------------------
def pad_2d(points: np.ndarray) -> np.ndarray:
    """[N, k] with k in {1, 2} -> [N, 2] (a 1-D latent is drawn on the x axis)."""
    p = np.asarray(points, dtype=np.float32)
    if p.ndim == 1:
        p = p[:, None]
    if p.shape[1] >= 2:
        return p[:, :2]
    return np.concatenate([p, np.zeros((len(p), 2 - p.shape[1]), np.float32)], 1)


def latent_scatter(xy: np.ndarray, labels: np.ndarray, indices: np.ndarray,
                   class_names: Sequence[str], axis_titles: tuple[str, str] = ("z₀", "z₁"),
                   title: str | None = None, marker_size: float = 4.0, opacity: float = 0.7,
                   height: int = 620) -> go.Figure:
    """WebGL scatter of latent points, one trace per class so the legend toggles classes.

    Each point carries customdata [dataset index, label] for hover and selection.
    """
    xy = pad_2d(xy)
    labels = np.asarray(labels)
    indices = np.asarray(indices)
    fig = go.Figure()
    for c, name in enumerate(class_names):
        m = labels == c
        if not m.any():
            continue
        fig.add_trace(go.Scattergl(
            x=xy[m, 0], y=xy[m, 1], mode="markers", name=str(name),
            marker={"size": marker_size, "opacity": opacity,
                        "color": CLASS_COLORS[c % len(CLASS_COLORS)]},
            customdata=np.stack([indices[m], labels[m]], 1),
            hovertemplate=(f"#%{{customdata[0]}} · label {name}"
                           "<br>(%{x:.2f}, %{y:.2f})<extra></extra>")))
    fig.update_layout(height=height, title=title, xaxis_title=axis_titles[0],
                      yaxis_title=axis_titles[1], legend_title_text="class",
                      legend={"itemsizing": "constant"},
                      margin={"l": 10, "r": 10, "t": 40, "b": 10})
    fig.update_yaxes(scaleanchor="x", scaleratio=1)
    return fig


def nice_ticks(lo: float, hi: float, target: int = 8) -> np.ndarray:
    """Round tick values (steps of 1, 2 or 5 times a power of ten) inside [lo, hi], about
    `target` of them, the first and last within one step of the ends."""
    lo, hi = (float(lo), float(hi)) if lo <= hi else (float(hi), float(lo))
    span = hi - lo
    if not math.isfinite(span) or span <= 0:
        return np.array([lo])
    raw = span / max(1, target)
    mag = 10.0 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw * (1 - 1e-9))
    first = math.ceil(lo / step - 1e-9)
    ticks = (np.arange(first, math.floor(hi / step + 1e-9) + 1) * step).round(10)
    return ticks + 0.0  # no "-0"


def tick_text(values: Sequence[float]) -> list[str]:
    """Tick labels without trailing zeros and with a true minus sign, as Plotly writes them."""
    return [f"{v:g}".replace("-", "\u2212") for v in values]


def selected_indices(selection: Mapping[str, Any] | None) -> list[int]:
    """Dataset indices of the points selected on a `latent_scatter` (from their customdata),
    in selection order without duplicates.

    The browser sends a point's customdata row as a list, or (from a typed array, as Plotly
    makes of numpy data) as a dict {"0": index, "1": label}.
    """
    if not selection:
        return []
    out: list[int] = []
    for p in selection.get("points", []) or []:
        cd = p.get("customdata")
        if isinstance(cd, dict):
            cd = cd.get("0", cd.get(0))
        elif isinstance(cd, (list, tuple)):
            cd = cd[0] if cd else None
        if isinstance(cd, (int, float)) and not isinstance(cd, bool):
            i = int(cd)
            if i not in out:
                out.append(i)
    return out


def add_image_background(fig: go.Figure, img: np.ndarray, x_range: tuple[float, float],
                         y_range: tuple[float, float], opacity: float = 0.55,
                         visible: bool = True) -> go.Figure:
    """Put a picture (e.g. the decoded manifold) under the points, spanning the given data
    ranges; its top row is drawn at y_range[1] (vae_core.plane_codes puts +y at the top).
    The axes are fixed to those ranges, so pass ranges that hold every point."""
    fig.add_layout_image({
        "source": data_uri(img), "xref": "x", "yref": "y", "x": x_range[0], "y": y_range[1],
        "sizex": x_range[1] - x_range[0], "sizey": y_range[1] - y_range[0], "sizing": "stretch",
        "opacity": opacity, "layer": "below", "visible": visible})
    fig.update_xaxes(range=list(x_range), constrain="domain")
    fig.update_yaxes(range=list(y_range), constrain="domain")
    fig.update_layout(plot_bgcolor="white")
    return fig


def add_background_toggle(fig: go.Figure, labels: tuple[str, str] = (
        "points only", "points on the decoded manifold"), shown: bool = False) -> go.Figure:
    """Two buttons inside the chart that hide or show its first layout image.

    A toggle in the browser, not a Streamlit widget: st.plotly_chart's element id hashes the
    figure, so changing the figure from Python remounts the chart and drops the user's box
    selection, hidden legend classes and zoom. Plotly's own relayout keeps all three."""
    fig.update_layout(updatemenus=[{
        "type": "buttons", "direction": "right", "showactive": True, "active": int(shown),
        "x": 0, "xanchor": "left", "y": 1.0, "yanchor": "bottom", "pad": {"b": 6},
        "bgcolor": "white", "bordercolor": "#bbb", "font": {"size": 12},
        "buttons": [{"label": labels[0], "method": "relayout",
                     "args": [{"images[0].visible": False}]},
                    {"label": labels[1], "method": "relayout",
                     "args": [{"images[0].visible": True}]}]}])
    fig.update_layout(margin={"t": max(fig.layout.margin.t or 0, 50)})
    return fig


def symmetric_extent(points: np.ndarray, step: float = 0.5, minimum: float = 0.5) -> float:
    """The smallest multiple of `step` (at least `minimum`) with every |coordinate| within it:
    a square [-e, e]^2 that holds all points, outliers included."""
    m = float(np.nanmax(np.abs(np.asarray(points, dtype=np.float64)))) if np.size(points) else 0
    return max(minimum, math.ceil(m / step - 1e-9) * step)


def ellipse_xy(center: Sequence[float], cov: np.ndarray, n_std: float = 1.0,
               n: int = 72) -> np.ndarray:
    """Points [n, 2] on the n_std contour of a 2-D Gaussian with covariance `cov` [2, 2]."""
    vals, vecs = np.linalg.eigh(np.asarray(cov, dtype=np.float64))
    radii = n_std * np.sqrt(np.clip(vals, 0, None))
    t = np.linspace(0, 2 * np.pi, n)
    circle = np.stack([np.cos(t), np.sin(t)], 1)
    return np.asarray(center, dtype=np.float64) + (circle * radii) @ vecs.T


def posterior_traces(center: Sequence[float], cov: np.ndarray, name: str = "your image"
                     ) -> list[dict[str, Any]]:
    """A posterior q(z|x) as plot traces (plain dicts): its mean as a star, its 1σ and 2σ
    ellipses. WebGL like the points: SVG traces would be drawn underneath a Scattergl cloud.
    A figure built from a spec takes them as they are (`ui.derived.test_codes_figure`), or
    `fig.add_traces` them."""
    out: list[dict[str, Any]] = []
    for k, dash in ((1, "solid"), (2, "dot")):
        e = ellipse_xy(center, cov, k)
        out.append({"type": "scattergl", "x": e[:, 0], "y": e[:, 1], "mode": "lines",
                    "name": f"{name}: {k}σ", "line": {"color": "black", "width": 2, "dash": dash},
                    "hoverinfo": "skip"})
    out.append({"type": "scattergl", "x": [float(center[0])], "y": [float(center[1])],
                "mode": "markers", "name": f"{name}: mean",
                "marker": {"symbol": "star", "size": 18, "color": "gold",
                           "line": {"color": "black", "width": 1.5}},
                "hovertemplate": "mean (%{x:.2f}, %{y:.2f})<extra></extra>"})
    return out


def add_path(fig: go.Figure, xy: np.ndarray, name: str, color: str = "black",
             dash: str = "solid") -> go.Figure:
    """Draw a path of latent codes (e.g. an interpolation), WebGL to sit above the points."""
    xy = pad_2d(xy)
    fig.add_trace(go.Scattergl(x=xy[:, 0], y=xy[:, 1], mode="lines+markers", name=name,
                             line={"color": color, "width": 3, "dash": dash},
                             marker={"size": 7, "color": color},
                             hovertemplate=f"{name} step %{{pointNumber}}<extra></extra>"))
    return fig


# --- statistics -----------------------------------------------------------------------------
def percentile_of(values: np.ndarray, v: float) -> float:
    """Percentage of `values` strictly below v (0 to 100)."""
    values = np.asarray(values)
    return 100.0 * float((values < v).mean()) if len(values) else float("nan")


def score_histogram(values: np.ndarray, x_title: str, nbins: int = 80,
                    height: int = 340) -> go.Figure:
    """Histogram of a per-image score over the test set (`add_marker` marks one image), as
    `nbins` bars counted here: the page gets 80 counts, not every score (10,000 for MNIST,
    ~120 KB of JSON on every rerun that shows it). Non-finite scores are left out."""
    v = np.asarray(values, dtype=np.float64)
    counts, edges = np.histogram(v[np.isfinite(v)], bins=nbins)
    fig = go.Figure(go.Bar(x=(edges[:-1] + edges[1:]) / 2, y=counts, width=np.diff(edges) * 0.98,
                           customdata=np.stack([edges[:-1], edges[1:]], 1), name="test set",
                           marker_color="#9aa7b8",
                           hovertemplate="%{customdata[0]:.1f} to %{customdata[1]:.1f}: "
                                         "%{y} images<extra></extra>"))
    fig.update_layout(height=height, xaxis_title=x_title, yaxis_title="test images",
                      margin={"l": 10, "r": 10, "t": 30, "b": 10}, showlegend=False)
    return fig


def add_marker(fig: go.Figure, marker: float, marker_name: str = "your image") -> go.Figure:
    """A vertical line at one image's score, named in an annotation: what fig.add_vline
    writes (annotation at the top right), without its ~5 ms of generic axis handling."""
    x = float(marker)
    fig.add_shape(type="line", x0=x, x1=x, xref="x", y0=0, y1=1, yref="y domain",
                  line={"color": "crimson", "width": 3})
    fig.add_annotation(text=f"{marker_name}: {marker:.1f}", x=x, xref="x", y=1,
                       yref="y domain", xanchor="left", yanchor="top", showarrow=False)
    return fig


def kl_per_dim_bars(kl: Mapping[str, Sequence[float]], height: int = 360) -> go.Figure:
    """Grouped bars: KL (nats) per latent dimension, one colour per model."""
    fig = go.Figure()
    for i, (name, vals) in enumerate(kl.items()):
        fig.add_trace(go.Bar(x=[f"z{d}" for d in range(len(vals))], y=list(vals), name=name,
                             marker_color=MODEL_COLORS[i % len(MODEL_COLORS)]))
    fig.update_layout(barmode="group", height=height, xaxis_title="latent dimension",
                      yaxis_title="KL (nats per image)", legend={"orientation": "h", "y": 1.1},
                      margin={"l": 10, "r": 10, "t": 30, "b": 10})
    return fig


def class_summary(labels: np.ndarray, class_names: Sequence[str]) -> str:
    """How many of each class, most frequent first: '204 of class 1, 3 of class 7'."""
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=len(class_names))
    order = sorted((c for c in range(len(counts)) if counts[c]), key=lambda c: -counts[c])
    return ", ".join(f"{counts[c]} of class {class_names[c]}" for c in order)


def codes_table(indices: np.ndarray, labels: np.ndarray, class_names: Sequence[str],
                mu: np.ndarray, logvar: np.ndarray) -> pd.DataFrame:
    """One row per image: index, label, class name, mu_0..mu_{Z-1}, logvar_0..logvar_{Z-1}."""
    labels = np.asarray(labels)
    df = pd.DataFrame({"index": np.asarray(indices), "label": labels,
                       "class": [class_names[int(c)] for c in labels]})
    z = mu.shape[1]
    mus = pd.DataFrame(mu, columns=[f"mu_{d}" for d in range(z)])
    lvs = pd.DataFrame(logvar, columns=[f"logvar_{d}" for d in range(z)])
    return pd.concat([df, mus, lvs], axis=1)
