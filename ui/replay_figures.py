"""Plotly figures of a training replay, and the arrays its browser player draws. Pure
functions: no Streamlit, no model.

A replay (vae_core.Replay) holds, per snapshot, the posterior means and log-variances of the
same test images. The clouds are drawn on the latent plane itself for a 2-D model, and on
the plane of the two principal directions of the *last* snapshot's means otherwise, so every
frame uses the same axes and the motion is the posterior's, not the projection's.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ui.figures import CURVE_COLORS, CURVE_NAMES
from vae_core import CLASS_COLORS, Replay

COLLAPSED_NATS = 0.05  # a dimension whose mean KL stays below this carries ~no information
ELLIPSE_POINTS = 25
F16_MAX = 6.0e4  # float16's largest finite value is 65504


def replay_plane(replay: Replay) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(mean [D], orthonormal directions [2, D], axis titles) of the plane the clouds use."""
    d = replay.latent_dim
    if d <= 2:
        dirs = np.eye(2, d)  # a 1-D model's second axis is empty
        return np.zeros(d), dirs, [f"z{i}" for i in range(2)] if d == 2 else ["z0", "(none)"]
    last = replay.mu[-1].astype(np.float64)
    mean = last.mean(0)
    _, s, vt = np.linalg.svd(last - mean, full_matrices=False)
    share = s[:2] ** 2 / max(float((s ** 2).sum()), 1e-12)
    return mean, vt[:2], [f"PC{i + 1} ({share[i]:.0%} of the final spread)" for i in range(2)]


