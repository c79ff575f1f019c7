"""Figures and cached arrays for the Home, Train, Latent sliders and Manifold pages.

Cached functions take the checkpoint path and weights' mtime as strings (the cache key) and the
shared model with an underscore (not hashed). They never change the model: eval mode and
no_grad, as everywhere else.
"""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np
import plotly.graph_objects as go
import streamlit as st
import torch
from PIL import Image, ImageDraw, ImageFont
from plotly.subplots import make_subplots

from ui.derived import image_elbo, key
from ui.figures import nice_ticks, tick_text
from vae_core import (VAE, Checkpoint, compose_grid, decode_batch, kl_per_dim, manifold, pca,
                      to_png_bytes)

MAP_MARGIN = (30, 20)  # pixels left of and under the latent map's plane, for its ticks
# Plotly's default qualitative palette, one colour per class.
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf"]


def model_key(ck: Checkpoint) -> tuple[str, str]:
    """(path, weights mtime) as strings: the cache key of everything derived from a model
    (ui.derived.key, the one way the pages build it)."""
    return key(ck)


def png(img: np.ndarray | torch.Tensor, scale: int = 1) -> bytes:
    """PNG of a grey [H, W] or an RGB [H, W, 3] image (a class map) in [0, 1]."""
    a = np.asarray(img)
    if a.ndim == 2:
        return to_png_bytes(a, scale=scale)
    pil = Image.fromarray((np.clip(a, 0, 1) * 255).round().astype(np.uint8), "RGB")
    pil = pil.resize((pil.width * scale, pil.height * scale), Image.Resampling.NEAREST)
    buf = io.BytesIO()
    pil.save(buf, format="PNG")
    return buf.getvalue()


# --- Home ------------------------------------------------------------------------------------
@st.cache_data(max_entries=64)
def digit_anatomy(path: str, mtime: str, image: np.ndarray, binarize: str, seed: int,
                  _model: VAE) -> dict[str, Any]:
    """One digit through the VAE: input as scored, posterior, seeded eps, z, decodings, ELBO.

    The numbers come from ui.derived.image_elbo, the estimator every page uses."""
    a = image_elbo(_model, image, binarize, seed)
    mu, logvar = (torch.from_numpy(a[k])[None] for k in ("mu", "logvar"))
    with torch.no_grad():
        x_mu = _model.decode(mu.to(next(_model.parameters()).device))[0, 0].cpu().numpy()
    return {**a, "x": a["target"], "sigma": np.exp(0.5 * a["logvar"]), "x_mu": x_mu,
            "kl_dims": kl_per_dim(mu, logvar)[0].numpy()}


def posterior_figure(mu: np.ndarray, sigma: np.ndarray, z: np.ndarray) -> go.Figure:
    """Bars of mu with +-sigma error bars per latent dim, and the sampled z as dots."""
    dims = [f"z{i}" for i in range(len(mu))]
    fig = go.Figure(go.Bar(x=dims, y=mu, name="μ ± σ", marker_color="#9ecae1",
                           error_y={"type": "data", "array": sigma, "color": "#3182bd"}))
    fig.add_trace(go.Scatter(x=dims, y=z, mode="markers", name="z = μ + σ·ε",
                             marker={"color": "#d62728", "size": 9, "symbol": "diamond"}))
    fig.add_hline(y=0, line_color="#999", line_width=1)
    fig.update_layout(height=280, margin={"l": 10, "r": 10, "t": 30, "b": 10},
                      title="posterior q(z|x) per latent dimension", yaxis_title="value",
                      legend={"orientation": "h", "y": -0.2}, bargap=0.4)
    return fig


