"""The class map and the style grid of the Manifold page (their arrays are cached in
ui.derived; the class picker is ui.classes', the classifier's readings ui.readings').

A conditional VAE decodes p(x | y, z): the class y comes from the class picker and z holds only the
style. The reference digit classifier (vae_core.read_digit / classify) reads what a decoder
drew, so a page can say which digit it sees and tint a grid by it.
"""

from __future__ import annotations

import base64

import numpy as np
import plotly.graph_objects as go
import streamlit as st
import torch

from ui.classes import DIGITS
from ui.derived import class_map
from ui.figures import png
from ui.latent_map import class_legend, legend_alt
from vae_core import VAEError


# --- tiles and their readings ---------------------------------------------------------------
def shown_class_map(grid: np.ndarray, rows: int, cols: int
                    ) -> tuple[np.ndarray, np.ndarray | None]:
    """The class map of a grid with its legend and tally drawn above it: (tinted grid,
    readings [rows, cols]). Without a usable classifier a warning says why and the grid
    comes back as it was, with None."""
    try:
        tinted, read = class_map(grid, rows, cols)
    except VAEError as e:
        st.warning(f"No class map: {e}")
        return grid, None
    class_key(DIGITS, 600)
    st.caption("Class map: each tile's ink in the colour of the digit the reference classifier "
               f"reads there, fading to grey where it is unsure. {class_counts(read, DIGITS)}.")
    return tinted, read


def class_key(classes: list[str] | tuple[str, ...], width: int) -> None:
    """The colour key of the classes (one dot and name each), with its text alternative."""
    st.image(class_legend(tuple(classes), width), output_format="PNG",
             alt=legend_alt(tuple(classes)))


def class_counts(labels: np.ndarray, names: list[str]) -> str:
    """'3 classes read (3: 41, 5: 30, 8: 29 tiles)', most frequent first."""
    values, counts = np.unique(np.asarray(labels).ravel(), return_counts=True)
    order = np.argsort(-counts, kind="stable")
    parts = [f"{names[values[i]]}: {counts[i]}" for i in order]
    what = "classes" if len(values) > 1 else "class"
    return f"{len(values)} {what} read ({', '.join(parts)} tiles)"


# --- the style grid -------------------------------------------------------------------------
def style_codes(zdim: int, rows: int, how: str, seed: int, radius: float) -> np.ndarray:
    """rows style codes [rows, zdim]: seeded draws from the prior N(0, I) ("random"), or
    ("even") evenly spaced around a circle of `radius` in the z0-z1 plane (z0 alone for a
    1-D latent: evenly spaced in [-radius, radius]), other dimensions 0."""
    if how == "random":
        g = torch.Generator().manual_seed(int(seed))
        return torch.randn(rows, zdim, generator=g).numpy()
    codes = np.zeros((rows, zdim), np.float32)
    if zdim == 1:
        codes[:, 0] = np.linspace(-radius, radius, rows)
    else:
        angle = 2 * np.pi * np.arange(rows) / rows + np.pi / 2  # the first row straight up
        codes[:, 0], codes[:, 1] = radius * np.cos(angle), radius * np.sin(angle)
    return codes


def style_figure(grid: np.ndarray, codes: np.ndarray, classes: list[str]) -> go.Figure:
    """The style grid with the class names over its columns and each row's z beside it."""
    rows, cols = len(codes), len(classes)
    src = "data:image/png;base64," + base64.b64encode(png(grid)).decode()
    fig = go.Figure(go.Image(source=src, hoverinfo="skip"))
    fig.update_xaxes(tickvals=[28 * c + 13.5 for c in range(cols)], ticktext=classes,
                     side="top", showgrid=False, title="class")
    # round, then add 0.0: -0.04 shows as "0.0", not "-0.0"
    shown = [", ".join(f"{round(float(v), 1) + 0.0:.1f}" for v in z[:3])
             + (", …" if len(z) > 3 else "") for z in codes]
    fig.update_yaxes(tickvals=[28 * r + 13.5 for r in range(rows)],
                     ticktext=[f"z = ({s})" for s in shown], showgrid=False,
                     title="style (one z per row)")
    fig.update_layout(height=min(900, 80 * rows + 110),  # tiles about 80 px high
                      margin={"l": 10, "r": 10, "t": 10, "b": 10})
    return fig
