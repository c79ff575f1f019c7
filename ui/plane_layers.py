"""Layers only a VAE has, on the 2-D latent plane (issue 20, item 4): the hole map (where the
prior N(0, I) is much denser than the aggregate posterior of the test set), the round-trip
field (an arrow from z to the posterior mean of decode(z)) and a decoded digit's per-pixel
cost against a chosen test digit. The arrays come from vae_core.plane_maps, cached per model,
class and range; the Sliders pad draws them in the browser, the Scatter page as Plotly layers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import plotly.graph_objects as go
import streamlit as st
import torch

from ui.classes import class_labels
from ui.keys import SL_RANGE
from ui.derived import hole_cells, round_trips
from ui.state import test_set
from ui.wording import item_noun, with_article
from vae_core import HOLE_RATIO, PRIOR_RADIUS, Checkpoint, decoded_cost, hole_share

HOLE_CELLS = 48  # hole-map cells per side: smooth enough, 2,304 points cost ~0.1 s
FIELD_ARROWS = 15  # round-trip arrows per side (the pad's manifold tiles)
HOLE_FULL = 1e4  # shaded from p(z) = HOLE_RATIO q(z) on, up to full shade at 10,000 q(z)
FIELD_COLOUR = "#d35400"


def holes(ck: Checkpoint, extent: float, n: int = HOLE_CELLS) -> np.ndarray:
    """log p(z) - log q_agg(z) [n, n] on the cell centres of [-extent, extent]^2, row 0 at +y;
    -inf beyond |z| = PRIOR_RADIUS (ui.derived.hole_cells, cached)."""
    return hole_cells(ck, extent, n)


def field(ck: Checkpoint, lim: float, y: int | None, n: int = FIELD_ARROWS
          ) -> tuple[np.ndarray, np.ndarray]:
    """(z [n*n, 2], mu(decode(z)) [n*n, 2]) on an n x n grid over [-lim, lim]^2 (under class
    y for a conditional model; ui.derived.round_trips, cached)."""
    return round_trips(ck, lim, y, n)


def needs_2d(ck: Checkpoint) -> None:
    """The one line a model that is not 2-D (or has no encoder) gets instead of the plane's
    layers."""
    d = ck.model_config.latent_dim
    if d == 2:  # both layers encode images: the aggregate posterior, decode-then-encode
        st.caption(f"The hole map and the round-trip field need an encoder; {ck.name} has "
                   "none (no encoder.onnx).")
        return
    st.caption(f"The hole map and the round-trip field need a 2-D latent plane; {ck.name} has "
               f"{d} dimension{'s' if d != 1 else ''}.")


# --- the Sliders pad -------------------------------------------------------------------------
@dataclass(frozen=True)
class PadLayers:
    """What the user switched on for the pad, and the test digit the cost is measured on."""

    holes: bool = False
    field: bool = False
    cost_index: int | None = None


def pad_controls(ck: Checkpoint) -> PadLayers:
    """The toggles above the pad (explicit keys); for a model that is not 2-D, one line that
    says why its plane layers are missing (the per-pixel cost works for any z)."""
    two_d = ck.model_config.latent_dim == 2 and ck.model.has_encoder
    n_test = len(test_set(ck.train_config.dataset)[1])
    c = st.columns([1, 1.2, 1.3, 1] if two_d else [1.3, 1, 2.2], vertical_alignment="bottom")
    holes_on = two_d and c[0].toggle(
        "Hole map", key="sl_holes",
        help=f"Purple where the prior N(0, I) is over {HOLE_RATIO:g}x denser than the "
             "aggregate posterior (the mixture of the test digits' posteriors): few images "
             "are encoded there, so the decoder was hardly taught what to draw.")
    field_on = two_d and c[1].toggle(
        "Round-trip field", key="sl_field",
        help="An arrow from each z to the posterior mean of its decoded image: long arrows "
             "mark codes off the data manifold.")
    cost_col, digit_col = (c[2], c[3]) if two_d else (c[0], c[1])
    cost_on = cost_col.toggle("Per-pixel cost", key="sl_cost",
                              help="The decoded digit's -log p(x|z), pixel by pixel, against "
                                   "a test digit x: computed in your browser as you drag.")
    noun = item_noun(ck.train_config.dataset)
    index = digit_col.number_input(f"against test {noun} #", 0, n_test - 1,
                                   key="sl_cost_digit", disabled=not cost_on)
    if not two_d:
        needs_2d(ck)
    return PadLayers(holes_on, field_on, int(index) if cost_on else None)


def pad_arrays(ck: Checkpoint, r: float, tiles: int, y: int | None) -> bytes:
    """The pad's layer blob: float32 hole map [HOLE_CELLS^2] over the plane's extent
    (r * tiles / (tiles - 1), the manifold's edge), then float32 arrow heads [tiles^2, 2] for
    the manifold's tile centres over [-r, r] (row-major, row 0 at +y)."""
    gap = holes(ck, r * tiles / (tiles - 1))
    _, head = field(ck, r, y, tiles)
    return (np.ascontiguousarray(gap, dtype="<f4").tobytes()
            + np.ascontiguousarray(head, dtype="<f4").tobytes())


def cost_target(ck: Checkpoint, index: int) -> dict[str, Any]:
    """The test digit the pad's cost is measured against, as the browser needs it."""
    images, labels, classes = test_set(ck.train_config.dataset)
    m = ck.model_config
    return {"index": int(index), "pixels": [float(v) for v in images[index].reshape(-1)],
            "name": with_article(classes[int(labels[index])]), "likelihood": m.likelihood,
            "var": float(m.gaussian_var)}


def pad_readout(ck: Checkpoint, z: list[float], y: int | None, layers: PadLayers) -> None:
    """Under the pad: what the plane and the layers' colours show, and on the server (z as
    of the last release) the cost's total and the KL per dimension of the decoded digit's
    posterior, which the browser cannot compute (it has the decoder, not the encoder)."""
    if y is not None and ck.model_config.latent_dim == 2:
        st.caption(f"The plane's background is the decoder's **{class_labels(ck)[y]}** at "
                   "every style; the dots are the test digits' style codes (each encoded with "
                   "its own label), coloured by label. They overlap: the label has left z. "
                   "Drag onto a dot to write this class in its style.")
    if layers.holes or layers.field:
        r = float(st.session_state.get(SL_RANGE, 3.0))
        said = []
        if layers.holes:
            share = hole_share(holes(ck, r * FIELD_ARROWS / (FIELD_ARROWS - 1)))
            said.append(f"**purple**: holes, where the prior is over {HOLE_RATIO:g}× denser "
                        f"than the aggregate posterior of the test digits ({share:.0%} of "
                        f"the plane within |z| ≤ {PRIOR_RADIUS:g}, where the prior has its "
                        "mass; darker up to 10,000×)")
            if ck.model_config.conditional:
                said[-1] += (", the same for every class: the test digits' style codes "
                             "make the aggregate posterior")
        if layers.field:
            said.append("**orange arrows**: from z to the mean encoding of its decoded digit, "
                        "μ(x̂(z)); long arrows mark codes off the data manifold")
        st.caption("On the plane: " + "; ".join(said) + ".")
    if layers.cost_index is None:
        return
    images, _, _ = test_set(ck.train_config.dataset)
    c = decoded_cost(ck.model, torch.tensor(z), torch.from_numpy(images[layers.cost_index]), y)
    kl = c["kl_dims"].numpy()
    dims = ", ".join(f"z{i} {v:.2f}" for i, v in enumerate(kl[:8]))
    dims += ", …" if len(kl) > 8 else ""
    noun = item_noun(ck.train_config.dataset)
    st.caption(f"At the released z: −log p(x|z) = **{float(c['cost'].sum()):.2f} nats** "
               f"against test {noun} #{layers.cost_index}; the KL of the *decoded* {noun}'s "
               f"posterior q(z|x̂) is {float(kl.sum()):.2f} nats ({dims}), computed on the "
               "server when you let go.")


# --- the Scatter page ------------------------------------------------------------------------
def scatter_controls(ck: Checkpoint) -> tuple[bool, bool, int | None]:
    """The Scatter page's checkboxes (hole map, round-trip field) and, for a conditional
    model's field, the class it decodes under; for other than 2-D models, one line why not."""
    if ck.model_config.latent_dim != 2:
        needs_2d(ck)
        return False, False, None
    c = st.columns([1, 1, 2], vertical_alignment="center")
    holes_on = c[0].checkbox("Hole map", key="scatter_holes",
                             help=f"Shaded where p(z) > {HOLE_RATIO:g} q_agg(z)")
    field_on = c[1].checkbox("Round-trip field", key="scatter_field",
                             help="Arrows z → E[z | decode(z)]")
    y = None
    if field_on and ck.model_config.conditional:
        names = class_labels(ck)
        y = c[2].selectbox("Round trip under class", range(len(names)), key="scatter_field_class",
                           format_func=names.__getitem__)
    return holes_on, field_on, y


def add_hole_layer(fig: go.Figure, gap: np.ndarray, extent: float) -> None:
    """The hole map as a heatmap under the points (cells outside holes left transparent)."""
    n = len(gap)
    centres = (np.arange(n) + 0.5) * 2 * extent / n - extent
    shown = np.where(gap > math.log(HOLE_RATIO), gap / math.log(10), np.nan)
    heat = go.Heatmap(x=centres, y=centres[::-1], z=shown, zmin=1, zmax=math.log10(HOLE_FULL),
                      colorscale=[[0, "rgba(123,31,162,0.1)"], [1, "rgba(123,31,162,0.42)"]],
                      showscale=False, hoverongaps=False, name="hole map", zsmooth="best",
                      hovertemplate="z = (%{x:.2f}, %{y:.2f})<br>p(z) = 10^%{z:.1f} q(z)"
                                    "<extra>hole</extra>")
    fig.add_trace(heat)
    fig.data = (fig.data[-1],) + fig.data[:-1]  # under the points


def add_field_layer(fig: go.Figure, z: np.ndarray, head: np.ndarray) -> None:
    """The round-trip field: one line a grid point, an arrow head at mu(decode(z))."""
    xs, ys, sizes = [], [], []
    for (x0, y0), (x1, y1) in zip(z, head, strict=True):
        xs += [x0, x1, None]
        ys += [y0, y1, None]
        sizes += [0, 9, 0]
    fig.add_trace(go.Scatter(
        x=xs, y=ys, mode="lines+markers", name="round trip z → μ(x̂(z))",
        line={"color": FIELD_COLOUR, "width": 1}, opacity=0.85, hoverinfo="skip",
        marker={"symbol": "arrow", "angleref": "previous", "size": sizes,
                "color": FIELD_COLOUR}))


def scatter_layers(ck: Checkpoint, fig: go.Figure, extent: float, holes_on: bool,
                   field_on: bool, y: int | None) -> str | None:
    """Add the chosen layers to the scatter over [-extent, extent]^2; a caption, or None."""
    if not (holes_on or field_on):
        return None
    if fig.layout.xaxis.range:  # the decoded manifold's underlay has fixed the axes already
        extent = float(fig.layout.xaxis.range[1])
    said = []
    if holes_on:
        gap = holes(ck, extent, 90)
        add_hole_layer(fig, gap, extent)
        said.append(f"purple: {hole_share(gap):.0%} of the plane within |z| ≤ "
                    f"{PRIOR_RADIUS:g} (99.8% of the prior's mass) is in holes, where the prior "
                    f"is over {HOLE_RATIO:g}× denser than the aggregate posterior")
    if field_on:
        lim = min(extent, PRIOR_RADIUS + 0.5) * (1 - 1 / FIELD_ARROWS)  # where codes are
        z, head = field(ck, lim, y)
        add_field_layer(fig, z, head)
        long = np.linalg.norm(head - z, axis=1)
        said.append(f"orange arrows: z → mean encoding of decode(z) on a grid over "
                    f"±{lim:.1f} (median length {np.median(long):.2f}, longest "
                    f"{long.max():.2f})")
    fig.update_xaxes(range=[-extent, extent], constrain="domain")
    fig.update_yaxes(range=[-extent, extent], constrain="domain")
    text = "; ".join(said)
    return text[0].upper() + text[1:] + "."