# --- Train -----------------------------------------------------------------------------------
def _thin(rows: list[dict[str, float]], max_points: int = 1500) -> list[dict[str, float]]:
    step = max(1, len(rows) // max_points)
    return rows[::step]


def robust_range(values: Any, lo_pct: float = 1.0, hi_pct: float = 99.0, pad: float = 0.1,
                 min_points: int = 5) -> list[float] | None:
    """[low, high] of the lo_pct..hi_pct percentiles of the finite values, padded by `pad` of
    the span; None when fewer than min_points values (let Plotly autorange then)."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if len(v) < min_points:
        return None
    lo, hi = np.percentile(v, [lo_pct, hi_pct])
    span = max(hi - lo, 1e-3 * max(1.0, abs(hi)))
    return [float(lo - pad * span), float(hi + pad * span)]


def training_figure(snap: dict[str, Any]) -> go.Figure:
    """Loss, reconstruction and KL per step (thin lines) and per epoch (train and test).

    The per-step y axes span the 1st-99th percentiles of the steps after the first fifth of
    an epoch: the first steps' loss is several times the rest and would flatten the curve."""
    fig = make_subplots(rows=1, cols=2,
                        subplot_titles=("per step (y range leaves out the first steps)",
                                        "per epoch"),
                        specs=[[{"secondary_y": True}, {"secondary_y": True}]],
                        horizontal_spacing=0.16)
    steps = _thin(snap["steps"])
    spe = max(1, snap["steps_per_epoch"])
    xs = [s["global_step"] / spe for s in steps]
    colors = {"loss": "#1f77b4", "recon": "#2ca02c", "kl": "#d62728"}
    for k in ("loss", "recon"):
        fig.add_trace(go.Scatter(x=xs, y=[s[k] for s in steps], name=f"{k} (step)",
                                 line={"color": colors[k], "width": 1}, legendgroup=k),
                      row=1, col=1)
    fig.add_trace(go.Scatter(x=xs, y=[s["kl"] for s in steps], name="kl (step, right axis)",
                             line={"color": colors["kl"], "width": 1}, legendgroup="kl"),
                  row=1, col=1, secondary_y=True)
    if steps:
        warm = min(0.2 * spe, 0.2 * steps[-1]["global_step"])
        later = [s for s in steps if s["global_step"] >= warm]
        left = robust_range([s[k] for s in later for k in ("loss", "recon")])
        right = robust_range([s["kl"] for s in later])
        if left:
            fig.update_yaxes(range=left, row=1, col=1, secondary_y=False)
        if right:
            fig.update_yaxes(range=right, row=1, col=1, secondary_y=True)
    hist = snap["history"]
    ep = [h["epoch"] for h in hist]
    for split, dash in (("train", "solid"), ("test", "dot")):
        for k in ("loss", "recon", "kl"):
            key = f"{split}_{k}"
            if not hist or key not in hist[-1]:
                continue
            fig.add_trace(go.Scatter(x=ep, y=[h.get(key) for h in hist], mode="lines+markers",
                                     name=f"{split} {k}", legendgroup=k,
                                     line={"color": colors[k], "dash": dash}),
                          row=1, col=2, secondary_y=k == "kl")
    fig.update_xaxes(title_text="epoch", row=1, col=1)
    fig.update_xaxes(title_text="epoch", dtick=1 if len(ep) <= 20 else None, row=1, col=2)
    fig.update_yaxes(title_text="nats / image", secondary_y=False, automargin=True)
    # tickmode "auto": make_subplots' secondary axes otherwise sync their ticks to the left
    # axis's grid, which puts them at odd values such as 7.92 and 6.14.
    fig.update_yaxes(title_text="KL", secondary_y=True, showgrid=False, tickmode="auto",
                     nticks=6, automargin=True)
    fig.update_layout(height=360, margin={"l": 10, "r": 10, "t": 40, "b": 10},
                      legend={"orientation": "h", "y": -0.25})
    return fig


def recon_strip(originals: np.ndarray, recon: np.ndarray | None, scale: int = 3) -> bytes:
    """PNG: originals on the top row, reconstructions below (blank until the first epoch)."""
    rec = recon if recon is not None else np.zeros_like(originals)
    imgs = torch.from_numpy(np.concatenate([originals, rec]))[:, None]
    return png(compose_grid(imgs, nrow=len(originals), pad=2).numpy(), scale)


# --- Latent sliders --------------------------------------------------------------------------
def decode_one(model: VAE, z: list[float], y: int | None = None) -> np.ndarray:
    """The decoded mean image [28, 28] of one code (under class y if conditional)."""
    return decode_batch(model, torch.tensor([z], dtype=torch.float32), y)[0, 0].numpy()


def map_extent(r: float, n: int) -> float:
    """Half-width, in latent units, of an n-tile manifold whose tile centres span [-r, r]."""
    return r * n / (n - 1)


@st.cache_data(max_entries=16)
def latent_map_base(path: str, mtime: str, r: float, n: int, size: int, mu: np.ndarray,
                    labels: np.ndarray, _model: VAE, max_points: int = 2000,
                    y: int | None = None) -> np.ndarray:
    """RGB [size, size] map of a 2-D latent plane: the decoded manifold (dimmed; under class y
    if conditional) as background, encoded test points (coloured by class) on top. Pixel
    (0, 0) is (-E, +E), E = map_extent."""
    grid, _ = manifold(_model, n=n, spacing="linear", lim=r, y=y)
    ink = (255 - grid.numpy() * 150).astype(np.uint8)  # grey digits on white: dots stand out
    bg = Image.fromarray(ink, "L").resize((size, size), Image.Resampling.BILINEAR).convert("RGB")
    draw = ImageDraw.Draw(bg)
    e = map_extent(r, n)
    for (x, y), lab in zip(mu[:max_points, :2], labels[:max_points], strict=True):
        if abs(x) < e and abs(y) < e:
            px, py = latent_to_px(x, y, e, size)
            draw.ellipse([px - 1.6, py - 1.6, px + 1.6, py + 1.6], fill=PALETTE[int(lab) % 10])
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


@st.cache_data(max_entries=4)
def class_legend(classes: tuple[str, ...], width: int) -> np.ndarray:
    """RGB strip: one coloured dot and name per class, in as many rows as needed."""
    font = ImageFont.load_default(size=12)
    per_row = 5 if max(len(c) for c in classes) > 2 else 10
    cell, rows = width // per_row, -(-len(classes) // per_row)
    img = Image.new("RGB", (width, 20 * rows + 4), "white")
    draw = ImageDraw.Draw(img)
    for i, name in enumerate(classes):
        x, y = (i % per_row) * cell + 2, (i // per_row) * 20 + 4
        draw.ellipse([x, y + 3, x + 10, y + 13], fill=PALETTE[i % 10])
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


# --- Manifold --------------------------------------------------------------------------------
@st.cache_data(max_entries=32, show_spinner="Decoding the grid...")
def manifold_grid(path: str, mtime: str, n: int, spacing: str, lim: float,
                  dims: tuple[int, int], base: tuple[float, ...] | None,
                  directions: tuple[tuple[float, ...], ...] | None,
                  _model: VAE, y: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(grid image [28n, 28n], axis values [n]) for the plane through `base` (every code
    under class y if the model is conditional)."""
    b = torch.tensor(base) if base is not None else None
    d = torch.tensor(directions) if directions is not None else None
    grid, vals = manifold(_model, n=n, spacing=spacing, lim=lim, dims=dims, base=b, directions=d,
                          y=y)
    return grid.numpy(), vals.numpy()


@st.cache_data(max_entries=16)
def pca_plane(path: str, mtime: str, mu: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean [Z], unit directions [2, Z], standard deviation along each [2]) of encoded codes."""
    mean, dirs, proj = pca(torch.from_numpy(mu), k=2)
    return mean.numpy(), dirs.numpy(), proj.std(0).numpy()


def manifold_figure(grid: np.ndarray, vals: np.ndarray, xlabel: str, ylabel: str) -> go.Figure:
    """The grid as an image with ticks at round latent values.

    Tile i's centre is pixel 28 i + 13.5 and holds vals[i]; a round value between two centres
    is placed by linear interpolation (vals may be Gaussian quantiles, not evenly spaced), and
    ticks run to the outer edges of the first and last tiles, so both ends are labelled."""
    n = len(vals)
    src = "data:image/png;base64," + base64.b64encode(png(grid)).decode()
    fig = go.Figure(go.Image(source=src, hoverinfo="skip"))
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
