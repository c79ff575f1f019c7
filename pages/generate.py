"""Generate: prior samples, posterior predictive samples, interpolations and traversals."""

import numpy as np
import streamlit as st
import torch

from ui import derived, figures
from ui.figures import item_noun
from ui.state import active_model, encoded, test_set_or_stop
from vae_core import ImageError, interpolate_codes, preprocess_image, traversal_codes

ck = active_model()
st.title("Generate")
x_test, labels, names = test_set_or_stop(ck.train_config.dataset)
mu, logvar = encoded(ck)
n_test, z_dim = mu.shape
last = n_test - 1
noun = item_noun(ck.train_config.dataset)

prior_tab, post_tab, interp_tab, trav_tab = st.tabs(
    ["Prior samples", "Posterior predictive", "Interpolation", "Traversal"])

# --- prior samples -------------------------------------------------------------------------
with prior_tab:
    st.caption(f"New {noun}s: z ~ N(0, I) decoded to the mean image of p(x|z).")
    c1, c2, c3 = st.columns(3)
    n = c1.number_input("How many", 1, 200, 48, key="gen_prior_n")
    seed = c2.number_input("Seed", 0, 2**31 - 1, 0, key="gen_prior_seed")
    ncol = c3.slider("Per row", 4, 20, 12, key="gen_prior_ncol")
    imgs = derived.prior_samples(ck, int(n), int(seed))
    st.image(figures.png(figures.tile(imgs, ncol), 3), caption=f"{n} prior samples, seed {seed}")

# --- posterior predictive ------------------------------------------------------------------
with post_tab:
    st.caption(f"Samples z ~ q(z|x) for one test {noun}, decoded: how much the model "
               f"hesitates about that {noun}.")
    c1, c2, c3 = st.columns(3)
    i = int(c1.number_input(f"Test {noun} index (0 to {last})", 0, last, 0,
                            key="gen_post_index"))
    n = int(c2.number_input("Samples", 1, 100, 24, key="gen_post_n"))
    seed = int(c3.number_input("Seed", 0, 2**31 - 1, 0, key="gen_post_seed"))
    draw = st.checkbox("Also draw the pixels from p(x|z) (Bernoulli or Gaussian noise), "
                       "not just its mean", key="gen_post_pixels")
    samples = derived.posterior_samples(ck, x_test[i], n, seed, draw_pixels=draw)
    recon = derived.reconstruct(ck, x_test[i][None])[0]
    a, b, c = st.columns([1, 1, 4])
    a.image(figures.png(x_test[i], 5), caption=f"test #{i} (label {names[labels[i]]})",
            width=140)
    b.image(figures.png(recon, 5), caption="posterior mean decoded", width=140)
    c.image(figures.png(figures.tile(samples, 8), 3), caption=f"{n} posterior samples")

