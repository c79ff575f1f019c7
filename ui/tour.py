"""The guided tour on the home page: eight steps through a VAE, each told with the active
model's own numbers on the test image the page follows, with a small live view and a link
to the page that shows it in full. Back / Next move through the steps (session state)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import plotly.graph_objects as go
import streamlit as st
import torch

from ui.derived import (anatomy, decode, key, manifold_image, pca_of_test_codes, posterior_samples,
                        prior_samples, project_cov, subsample)
from ui.figures import pad_2d, png, tile
from ui.keys import STEP_KEY
from ui.latent_map import draw_codes
from ui.replay_figures import cloud_extent, posterior_clouds, project_frame, replay_plane
from ui.replay_view import replay_classes
from ui.share import shown
from ui.state import BUNDLED_DIR, MODEL_KEY, encoded, test_set
from ui.wording import item_noun, with_article
from vae_core import (MIXTURE_CODES, Checkpoint, VAEError, has_replay, hole_gap,
                      load_replay, mixture_subsample)

HOLE_RATIO = 10.0  # a prior sample is in a hole when p(z) exceeds q(z) this many times
HOLE_SAMPLES = 2000
CVAE = "mnist-cvae-2d"


@dataclass
class Digit:
    """The test image the home page follows, as the tour needs it."""

    index: int
    image: np.ndarray
    label: int
    name: str  # "a 7", "a sandal"
    seed: int


@st.cache_data(max_entries=16, show_spinner="Looking for holes in the latent space...")
def _holes(path: str, mtime: str, _mu: np.ndarray, _logvar: np.ndarray, y: int | None,
           _ck: Checkpoint) -> dict[str, Any]:
    g = torch.Generator().manual_seed(0)
    z = torch.randn(HOLE_SAMPLES, _mu.shape[1], generator=g, dtype=torch.float64)
    pick = mixture_subsample(len(_mu), MIXTURE_CODES, g).numpy()
    gap = hole_gap(z, torch.from_numpy(np.asarray(_mu)[pick]),
                   torch.from_numpy(np.asarray(_logvar)[pick])).numpy()
    order = np.argsort(gap)
    show = np.concatenate([order[:6], order[-6:]])
    return {"share": float((gap > math.log(HOLE_RATIO)).mean()),
            "images": decode(_ck, z[show].float().numpy(), y), "worst": float(gap.max())}


def holes(ck: Checkpoint, y: int | None) -> dict[str, Any]:
    """Where the prior N(0, I) has mass the aggregate posterior q(z) lacks: the share of prior
    samples in such holes, and the 6 most typical and the 6 most 'holey' samples decoded."""
    mu, logvar = encoded(ck)
    return _holes(*key(ck), mu, logvar, y, ck)


def _fmt(v: np.ndarray, k: int = 4) -> str:
    s = ", ".join(f"{x:.2f}" for x in np.asarray(v)[:k])
    return f"({s}{', …' if len(v) > k else ''})"


def _bars(values: np.ndarray, title: str) -> go.Figure:
    fig = go.Figure(go.Bar(x=[f"z{i}" for i in range(len(values))], y=values,
                           marker_color="#d62728"))
    fig.update_layout(height=240, margin={"l": 10, "r": 10, "t": 30, "b": 10}, title=title,
                      yaxis_title="nats")
    return fig


def _y(ck: Checkpoint, d: Digit) -> int | None:
    """The label a conditional model decodes under (the followed image's); None otherwise."""
    return d.label if ck.model_config.conditional else None


def _strip(images: list[np.ndarray], caption: str, scale: int = 2) -> None:
    """One row of images (each [28, 28] or a batch [n, 28, 28])."""
    row = np.concatenate([i[None] if i.ndim == 2 else i for i in images])
    st.image(png(tile(row, len(row)), scale), caption=caption)


def _switch_to_cvae() -> None:
    st.session_state[MODEL_KEY] = str(BUNDLED_DIR / CVAE)


Step = Callable[[Checkpoint, Digit, dict[str, Any]], tuple[str, str, str]]


def _where(ck: Checkpoint, d: Digit, a: dict[str, Any]) -> tuple[np.ndarray, str]:
    """2,000 encoded test images and this one's posterior (PCA plane beyond 2-D), as a
    picture, and the plane's axes."""
    mu, _ = encoded(ck)
    _, labels, _ = test_set(ck.train_config.dataset)
    sel = subsample(len(mu), 2000)
    if ck.model_config.latent_dim <= 2:  # a 1-D model's codes sit on the z₀ axis
        xy, center = pad_2d(mu[sel]), pad_2d(a["mu"][None])[0]
        cov, axes = np.diag(pad_2d(a["sigma"][None] ** 2)[0]), "z₀ across, z₁ up"
    else:
        mean, dirs, proj = pca_of_test_codes(ck)
        xy, center, cov = proj[sel], (a["mu"] - mean) @ dirs.T, project_cov(a["logvar"], dirs)
        axes = "PC1 across, PC2 up"
    return draw_codes(xy, labels[sel], center, cov), axes


def _encoder(ck: Checkpoint, d: Digit, a: dict[str, Any]) -> tuple[str, str, str]:
    m = ck.model_config
    c1, c2 = st.columns([1, 3])
    c1.image(png(a["x"], 3), caption="x")
    where, axes = _where(ck, d, a)
    c2.image(png(where), caption=f"2,000 test codes by class and #{d.index}'s cloud (red, "
             f"1σ); {axes}", width="stretch")
    given = " and its label" if m.conditional else ""
    return ("The encoder", f"The encoder ({m.arch.upper()}) reads the 784 pixels of test "
            f"{item_noun(ck.train_config.dataset)} #{d.index} ({d.name}){given} and answers "
            f"with a Gaussian cloud in a {m.latent_dim}-D latent space, not a point: mean "
            f"μ = {_fmt(a['mu'])} and spread σ = {_fmt(a['sigma'])}. The smaller σ, the more "
            "precisely the encoder pins the image down.", "pages/scatter.py")


def _reparam(ck: Checkpoint, d: Digit, a: dict[str, Any]) -> tuple[str, str, str]:
    st.latex(r"z = \mu + \sigma \odot \varepsilon, \quad \varepsilon \sim \mathcal{N}(0, I)")
    _strip([a["x_z"], posterior_samples(ck, d.image, 5, d.seed + 1, y=_y(ck, d))],
           f"decoded from this z, then from 5 more draws of ε (seed {d.seed + 1})")
    return ("ε and the reparameterisation", f"Training needs a *sample* z from the cloud, "
            f"yet gradients must reach μ and σ. So the noise is drawn outside the network: "
            f"with seed {d.seed}, ε = {_fmt(a['eps'])}, hence z = μ + σ·ε = {_fmt(a['z'])}. "
            "A new seed gives another z and a slightly different decoding; μ and σ stay "
            "the same.", "pages/reconstruct.py")


def _kl(ck: Checkpoint, d: Digit, a: dict[str, Any]) -> tuple[str, str, str]:
    st.plotly_chart(_bars(a["kl_dims"], "KL per latent dimension, this image"),
                    key="tour_fig_kl")
    used = int((a["kl_dims"] > 0.05).sum())
    mean = ck.metrics.get("test_kl")
    avg = f" (the test set's mean is {mean:.2f})" if isinstance(mean, (int, float)) else ""
    return ("The KL term", f"The loss charges every image KL(q(z|x) ‖ N(0, I)): how far "
            f"its cloud is from the prior. For {d.name} it is {a['kl']:.2f} nats{avg}. "
            f"{used} of {ck.model_config.latent_dim} dimensions carry more than 0.05 nats; "
            "the others sit on the prior and say nothing about the image (posterior "
            "collapse).", "pages/compare.py")


def _decoder(ck: Checkpoint, d: Digit, a: dict[str, Any]) -> tuple[str, str, str]:
    _strip([a["x"], a["x_mu"], prior_samples(ck, 4, d.seed, _y(ck, d))],
           "input · decoded μ · four decodings of z ~ N(0, I)", 3)
    return ("The decoder", f"The decoder maps a code back to pixel probabilities. Decoding "
            f"μ reconstructs {d.name}; the reconstruction term −log p(x|z) is "
            f"{a['recon']:.1f} nats for it, so its −ELBO is {a['neg_elbo']:.1f}. Decoding "
            "a z drawn from the prior makes a new image: that is the generative model.",
            "pages/generate.py")


def _manifold(ck: Checkpoint, d: Digit, a: dict[str, Any]) -> tuple[str, str, str]:
    m, y = ck.model_config, _y(ck, d)
    if m.latent_dim == 1:
        grid = tile(decode(ck, np.linspace(-3, 3, 10)[:, None], y), 10)
        plane = "its one latent axis"
    elif m.latent_dim == 2:
        grid, _ = manifold_image(ck, 10, 3.0, y=y)
        plane = "the latent plane"
    else:
        mean, dirs, _ = pca_of_test_codes(ck)
        grid, _ = manifold_image(ck, 10, 3.0, base=mean, directions=dirs, y=y)
        plane = f"the plane of the test codes' two principal directions (of {m.latent_dim})"
    st.image(png(grid, 1), caption="z from −3 to 3 on both axes", width=300)
    return ("The manifold", f"Decode a whole grid of codes on {plane} and the images "
            "morph smoothly into each other: neighbouring codes decode to similar images, "
            "because the KL term made the clouds overlap.", "pages/manifold.py")


def _holes_step(ck: Checkpoint, d: Digit, a: dict[str, Any]) -> tuple[str, str, str]:
    h = holes(ck, _y(ck, d))
    _strip([h["images"][:6]], "the 6 prior samples the test set covers best")
    _strip([h["images"][6:]], "the 6 deepest in holes")
    return ("Holes in the latent space", f"The prior N(0, I) and the mixture of all the "
            f"encoder's clouds over the test set (the aggregate posterior) should match, but "
            f"they don't quite: {h['share']:.0%} of 2,000 codes drawn from the prior land "
            f"where the prior is over {HOLE_RATIO:g}× denser than the aggregate posterior. "
            "Almost no image is encoded there, so the decoder was hardly ever taught what to "
            "draw there: compare the bottom row with the top.", "pages/sliders.py")


def _style(ck: Checkpoint, d: Digit, a: dict[str, Any]) -> tuple[str, str, str]:
    m = ck.model_config
    if m.conditional:
        k = m.n_classes
        _strip([decode(ck, np.repeat(a["mu"][None], k, 0), np.arange(k))],
               f"μ of {d.name}, decoded under each class")
        return ("Conditional style", f"This model is conditional: the label is an input, "
                f"so its {m.latent_dim}-D z only has to hold the *style*. Keep μ of "
                f"{d.name} and change the label: every class is drawn in the same slant and "
                "stroke width.", "pages/generate.py")
    if (BUNDLED_DIR / CVAE).is_dir():
        st.button(f"Switch to {CVAE}", key="tour_switch_cvae", on_click=_switch_to_cvae,
                  icon=":material/swap_horiz:")
    return ("Conditional style", f"This model is unconditional: its {m.latent_dim}-D z must "
            "hold the class *and* the style together, which is why classes sit in separate "
            f"regions. A conditional VAE takes the label as an input, so z keeps only the "
            f"style. Switch to {CVAE} to draw one style in every class.", "pages/generate.py")


def _replay(ck: Checkpoint, d: Digit, a: dict[str, Any]) -> tuple[str, str, str]:
    if not has_replay(ck.path):
        return ("Watch it learn", f"{ck.name} has no training replay saved. Models trained "
                "now record one; the bundled mnist-mlp-2d has one to replay.",
                "pages/replay.py")
    try:
        r = load_replay(ck.path, ck.model_config.latent_dim)
    except VAEError as e:  # shown as text: the replay page explains it in full
        return ("Watch it learn", f"The training replay of {ck.name} cannot be read: {e}",
                "pages/replay.py")
    spread = np.exp(0.5 * r.logvar[[0, -1]]).mean(axis=(1, 2))
    mean, dirs, titles = replay_plane(r)
    xy, covs = project_frame(r, len(r) - 1, mean, dirs)
    fig = posterior_clouds(xy, covs, r.labels, replay_classes(r.dataset, r.labels),
                           cloud_extent(r, mean, dirs), titles, height=320)
    fig.update_layout(showlegend=False)  # the column is narrow; colours are the scatter's
    st.plotly_chart(fig, key="tour_fig_replay", config={"displayModeBar": False})
    how = ("as the style codes spread over the prior" if ck.model_config.conditional
           else "as the classes pulled apart")
    return ("Watch it learn", f"All of this was learnt. {ck.name}'s replay followed "
            f"{len(r.index)} test images through {len(r)} snapshots over "
            f"{r.epoch[-1]:g} epochs: their mean σ went from {spread[0]:.2f} to "
            f"{spread[1]:.3f} and the KL per image from {r.kl_dims[0].sum():.2f} to "
            f"{r.kl_dims[-1].sum():.2f} nats {how}. On the right, where they ended; the "
            "replay page plays the whole run.", "pages/replay.py")


STEPS: list[Step] = [_encoder, _reparam, _kl, _decoder, _manifold, _holes_step, _style,
                     _replay]


def _move(delta: int) -> None:
    st.session_state[STEP_KEY] = min(max(0, st.session_state.get(STEP_KEY, 0) + delta),
                                     len(STEPS) - 1)


def tour(ck: Checkpoint, digit: Digit) -> None:
    """The tour's current step: text, live view and link, with Back / Next."""
    i = min(max(0, int(st.session_state.get(STEP_KEY, 0))), len(STEPS) - 1)
    a = anatomy(ck, digit.image, digit.seed, _y(ck, digit))
    with st.container(border=True):
        left, right = st.columns([3, 2])
        with right:
            title, text, page = STEPS[i](ck, digit, a)
        with left:
            st.markdown(f"**Guided tour · step {i + 1} of {len(STEPS)}: {title}**")
            st.markdown(text)
            if shown(page):
                st.page_link(page, label="Open the full view", icon=":material/open_in_new:")
            b, n, _ = st.columns([1, 1, 3])
            b.button("Back", key="tour_back", on_click=_move, args=(-1,), disabled=i == 0,
                     icon=":material/arrow_back:", width="stretch")
            n.button("Next", key="tour_next", on_click=_move, args=(1,),
                     disabled=i == len(STEPS) - 1, icon=":material/arrow_forward:",
                     width="stretch")


def digit_of(index: int, images: np.ndarray, labels: np.ndarray, classes: list[str],
             seed: int) -> Digit:
    index = min(max(0, index), len(images) - 1)  # another dataset may be smaller
    label = int(labels[index])
    return Digit(index, images[index], label, with_article(classes[label]), seed)
