"""The Train page's live figures: loss, reconstruction and KL curves per step and per epoch,
and the strip of test digits over their current reconstructions. Pure builders."""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ui.figures import CURVE_COLORS, png, tile


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
    colors = CURVE_COLORS
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
    return png(tile(np.concatenate([originals, rec]), len(originals), pad=2), scale)
