"""What the Generate page decodes: prior samples (one row per class for a conditional model),
interpolation paths between two codes, and traversals, each under the labels a conditional
model needs (None for an unconditional one)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
import streamlit as st
import torch

from ui import figures, inference, keys as K, readings
from ui.classes import is_conditional
from ui.wording import item_noun
from ui.latent_view import test_code_plane
from vae_core import Checkpoint, ImageError, interpolate_codes, preprocess_image, traversal_codes

METHODS = ("linear", "slerp")


def prior_by_class(ck: Checkpoint, n: int, seed: int) -> np.ndarray:
    """n prior samples of every class [K * n, 28, 28], class by class. One seed draws the
    codes, so column j holds the same style z in every row."""
    return np.concatenate([inference.prior_samples(ck, n, seed, y=k)
                           for k in range(ck.model_config.n_classes)])


def posterior_view(ck: Checkpoint, x_test: np.ndarray, labels: np.ndarray,
                   names: Sequence[str]) -> None:
    """The Generate page's posterior predictive tab: samples z ~ q(z|x) of one test image,
    decoded (a conditional model encodes it under its own label)."""
    noun, cond, last = item_noun(ck.train_config.dataset), is_conditional(ck), len(x_test) - 1
    st.caption(f"Samples z ~ q(z|x) for one test {noun}, decoded: how much the model hesitates "
               f"about that {noun}." + (" The model is given its label." if cond else ""))
    c1, c2, c3 = st.columns(3)
    i = int(c1.number_input(f"Test {noun} index (0 to {last})", 0, last, key=K.GEN_POST_INDEX))
    n = int(c2.number_input("Samples", 1, 100, key=K.GEN_POST_N))
    seed = int(c3.number_input("Seed", 0, 2**31 - 1, key=K.GEN_POST_SEED))
    draw = st.checkbox("Also draw the pixels from p(x|z) (Bernoulli or Gaussian noise), "
                       "not just its mean", key=K.GEN_POST_PIXELS)
    own = int(labels[i]) if cond else None
    samples = inference.posterior_samples(ck, x_test[i], n, seed, draw_pixels=draw, y=own)
    recon = inference.reconstruct(ck, x_test[i][None], y=own)[0]
    a, b, c = st.columns([1, 1, 4])
    a.image(figures.png(x_test[i], 5), caption=f"test #{i} (label {names[labels[i]]})",
            width=140, alt=f"test {noun} #{i}, labelled {names[labels[i]]}")
    b.image(figures.png(recon, 5), caption="posterior mean decoded", width=140,
            alt=readings.described(f"test #{i} decoded from its posterior mean", recon, ck, names))
    c.image(figures.png(figures.tile(samples, 8), 3), caption=f"{n} posterior samples",
            alt=f"{n} {noun}s decoded from codes sampled from test #{i}'s posterior")


def path_labels(ck: Checkpoint, steps: int, chosen: int | None,
                ends: Sequence[int]) -> torch.Tensor | int | None:
    """Labels to decode an interpolation under: None (unconditional), the chosen class, or,
    with no class chosen, one-hot rows blended from the first end's class to the second's."""
    if not ck.model_config.conditional:
        return None
    if chosen is not None:
        return chosen
    eye = torch.eye(ck.model_config.n_classes)
    t = torch.linspace(0, 1, steps)[:, None]
    return (1 - t) * eye[ends[0]] + t * eye[ends[1]]


def interpolation(ck: Checkpoint, z0: np.ndarray, z1: np.ndarray, steps: int,
                  y: torch.Tensor | int | None = None
                  ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(codes [steps, Z], decoded frames [steps, 28, 28]) per method, linear and slerp."""
    a, b = torch.as_tensor(z0), torch.as_tensor(z1)
    paths = {m: interpolate_codes(a, b, steps, m).numpy() for m in METHODS}
    return paths, {m: inference.decode(ck, p, y=y) for m, p in paths.items()}


def traversal(ck: Checkpoint, steps: int, lim: float, base: np.ndarray | None,
              dims: Sequence[int], dim_names: Sequence[str], y: int | None = None
              ) -> tuple[np.ndarray, list[str], list[str]]:
    """(images [len(dims) * steps, 28, 28], row labels, column labels): row d moves z_d from
    -lim to +lim around `base` (zero when None; else the labels say Δ), every other
    dimension held."""
    z_dim = ck.model_config.latent_dim
    codes = traversal_codes(z_dim, steps, lim, None if base is None else torch.from_numpy(base))
    codes = codes.view(z_dim, steps, z_dim)[list(dims)].reshape(-1, z_dim)
    prefix = "" if base is None else "Δ"
    # Short row labels ("z7 · inactive"): the grid leaves ~110 px for them.
    return (inference.decode(ck, codes, y=y), [dim_names[d].split(" (")[0] for d in dims],
            [f"{prefix}{v:+.1f}" for v in np.linspace(-lim, lim, steps)])


