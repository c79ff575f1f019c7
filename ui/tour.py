"""The guided tour on the home page: eight steps through a VAE, each told with the active
model's own numbers on the test image the page follows, with a small live view and a link
to the page that shows it in full. Back / Next move through the steps (session state)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from ui.derived import anatomy, manifold_image, pca_of_test_codes, project_cov, subsample
from ui.inference import decode, posterior_samples, prior_samples
from ui.figures import pad_2d, png, tile
from ui.prior_holes import holes_story
from ui.keys import MODEL_KEY, STEP_KEY
from ui.lesson import shown
from ui.latent_map import draw_codes
from ui.replay_figures import cloud_extent, posterior_clouds, project_frame, replay_plane
from ui.replay_view import replay_classes
from ui.state import BUNDLED_DIR, encoded, test_set
from ui.wording import item_noun, with_article
from vae_core import Checkpoint, VAEError, has_replay, load_replay

CVAE = "mnist-cvae-2d"
COLLAPSED = 0.05  # nats: a dimension carrying less KL than this sits on the prior


@dataclass
class Digit:
    """The test image the home page follows, as the tour needs it."""

    index: int
    image: np.ndarray
    label: int
    name: str  # "a 7", "a sandal"
    seed: int
    cls: str = ""  # the class's name: "7", "Sandal"


@dataclass(frozen=True)
class View:
    """Where a step's "Open the full view" goes: a page with the link parameters that open it
    in the state the step shows (ui.share reads them), and what the link says."""

    page: str
    params: dict[str, str]
    label: str = "Open the full view"


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
    st.image(png(tile(row, len(row)), scale), caption=caption,
             alt=f"a row of {len(row)} images: {caption}")


def _switch_to_cvae() -> None:
    st.session_state[MODEL_KEY] = str(BUNDLED_DIR / CVAE)


Step = Callable[[Checkpoint, Digit, dict[str, Any]], tuple[str, str, View]]


def _link(ck: Checkpoint, page: str, says: str, **params: Any) -> View:
    """A step's full view: `page` with the model and `params` (None left out) as URL text;
    the link `says` what opens."""
    return View(f"pages/{page}.py", {"model": ck.name} | {k: str(v) for k, v in params.items()
                                                          if v is not None}, says)


def _label(ck: Checkpoint, d: Digit) -> str | None:
    """The class a link gives a conditional model (the followed image's)."""
    return d.cls if ck.model_config.conditional else None


def _where(ck: Checkpoint, d: Digit, a: dict[str, Any]) -> tuple[np.ndarray, str]:
    """2,000 encoded test images and this one's posterior (PCA plane beyond 2-D), as a
    picture with its legend, and the plane's axes."""
    mu, _ = encoded(ck)
    _, labels, classes = test_set(ck.train_config.dataset)
    sel = subsample(len(mu), 2000)
    if ck.model_config.latent_dim <= 2:  # a 1-D model's codes sit on the z₀ axis
        xy, center = pad_2d(mu[sel]), pad_2d(a["mu"][None])[0]
        cov, axes = np.diag(pad_2d(a["sigma"][None] ** 2)[0]), "z₀ across, z₁ up"
    else:
        mean, dirs, proj = pca_of_test_codes(ck)
        xy, center, cov = proj[sel], (a["mu"] - mean) @ dirs.T, project_cov(a["logvar"], dirs)
        axes = "PC1 across, PC2 up"
    return draw_codes(xy, labels[sel], center, cov, classes=tuple(classes),
                      mark=f"#{d.index}: its code (ring) and cloud"), axes


def _encoder(ck: Checkpoint, d: Digit, a: dict[str, Any]) -> tuple[str, str, View]:
    m = ck.model_config
    c1, c2 = st.columns([1, 3])
    c1.image(png(a["x"], 3), caption="x", alt=f"test image #{d.index}, {d.name}")
    where, axes = _where(ck, d, a)
    c2.image(png(where), caption=f"2,000 test codes coloured by class and #{d.index}'s "
             f"cloud (red ring: its μ, ellipse: 1σ); {axes}", width="stretch",
             alt=f"scatter plot of 2,000 test codes, one dot each, coloured by class, with "
             f"#{d.index}'s mean μ as a red ring and its 1σ ellipse; {axes}")
    given = " and its label" if m.conditional else ""
    if m.latent_dim <= 2:  # the Sliders map draws the test codes and marks z = μ
        view = _link(ck, "sliders", f"Open Latent sliders at #{d.index}'s μ, among the test "
                     "codes", digit=d.index, label=_label(ck, d))
    else:  # the Scatter page draws this PCA plane but marks no single code
        view = _link(ck, "scatter", f"Open Latent scatter: the same PCA plane (#{d.index} is "
                     "not marked there)")
    return ("The encoder", f"The encoder ({m.arch.upper()}) reads the 784 pixels of test "
            f"{item_noun(ck.train_config.dataset)} #{d.index} ({d.name}){given} and answers "
            f"with a Gaussian cloud in a {m.latent_dim}-D latent space, not a point: mean "
            f"μ = {_fmt(a['mu'])} and spread σ = {_fmt(a['sigma'])}. The smaller σ, the more "
            "precisely the encoder pins the image down.", view)


def _reparam(ck: Checkpoint, d: Digit, a: dict[str, Any]) -> tuple[str, str, View]:
    st.latex(r"z = \mu + \sigma \odot \varepsilon, \quad \varepsilon \sim \mathcal{N}(0, I)")
    _strip([a["x_z"], posterior_samples(ck, d.image, 5, d.seed + 1, y=_y(ck, d))],
           f"decoded from this z, then from 5 more draws of ε (seed {d.seed + 1})")
    view = _link(ck, "generate", f"Open Generate: these 5 posterior samples of #{d.index}",
                 tab="posterior", digit=d.index, n=5, seed=d.seed + 1)
    return ("ε and the reparameterisation", f"Training needs a *sample* z from the cloud, "
            f"yet gradients must reach μ and σ. So the noise is drawn outside the network: "
            f"with seed {d.seed}, ε = {_fmt(a['eps'])}, hence z = μ + σ·ε = {_fmt(a['z'])}. "
            "A new seed gives another z and a slightly different decoding; μ and σ stay "
            "the same.", view)


def collapse_sentence(kl_dims: np.ndarray) -> str:
    """How many dimensions carry information about the image, in words that fit any count."""
    n, used = len(kl_dims), int((np.asarray(kl_dims) > COLLAPSED).sum())
    if used == n:
        who = {1: "Its one dimension carries", 2: "Both dimensions carry"}.get(
            n, f"All {n} dimensions carry")
        return (f"{who} more than {COLLAPSED:g} nats: none sits on the prior, so none has "
                "collapsed for this image.")
    if used == 0:
        return (f"No dimension carries more than {COLLAPSED:g} nats: every one sits on the "
                "prior and says nothing about the image (posterior collapse).")
    rest = n - used
    return (f"{used} of {n} dimensions carry more than {COLLAPSED:g} nats; the "
            + ("other one sits on the prior and says" if rest == 1 else
               f"other {rest} sit on the prior and say")
            + " nothing about the image (posterior collapse).")


def _kl(ck: Checkpoint, d: Digit, a: dict[str, Any]) -> tuple[str, str, View]:
    st.plotly_chart(_bars(a["kl_dims"], "KL per latent dimension, this image"),
                    key="tour_fig_kl")
    mean = ck.metrics.get("test_kl")
    avg = f" (the test set's mean is {mean:.2f})" if isinstance(mean, (int, float)) else ""
    view = _link(ck, "compare", "Open Compare with the test set's KL per dimension", kl="on")
    return ("The KL term", f"The loss charges every image KL(q(z|x) ‖ N(0, I)): how far "
            f"its cloud is from the prior. For {d.name} it is {a['kl']:.2f} nats{avg}. "
            + collapse_sentence(a["kl_dims"]), view)


def _decoder(ck: Checkpoint, d: Digit, a: dict[str, Any]) -> tuple[str, str, View]:
    as_cls = f" as {d.cls}s" if ck.model_config.conditional else ""
    _strip([a["x"], a["x_mu"], prior_samples(ck, 4, d.seed, _y(ck, d))],
           f"input · decoded μ · four decodings of z ~ N(0, I){as_cls} (seed {d.seed})", 3)
    under = (f" (under class {d.cls}, the label of #{d.index}: this model is conditional)"
             if as_cls else "")
    view = _link(ck, "generate", "Open Generate: these prior samples and more", tab="prior",
                 n=4, seed=d.seed, label=_label(ck, d))
    return ("The decoder", f"The decoder maps a code back to pixel probabilities. Decoding "
            f"μ reconstructs {d.name}; the reconstruction term −log p(x|z) is "
            f"{a['recon']:.1f} nats for it, so its −ELBO is {a['neg_elbo']:.1f}. Decoding "
            f"a z drawn from the prior{under} makes a new image: that is the generative "
            "model.", view)


def _manifold(ck: Checkpoint, d: Digit, a: dict[str, Any]) -> tuple[str, str, View]:
    m, y = ck.model_config, _y(ck, d)
    params: dict[str, Any] = {"grid": 10, "label": _label(ck, d)}
    if m.latent_dim == 1:
        grid = tile(decode(ck, np.linspace(-3, 3, 10)[:, None], y), 10)
        plane, params = "its one latent axis", {}
    elif m.latent_dim == 2:
        grid, _ = manifold_image(ck, 10, 3.0, y=y)
        plane = "the latent plane"
    else:
        mean, dirs, _ = pca_of_test_codes(ck)
        grid, _ = manifold_image(ck, 10, 3.0, base=mean, directions=dirs, y=y)
        plane = f"the plane of the test codes' two principal directions (of {m.latent_dim})"
        params["plane"] = "pca"
    cls = f", all decoded as class {d.cls}" if m.conditional else ""
    st.image(png(grid, 1), caption=f"z from −3 to 3 on both axes{cls}", width=300,
             alt=f"images decoded on a grid over {plane}, z from −3 to 3{cls}")
    told = (f"Decode a whole grid of codes on {plane} and the images morph smoothly into "
            "each other: neighbouring codes decode to similar images, because the KL term "
            "made the clouds overlap.")
    if m.conditional:
        told += (f" This model is conditional, so the grid is drawn under one class: "
                 f"**{d.cls}**, the label of test {item_noun(ck.train_config.dataset)} "
                 f"#{d.index}. Its codes hold only the style: slant and stroke change across "
                 "the grid, the class does not (pick another test image below for another "
                 "class).")
    return ("The manifold", told, _link(ck, "manifold", "Open Manifold: this grid", **params))


def _holes_step(ck: Checkpoint, d: Digit, a: dict[str, Any]) -> tuple[str, str, View]:
    told = holes_story(ck, _y(ck, d), d.cls)
    what = ("the deepest hole, hole map on" if told.holes else
            "the sample drawn worst" if told.measured else "the first sample")
    view = _link(ck, "sliders", f"Open Latent sliders at {what}",
                 z=",".join(f"{v:.2f}".replace("-0.00", "0.00") for v in told.z),
                 holes="on" if told.holes else None, label=_label(ck, d))
    return "Holes in the latent space", told.text, view


def _style(ck: Checkpoint, d: Digit, a: dict[str, Any]) -> tuple[str, str, View]:
    m = ck.model_config
    if m.conditional:
        k = m.n_classes
        _strip([decode(ck, np.repeat(a["mu"][None], k, 0), np.arange(k))],
               f"μ of {d.name}, decoded under each class")
        return ("Conditional style", f"This model is conditional: the label is an input, "
                f"so its {m.latent_dim}-D z only has to hold the *style*. Keep μ of "
                f"{d.name} and change the label: every class is drawn in the same slant and "
                "stroke width.", _link(ck, "manifold", "Open Manifold's style grid: styles "
                                       "across, every class", view="style"))
    cvae = (BUNDLED_DIR / CVAE).is_dir()
    if cvae:
        st.button(f"Switch to {CVAE}", key="tour_switch_cvae", on_click=_switch_to_cvae,
                  icon=":material/swap_horiz:")
    view = (View("pages/manifold.py", {"model": CVAE, "view": "style"},
                 f"Open {CVAE}'s style grid on Manifold (switches the model)") if cvae
            else _link(ck, "generate", "Open Generate"))
    return ("Conditional style", f"This model is unconditional: its {m.latent_dim}-D z must "
            "hold the class *and* the style together, which is why classes sit in separate "
            f"regions. A conditional VAE takes the label as an input, so z keeps only the "
            f"style. Switch to {CVAE} to draw one style in every class.", view)


def _replay(ck: Checkpoint, d: Digit, a: dict[str, Any]) -> tuple[str, str, View]:
    plain = _link(ck, "replay", "Open Training replay")
    if not has_replay(ck.path):
        return ("Watch it learn", f"{ck.name} has no training replay saved. Models trained "
                "now record one; the bundled mnist-mlp-2d has one to replay.", plain)
    try:
        r = load_replay(ck.path, ck.model_config.latent_dim)
    except VAEError as e:  # shown as text: the replay page explains it in full
        return ("Watch it learn", f"The training replay of {ck.name} cannot be read: {e}",
                plain)
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
            "replay page plays the whole run.",
            _link(ck, "replay", "Open Training replay at this last snapshot",
                  step=int(r.step[-1])))


STEPS: list[Step] = [_encoder, _reparam, _kl, _decoder, _manifold, _holes_step, _style,
                     _replay]


def _move(delta: int) -> None:
    st.session_state[STEP_KEY] = min(max(0, st.session_state.get(STEP_KEY, 0) + delta),
                                     len(STEPS) - 1)


def tour(ck: Checkpoint, digit: Digit) -> None:
    """The tour's current step: text, live view and a link to that view in full, with
    Back / Next."""
    i = min(max(0, int(st.session_state.get(STEP_KEY, 0))), len(STEPS) - 1)
    a = anatomy(ck, digit.image, digit.seed, _y(ck, digit))
    with st.container(border=True):
        left, right = st.columns([3, 2])
        with right:
            title, text, view = STEPS[i](ck, digit, a)
        with left:
            st.markdown(f"**Guided tour · step {i + 1} of {len(STEPS)}: {title}**")
            st.markdown(text)
            if shown(view.page):
                st.page_link(view.page, label=view.label, icon=":material/open_in_new:",
                             query_params=view.params)
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
    return Digit(index, images[index], label, with_article(classes[label]), seed,
                 classes[label])