# --- interpolation -------------------------------------------------------------------------
with interp_tab:
    st.caption(f"Decode codes along a path between the posterior means of two {noun}s: a "
               "straight line, or a great-circle arc (slerp) that keeps the code's norm "
               "typical of the prior.")
    src = st.radio("End points", ["Two test digits", "Two uploaded images"], horizontal=True,
                   key="gen_interp_source",
                   format_func=lambda o: o.replace("digits", f"{noun}s"))
    if src == "Two test digits":
        c1, c2 = st.columns(2)
        ia = int(c1.number_input("From test index", 0, last, 0, key="gen_interp_a"))
        ib = int(c2.number_input("To test index", 0, last, 1, key="gen_interp_b"))
        ends = [x_test[ia], x_test[ib]]
        end_names = [f"#{ia} ({names[labels[ia]]})", f"#{ib} ({names[labels[ib]]})"]
    else:
        c1, c2 = st.columns(2)
        files = [c1.file_uploader("From image", type=None, key="gen_interp_file_a"),
                 c2.file_uploader("To image", type=None, key="gen_interp_file_b")]
        ends, end_names = [], []
        for f in files:
            if f is None:
                continue
            try:
                ends.append(preprocess_image(f.getvalue()))
                end_names.append(f.name)
            except ImageError as e:
                st.error(f"Cannot use {f.name!r}: {e}")
    c1, c2 = st.columns(2)
    steps = c1.slider("Steps", 3, 20, 10, key="gen_interp_steps")
    gif_ms = c2.slider("GIF frame duration (ms)", 40, 500, 120, 20, key="gen_interp_ms")
    if len(ends) == 2:
        if src == "Two test digits":
            z0, z1 = torch.from_numpy(mu[ia]), torch.from_numpy(mu[ib])
        else:
            z0, z1 = torch.from_numpy(derived.encode(ck, np.stack(ends))[0])
        paths = {m: interpolate_codes(z0, z1, steps, m).numpy() for m in ("linear", "slerp")}
        frames = {m: derived.decode(ck, p) for m, p in paths.items()}
        row_labels = ["linear", "slerp"]
        st.plotly_chart(figures.grid_figure(np.concatenate([frames["linear"], frames["slerp"]]),
                                            steps, row_labels,
                                            [end_names[0]] + [""] * (steps - 2) + [end_names[1]],
                                            cell_px=64),
                        key="gen_interp_grid", width="content",
                        config={"displayModeBar": False})
        d1, d2 = st.columns(2)
        for col, m in zip((d1, d2), ("linear", "slerp"), strict=True):
            col.download_button(f"Download the {m} interpolation as GIF",
                                figures.gif_bytes(frames[m], 6, gif_ms),
                                file_name=f"{ck.name}-{m}-interpolation.gif", mime="image/gif",
                                key=f"gen_interp_gif_{m}")
        if z_dim > 2:
            mean, dirs, xy = derived.pca_of_test_codes(ck)
            proj = {m: derived.project(p, mean, dirs) for m, p in paths.items()}
            axes = ("PC 1", "PC 2")
            st.caption(f"The {z_dim}-D paths, projected on the test codes' first two principal "
                       "directions.")
        else:
            xy, axes = figures.pad_2d(mu), ("z₀", "z₁" if z_dim == 2 else "(1-D latent)")
            proj = {m: figures.pad_2d(p) for m, p in paths.items()}
        fig = figures.latent_scatter(xy, labels, np.arange(n_test), names, axes, opacity=0.3,
                                     marker_size=3, height=520)
        figures.add_path(fig, proj["linear"], "linear path", "black")
        figures.add_path(fig, proj["slerp"], "slerp path", "crimson", "dash")
        st.plotly_chart(fig, key="gen_interp_scatter")
    else:
        st.info("Upload both images to interpolate between them.")

# --- traversal -----------------------------------------------------------------------------
with trav_tab:
    st.caption("Row d changes only z_d from −range to +range, all other dimensions held at "
               "the base code: what each latent dimension controls.")
    c1, c2, c3 = st.columns(3)
    around = c1.radio("Around", ["zero (the prior mean)", "a test digit's mean"],
                      key="gen_trav_around", format_func=lambda o: o.replace("digit", noun))
    steps = c2.slider("Steps", 3, 15, 9, key="gen_trav_steps")
    lim = c3.slider("Range ±", 0.5, 5.0, 3.0, 0.5, key="gen_trav_lim")
    base = None
    if around != "zero (the prior mean)":
        j = int(st.number_input(f"Test {noun} index (0 to {last})", 0, last, 0,
                                key="gen_trav_index"))
        base = mu[j]
        st.caption(f"Base: the posterior mean of test #{j} (label {names[labels[j]]}).")
    row_names = derived.dim_labels(ck)
    dims = list(range(z_dim))
    if z_dim > 16:
        dims = st.multiselect(
            "Dimensions (rows)", dims, derived.most_active_dims(ck, 16), key="gen_trav_dims",
            format_func=row_names.__getitem__,
            help="By default the most used dimensions, most KL first (KL of q(z_d|x) from the "
                 "prior, averaged over the test set); inactive ones decode to identical rows.")
    if not dims:
        st.info("Choose at least one dimension.")
        st.stop()
    codes = traversal_codes(z_dim, steps, lim, None if base is None else torch.from_numpy(base))
    codes = codes.view(z_dim, steps, z_dim)[dims].reshape(-1, z_dim)
    imgs = derived.decode(ck, codes)
    prefix = "" if base is None else "Δ"
    col_labels = [f"{prefix}{v:+.1f}" for v in np.linspace(-lim, lim, steps)]
    # Short row labels ("z7 · inactive"): the grid leaves ~110 px for them.
    rows = [row_names[d].split(" (")[0] for d in dims]
    st.plotly_chart(figures.grid_figure(imgs, steps, rows, col_labels, cell_px=60),
                    key="gen_trav_grid", width="content", config={"displayModeBar": False})
