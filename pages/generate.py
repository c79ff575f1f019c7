"""Generate: prior samples, posterior predictive samples, interpolations and traversals."""

import numpy as np
import streamlit as st

from ui import classes, derived, figures, generation, inference, keys as K, readings, sidebar
from ui.share import view_link
from ui.state import encoded, test_set_or_stop
from ui.wording import item_noun

ck = sidebar.active_model(conditional_ok=True)
st.title("Generate")
view_link("generate", ck)  # before the widgets: they take its values, or a link's
x_test, labels, names = test_set_or_stop(ck.train_config.dataset)
mu, _ = encoded(ck)
z_dim, last = mu.shape[1], len(mu) - 1
noun = item_noun(ck.train_config.dataset)
cond = classes.is_conditional(ck)
label = classes.class_picker(
    ck, names, K.GEN_CLASS, "Class", allow_all=True,
    help=f"{ck.name} is a conditional VAE: z holds the style, the label the class.",
    note="Prior samples, interpolations and traversals are drawn in this class; under *all "
         "classes*, prior samples get one row per class and the rest follow their "
         f"{noun}s' own labels (posterior samples always do).") if cond else None

prior_tab, post_tab, interp_tab, trav_tab = st.tabs(
    ["Prior samples", "Posterior predictive", "Interpolation", "Traversal"], key=K.GEN_TAB,
    on_change="rerun")  # tracked: the link holds the tab

# --- prior samples -------------------------------------------------------------------------
with prior_tab:
    st.caption(f"New {noun}s: z ~ N(0, I) decoded to the mean image of p(x|z).")
    by_class = cond and label is None
    c1, c2, c3 = st.columns(3)
    n = c1.number_input("How many", 1, 200, key=K.GEN_PRIOR_N, disabled=by_class)
    seed = c2.number_input("Seed", 0, 2**31 - 1, key=K.GEN_PRIOR_SEED)
    ncol = c3.slider("Per row", 4, 20, key=K.GEN_PRIOR_NCOL)
    if by_class:
        grid = generation.prior_by_class(ck, ncol, int(seed))
        st.plotly_chart(figures.grid_figure(grid, ncol, [f"class {c}" for c in names]),
                        key="gen_prior_classes", width="content", config={"displayModeBar": False})
        st.caption(f"One row per class, seed {seed}: column j decodes the same style code z "
                   "in every row, so only the class changes down a column.")
    else:
        imgs = inference.prior_samples(ck, int(n), int(seed), y=label)
        what = "" if label is None else f" of class {names[label]}"
        st.image(figures.png(figures.tile(imgs, ncol), 3), caption=f"{n} prior samples{what}, "
                 f"seed {seed}", alt=f"{n} {noun}s decoded from codes drawn from the prior{what}")

# --- posterior predictive ------------------------------------------------------------------
with post_tab:
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

# --- interpolation -------------------------------------------------------------------------
with interp_tab:
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
        codes, end_names, end_y, refusals = generation.uploaded_ends(ck, files, label)
        for refusal in refusals:
            st.error(refusal)
    c1, c2 = st.columns(2)
    steps = c1.slider("Steps", 3, 20, key=K.GEN_INTERP_STEPS)
    gif_ms = c2.slider("GIF frame duration (ms)", 40, 500, 120, 20, key="gen_interp_ms")
    if len(codes) == 2:
        paths, frames = generation.interpolation(
            ck, codes[0], codes[1], steps, generation.path_labels(ck, steps, label, end_y))
        st.plotly_chart(figures.grid_figure(np.concatenate([frames["linear"], frames["slerp"]]),
                                            steps, list(generation.METHODS),
                                            [end_names[0]] + [""] * (steps - 2) + [end_names[1]],
                                            cell_px=64),
                        key="gen_interp_grid", width="content",
                        config={"displayModeBar": False})
        d1, d2 = st.columns(2)
        for col, m in zip((d1, d2), generation.METHODS, strict=True):
            col.download_button(f"Download the {m} interpolation as GIF",
                                figures.gif_bytes(frames[m], 6, gif_ms),
                                file_name=f"{ck.name}-{m}-interpolation.gif", mime="image/gif",
                                key=f"gen_interp_gif_{m}")
        fig, projected = generation.path_figure(ck, labels, names, paths)
        if projected:
            st.caption(f"The {z_dim}-D paths, projected on the test codes' first two principal "
                       "directions.")
        st.plotly_chart(fig, key="gen_interp_scatter")
    else:
        st.info("Upload both images to interpolate between them.")

# --- traversal -----------------------------------------------------------------------------
with trav_tab:
    st.caption("Row d changes only z_d from −range to +range, all other dimensions held at "
               "the base code: what each latent dimension controls.")
    c1, c2, c3 = st.columns(3)
    around = c1.radio("Around", ["zero (the prior mean)", "a test digit's mean"],
                      key=K.GEN_TRAV_AROUND, format_func=lambda o: o.replace("digit", noun))
    steps = c2.slider("Steps", 3, 15, key=K.GEN_TRAV_STEPS)
    lim = c3.slider("Range ±", 0.5, 5.0, step=0.5, key=K.GEN_TRAV_LIM)
    base, trav_y = None, label
    if around != "zero (the prior mean)":
        j = int(st.number_input(f"Test {noun} index (0 to {last})", 0, last, key=K.GEN_TRAV_INDEX))
        base = mu[j]
        trav_y = int(labels[j]) if cond and label is None else label
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
    if cond and trav_y is None:
        st.info(f"Pick a class above, or go around a test {noun}'s mean, to see the styles.")
        st.stop()
    imgs, rows, col_labels = generation.traversal(ck, steps, lim, base, dims, row_names, trav_y)
    st.plotly_chart(figures.grid_figure(imgs, steps, rows, col_labels, cell_px=60),
                    key="gen_trav_grid", width="content", config={"displayModeBar": False})
