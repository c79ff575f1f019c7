"""Generate: prior samples, posterior predictive samples, interpolations and traversals."""

import streamlit as st

from ui import classes, derived, figures, generation, inference, keys as K, sidebar
from ui.sidebar import needs_encoder
from ui.share import view_link
from ui.state import encoded, test_set_or_stop
from ui.wording import item_noun

ck = sidebar.active_model(conditional_ok=True)
st.title("Generate")
view_link("generate", ck)  # before the widgets: they take its values, or a link's
x_test, labels, names = test_set_or_stop(ck.train_config.dataset)
mu = encoded(ck)[0] if ck.model.has_encoder else None  # an ONNX model may lack one
z_dim, last = ck.model_config.latent_dim, len(x_test) - 1
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
    if needs_encoder(ck, "sampling a test image's posterior"):
        generation.posterior_view(ck, x_test, labels, names)

# --- interpolation -------------------------------------------------------------------------
with interp_tab:
    if needs_encoder(ck, "interpolating between encoded images"):
        generation.interpolation_view(ck, mu, labels, names, label)

# --- traversal -----------------------------------------------------------------------------
with trav_tab:
    st.caption("Row d changes only z_d from −range to +range, all other dimensions held at "
               "the base code: what each latent dimension controls.")
    c1, c2, c3 = st.columns(3)
    arounds = ["zero (the prior mean)", "a test digit's mean"][:1 + (mu is not None)]
    around = c1.radio("Around", arounds,
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