def uploaded_ends(ck: Checkpoint, files: Sequence[Any], chosen: int | None
                  ) -> tuple[list[np.ndarray], list[str], list[int | None], list[str]]:
    """(codes [Z], names, labels, refusals) of the uploaded end points that preprocess. A
    conditional model encodes each under the class the digit classifier reads there (MNIST),
    else under the chosen class (or the first)."""
    codes, names, ys, errors = [], [], [], []
    for f in files:
        if f is None:
            continue
        try:
            img = preprocess_image(f.getvalue())
        except ImageError as e:
            errors.append(f"Cannot use {f.name!r}: {e}")
            continue
        y = None
        if ck.model_config.conditional:
            read = readings.reading(img) if readings.digit_model(ck) else None
            y = read[0] if read is not None else (chosen or 0)
        codes.append(inference.encode(ck, img[None], y=y)[0][0])
        names.append(f.name)
        ys.append(y)
    return codes, names, ys, errors


def path_figure(ck: Checkpoint, labels: np.ndarray, names: Sequence[str],
                paths: dict[str, np.ndarray]) -> tuple[go.Figure, bool]:
    """The test codes with both interpolation paths drawn over them, and whether the view
    is a PCA projection (latent of more than two dimensions)."""
    plane = test_code_plane(ck)
    fig = figures.latent_scatter(plane.xy, labels, np.arange(len(plane.xy)), names, plane.axes,
                                 opacity=0.3, marker_size=3, height=520)
    figures.add_path(fig, plane.place(paths["linear"]), "linear path", "black")
    figures.add_path(fig, plane.place(paths["slerp"]), "slerp path", "crimson", "dash")
    return fig, plane.projected

def interpolation_view(ck: Checkpoint, mu: np.ndarray, labels: np.ndarray, names: Sequence[str],
                       label: int | None) -> None:
    """The Generate page's interpolation tab: paths between the posterior means of two test
    images (`mu`, the test set's codes) or of two uploaded images, decoded (under `label`, or
    the ends' own labels blending, for a conditional model)."""
    noun, cond, last = item_noun(ck.train_config.dataset), is_conditional(ck), len(mu) - 1
    st.caption(f"Decode codes along a path between the posterior means of two {noun}s: a "
               "straight line, or a great-circle arc (slerp) that keeps the code's norm "
               "typical of the prior." + (" Under *all classes* the label blends from the "
                                          "first one's to the second's." if cond else ""))
    src = st.radio("End points", ["Two test digits", "Two uploaded images"], horizontal=True,
                   key="gen_interp_source",
                   format_func=lambda o: o.replace("digits", f"{noun}s"))
    c1, c2 = st.columns(2)
    if src == "Two test digits":
        ia = int(c1.number_input("From test index", 0, last, key=K.GEN_INTERP_A))
        ib = int(c2.number_input("To test index", 0, last, key=K.GEN_INTERP_B))
        end_y = [int(labels[ia]), int(labels[ib])]
        end_names = [f"#{ia} ({names[labels[ia]]})", f"#{ib} ({names[labels[ib]]})"]
        codes = [mu[ia], mu[ib]]
    else:
        files = [c1.file_uploader("From image", type=None, key="gen_interp_file_a"),
                 c2.file_uploader("To image", type=None, key="gen_interp_file_b")]
        codes, end_names, end_y, refusals = uploaded_ends(ck, files, label)
        for refusal in refusals:
            st.error(refusal)
    c1, c2 = st.columns(2)
    steps = c1.slider("Steps", 3, 20, key=K.GEN_INTERP_STEPS)
    gif_ms = c2.slider("GIF frame duration (ms)", 40, 500, 120, 20, key="gen_interp_ms")
    if len(codes) == 2:
        paths, frames = interpolation(ck, codes[0], codes[1], steps,
                                      path_labels(ck, steps, label, end_y))
        ends = [end_names[0]] + [""] * (steps - 2) + [end_names[1]]
        st.plotly_chart(figures.grid_figure(np.concatenate([frames["linear"], frames["slerp"]]),
                                            steps, list(METHODS), ends, cell_px=64),
                        key="gen_interp_grid", width="content", config={"displayModeBar": False})
        d1, d2 = st.columns(2)
        for col, m in zip((d1, d2), METHODS, strict=True):
            col.download_button(f"Download the {m} interpolation as GIF",
                                figures.gif_bytes(frames[m], 6, gif_ms),
                                file_name=f"{ck.name}-{m}-interpolation.gif", mime="image/gif",
                                key=f"gen_interp_gif_{m}")
        fig, projected = path_figure(ck, labels, names, paths)
        if projected:
            st.caption(f"The {mu.shape[1]}-D paths, projected on the test codes' first two "
                       "principal directions.")
        st.plotly_chart(fig, key="gen_interp_scatter")
    else:
        st.info("Upload both images to interpolate between them.")
