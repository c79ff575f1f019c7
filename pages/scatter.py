"""Latent scatter: where the encoded test digits land; select points to see them decoded."""

import numpy as np
import streamlit as st

from ui import derived, figures, inference, keys as K, plane_layers
from ui.latent_view import test_code_plane
from ui.share import view_link
from ui.sidebar import active_model, needs_encoder
from ui.state import encoded, test_set_or_stop
from ui.wording import item_noun

MAX_SHOWN = 32  # selected images drawn at most
PER_ROW = 16

ck = active_model(conditional_ok=True)
st.title("Latent scatter")
if not needs_encoder(ck, "the scatter of the encoded test images"):
    st.stop()
x, labels, names = test_set_or_stop(ck.train_config.dataset)
mu, logvar = encoded(ck)
n_total, z_dim = mu.shape
nouns = item_noun(ck.train_config.dataset, plural=True)
st.caption(f"Each point is the posterior mean E[z|x] of one {ck.train_config.dataset} test image "
           f"under **{ck.name}** (z has {z_dim} dimension{'s' if z_dim > 1 else ''}). "
           "Click the legend to hide or show a class; select points with the box or lasso "
           f"tool (top right of the chart) to see those {nouns} below.")
view_link("scatter", ck)  # before the widgets: they take its values, or a link's
y_test = inference.test_labels(ck.model, labels)  # a conditional model's codes need them
if y_test is not None:
    st.caption(f"**{ck.name}** is a conditional VAE: each test {nouns[:-1]} is encoded given "
               "its label, so these are style codes (slant, width, stroke), and the classes "
               "overlap because the label has left z.")

# --- projection to the plane ---------------------------------------------------------------
# UMAP is not offered: umap-learn pulls in numba + llvmlite (210 MB), its first import takes
# 16 s and 5,000 points take 50 s on a 2-core CPU; t-SNE already gives the neighbourhood view.
if z_dim > 2:
    method = st.radio("Projection to 2-D", ["PCA", "t-SNE"], horizontal=True,
                      key=K.SC_PROJECTION,
                      help="PCA is linear and instant: the manifold can be drawn under it. "
                           "t-SNE keeps neighbourhoods but distorts distances.")
else:
    method = "latent axes"

c1, c2 = st.columns([3, 2])
if method == "t-SNE":
    n = c1.slider("Points (t-SNE runs on this seeded subsample)", 500, n_total, step=500,
                  key=K.SC_N_TSNE)
    c1.caption("t-SNE takes tens of seconds per few thousand points on a 2-core CPU; the "
               "result is cached, so each size is computed once per model.")
else:
    n = c1.slider("Points", 500, n_total, step=500, key=K.SC_N)
# A conditional model's plane decodes to a different picture for every class: no underlay.
can_underlay = method in ("latent axes", "PCA") and z_dim >= 2 and y_test is None
opacity = c2.slider("Point opacity", 0.1, 1.0, step=0.1, key=K.SC_OPACITY)
if can_underlay:
    c2.caption("The buttons above the chart draw the decoded manifold under the points (a "
               "grid of codes covering every point; for PCA, the plane through the mean code "
               "spanned by the two principal directions), without losing your selection.")

holes_on, field_on, field_class = plane_layers.scatter_controls(ck)
pca_mean = pca_dirs = None
if method == "t-SNE":
    idx, xy = derived.tsne_of_test_codes(ck, n)
    axes = ("t-SNE 1", "t-SNE 2")
    all_xy = xy
else:
    idx = derived.subsample(n_total, n)
    plane = test_code_plane(ck)
    all_xy, axes, pca_mean, pca_dirs = plane.xy, plane.axes, plane.mean, plane.dirs
    if plane.projected:
        share = all_xy.var(0).sum() / max(mu.var(0).sum(), 1e-12)
        st.caption(f"The first two principal directions hold {share:.0%} of the variance "
                   "of the codes.")
    xy = all_xy[idx]

fig = figures.latent_scatter(xy, labels[idx], idx, names, axes, opacity=opacity,
                             marker_size=4 if n > 3000 else 6)
fig.update_layout(uirevision="scatter")  # keep zoom and hidden classes across relayouts
if can_underlay:
    # The underlay covers every test code (outliers included), whatever the subsample, so
    # the axes never crop a point and the cached grid is reused for every size.
    lim = figures.symmetric_extent(all_xy)
    grid_n = 28
    img, _ = derived.manifold_image(ck, grid_n, lim, pca_mean, pca_dirs)
    half = lim + lim / (grid_n - 1)  # grid values are cell centres: extend by half a cell
    # Dark ink on white keeps the coloured points readable on top of the decoded images.
    figures.add_image_background(fig, 1.0 - img, (-half, half), (-half, half), opacity=0.5,
                                 visible=False)
    figures.add_background_toggle(fig)
said = plane_layers.scatter_layers(ck, fig, figures.symmetric_extent(all_xy), holes_on,
                                   field_on, field_class) if z_dim == 2 else None
if said:
    st.caption(said)
event = st.plotly_chart(fig, on_select="rerun", selection_mode=("points", "box", "lasso"),
                        key="scatter_chart", config={"scrollZoom": True})

# --- the selected images -------------------------------------------------------------------
selected = figures.selected_indices(event.selection if event else None)
if not selected:
    st.info(f"Select points on the chart (click, box or lasso) to see the original {nouns}, "
            "their reconstructions and posterior samples.")
else:
    shown = np.asarray(selected)
    if len(shown) > MAX_SHOWN:  # a seeded random sample keeps the selection's class mix
        shown = np.sort(np.random.default_rng(0).choice(shown, MAX_SHOWN, replace=False))
    st.header(f"{len(selected)} selected" + (f" ({MAX_SHOWN} shown, picked at random)"
                                            if len(selected) > MAX_SHOWN else ""))
    st.caption(f"{figures.class_summary(labels[selected], names)}. Rows: original, "
               "reconstruction (decoded posterior mean), one posterior sample z ~ q(z|x) "
               "decoded.")
    originals = x[shown]
    y = None if y_test is None else y_test[shown]  # each under its own label
    recon = inference.reconstruct(ck, originals, y=y)
    samples = inference.reconstruct(ck, originals, sample=True, seed=0, y=y)
    for s in range(0, len(shown), PER_ROW):
        part = slice(s, s + PER_ROW)
        batch = np.concatenate([originals[part], recon[part], samples[part]])
        cols = [f"#{i}" for i in shown[part]]
        st.plotly_chart(figures.grid_figure(batch, len(cols), ["original", "reconstruction",
                                                               "posterior sample"], cols),
                        key=f"scatter_selected_{s}", width="content",
                        config={"displayModeBar": False})

st.download_button("Download the latent codes of all test images (CSV)", derived.codes_csv(ck),
                   file_name=f"{ck.name}-test-codes.csv", mime="text/csv", key="scatter_csv",
                   help="index, label, class, mu_0..mu_{Z-1}, logvar_0..logvar_{Z-1}")