def project_frame(replay: Replay, i: int, mean: np.ndarray, dirs: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Snapshot i on the plane: means [N, 2] and covariances [N, 2, 2] of the posteriors."""
    xy = (replay.mu[i] - mean) @ dirs.T
    var = np.exp(replay.logvar[i].astype(np.float64))  # [N, D], diagonal posterior
    covs = np.einsum("ad,nd,bd->nab", dirs, var, dirs)
    return xy, covs


def cloud_extent(replay: Replay, mean: np.ndarray, dirs: np.ndarray) -> float:
    """Half-width of a square that holds nearly every mean of every frame (fixed axes)."""
    xy = (replay.mu.reshape(-1, replay.latent_dim) - mean) @ dirs.T
    m = float(np.percentile(np.abs(xy), 99.5)) if xy.size else 1.0
    return max(2.5, float(np.ceil(m * 1.1 * 2) / 2))


def _ellipses(xy: np.ndarray, covs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """1σ ellipses of every posterior, joined into one polyline with NaN breaks."""
    vals, vecs = np.linalg.eigh(covs)  # [N, 2], [N, 2, 2]
    radii = np.sqrt(np.clip(vals, 0, None))
    t = np.linspace(0, 2 * np.pi, ELLIPSE_POINTS)
    circle = np.stack([np.cos(t), np.sin(t)], 1)  # [P, 2]
    pts = xy[:, None, :] + np.einsum("pk,nk,njk->npj", circle, radii, vecs)
    pts = np.concatenate([pts, np.full((len(xy), 1, 2), np.nan)], 1).reshape(-1, 2)
    return pts[:, 0], pts[:, 1]


def posterior_clouds(xy: np.ndarray, covs: np.ndarray, labels: np.ndarray,
                     classes: Sequence[str], extent: float, axis_titles: Sequence[str],
                     title: str = "", height: int = 460) -> go.Figure:
    """Mean dots and 1σ ellipses of the followed images, one colour per class, with the
    prior's 1σ and 2σ circles for scale."""
    fig = go.Figure()
    t = np.linspace(0, 2 * np.pi, 73)
    for k, dash in ((1, "dash"), (2, "dot")):
        fig.add_trace(go.Scatter(x=k * np.cos(t), y=k * np.sin(t), mode="lines",
                                 name=f"prior N(0, I): {k}σ", hoverinfo="skip",
                                 line={"color": "#888", "width": 1, "dash": dash}))
    for c in np.unique(labels):
        sel = labels == c
        name = classes[c] if c < len(classes) else str(c)
        color = CLASS_COLORS[int(c) % len(CLASS_COLORS)]
        ex, ey = _ellipses(xy[sel], covs[sel])
        fig.add_trace(go.Scattergl(x=ex, y=ey, mode="lines", legendgroup=name,
                                   showlegend=False, hoverinfo="skip", opacity=0.35,
                                   line={"color": color, "width": 1}))
        fig.add_trace(go.Scattergl(x=xy[sel, 0], y=xy[sel, 1], mode="markers", name=name,
                                   legendgroup=name, marker={"color": color, "size": 5},
                                   hovertemplate=f"{name}: μ = (%{{x:.2f}}, %{{y:.2f}})"
                                                 "<extra></extra>"))
    fig.update_xaxes(range=[-extent, extent], title_text=axis_titles[0], zeroline=False)
    fig.update_yaxes(range=[-extent, extent], title_text=axis_titles[1], zeroline=False,
                     scaleanchor="x", scaleratio=1)
    fig.update_layout(height=height, margin={"l": 10, "r": 10, "t": 40, "b": 10},
                      title={"text": title, "font": {"size": 14}},
                      legend={"itemsizing": "constant"}, uirevision="replay")
    return fig


def replay_curves(replay: Replay, i: int, height: int = 300) -> go.Figure:
    """Training loss and reconstruction (left axis) and KL (right axis) per snapshot, each the
    mean of the steps since the previous one, with a cursor at snapshot i."""
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    colors, names = CURVE_COLORS, CURVE_NAMES
    for k in ("loss", "recon", "kl"):
        y = getattr(replay, k)
        fig.add_trace(go.Scatter(x=replay.epoch, y=y, name=names[k], mode="lines",
                                 line={"color": colors[k], "width": 1.5}),
                      secondary_y=k == "kl")
        if np.isfinite(y[i]):
            fig.add_trace(go.Scatter(x=[replay.epoch[i]], y=[y[i]], mode="markers",
                                     showlegend=False, marker={"color": colors[k], "size": 9},
                                     hovertemplate=f"{names[k]}: %{{y:.2f}}<extra></extra>"),
                          secondary_y=k == "kl")
    fig.add_vline(x=float(replay.epoch[i]), line={"color": "black", "width": 1.5})
    finite = [v for k in ("loss", "recon") for v in getattr(replay, k) if np.isfinite(v)]
    if len(finite) > 4:  # the first snapshots' loss is far above the rest: leave it out,
        lo, hi = np.percentile(finite, [1, 97])  # unless the cursor stands on one of them
        here = [v for v in (replay.loss[i], replay.recon[i]) if np.isfinite(v)]
        lo, hi = min([lo, *here]), max([hi, *here])
        fig.update_yaxes(range=[lo - 0.1 * (hi - lo), hi + 0.1 * (hi - lo)], secondary_y=False)
    fig.update_xaxes(title_text="epoch")
    fig.update_yaxes(title_text="nats / image", secondary_y=False)
    kl = replay.kl[np.isfinite(replay.kl)]
    top = float(kl.max()) * 1.1 if len(kl) else 1.0  # autorange clipped the KL's plateau
    fig.update_yaxes(title_text="KL", secondary_y=True, showgrid=False, tickmode="auto",
                     nticks=6, range=[0, max(top, 1e-3)])
    fig.update_layout(height=height, margin={"l": 10, "r": 10, "t": 30, "b": 10},
                      legend={"orientation": "h", "y": 1.15}, uirevision="replay")
    return fig


def kl_dims_bars(kl_dims: np.ndarray, y_max: float, height: int = 300) -> go.Figure:
    """Mean KL per latent dimension of the followed images at one snapshot; a dimension
    under COLLAPSED_NATS (grey) is not used by the encoder: posterior collapse."""
    kl = np.asarray(kl_dims, dtype=np.float64)
    colors = ["#bbbbbb" if v < COLLAPSED_NATS else "#d62728" for v in kl]
    fig = go.Figure(go.Bar(x=[f"z{d}" for d in range(len(kl))], y=kl, marker_color=colors,
                           hovertemplate="%{x}: %{y:.3f} nats<extra></extra>"))
    fig.add_hline(y=COLLAPSED_NATS, line={"color": "#888", "dash": "dot", "width": 1})
    fig.update_yaxes(range=[0, max(y_max, 10 * COLLAPSED_NATS) * 1.05],
                     title_text="KL (nats per image)")
    fig.update_layout(height=height, margin={"l": 10, "r": 10, "t": 30, "b": 10},
                      showlegend=False, bargap=0.25, uirevision="replay")
    return fig


def player_arrays(replay: Replay) -> tuple[list[dict[str, object]], bytes]:
    """What the browser player (ui/replay_player) draws, as one little-endian buffer and its
    layout [{name, dtype, shape, offset}] (dtypes f2, f4, u1, u4; offsets 8-byte aligned).

    frames f2 [S, N, 5]: each snapshot's posteriors on the plane of `replay_plane`: mean x, y
    and covariance cxx, cxy, cyy (project_frame's numbers, as float16 like the file's codes);
    labels u1 [N]; step u4, epoch_end u1, epoch / loss / recon / kl f4 [S]; kl_dims f4 [S, D].
    """
    mean, dirs, _ = replay_plane(replay)
    s, n = len(replay), len(replay.index)
    frames = np.empty((s, n, 5), np.float64)
    for i in range(s):
        xy, covs = project_frame(replay, i, mean, dirs)
        frames[i, :, :2] = xy
        frames[i, :, 2:] = covs[:, [0, 0, 1], [0, 1, 1]]
    arrays = {"frames": np.clip(frames, -F16_MAX, F16_MAX).astype("<f2"),
              "labels": replay.labels.astype(np.uint8),
              "step": np.clip(replay.step, 0, 2**32 - 1).astype("<u4"),
              "epoch_end": replay.epoch_end.astype(np.uint8),
              **{k: getattr(replay, k).astype("<f4") for k in ("epoch", "loss", "recon", "kl",
                                                                 "kl_dims")}}
    layout, parts, offset = [], [], 0
    for name, a in arrays.items():
        raw = np.ascontiguousarray(a).tobytes()
        layout.append({"name": name, "dtype": f"{a.dtype.kind}{a.dtype.itemsize}",
                       "shape": list(a.shape), "offset": offset})
        pad = -len(raw) % 8
        parts.append(raw + bytes(pad))
        offset += len(raw) + pad
    return layout, b"".join(parts)


def player_ranges(replay: Replay) -> dict[str, list[float]]:
    """Fixed axes of the player's charts: the curves' left axis (loss and reconstruction,
    as replay_curves sets it without a cursor), their right axis (KL), the KL bars'."""
    finite = [v for k in ("loss", "recon") for v in getattr(replay, k) if np.isfinite(v)]
    if len(finite) > 4:
        lo, hi = np.percentile(finite, [1, 97])
    else:
        lo, hi = (min(finite), max(finite)) if finite else (0.0, 1.0)
    pad = 0.1 * max(float(hi - lo), 1e-6)
    kl = replay.kl[np.isfinite(replay.kl)]
    top = float(kl.max()) * 1.1 if len(kl) else 1.0
    bars = max(float(replay.kl_dims.max()), 10 * COLLAPSED_NATS) * 1.05
    return {"left": [float(lo) - pad, float(hi) + pad], "right": [0.0, max(top, 1e-3)],
            "bars": [0.0, bars]}
