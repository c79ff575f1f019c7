"""Manifold: decode an N x N grid of a latent plane in one batch."""

import streamlit as st

from ui import keys as K
from ui.class_maps import shown_class_map, style_codes, style_figure
from ui.classes import class_labels, class_picker
from ui.derived import manifold_image, pca_of_test_codes, style_grid
from ui.inference import decode
from ui.figures import png, tile
from ui.latent_map import manifold_figure
from ui.readings import digit_model
from ui.share import view_link
from ui.sidebar import active_model
from vae_core import grid_values

ck = active_model(conditional_ok=True)
zdim = ck.model_config.latent_dim
st.title("Manifold")
st.caption("Each tile is the decoder's mean image at one point of a 2-D plane of the latent "
           "space; the axes give the coordinates of the tile centres.")
view_link("manifold", ck)  # before the widgets: they take its values, or a link's

y, view = None, "manifold"
if ck.model_config.conditional:
    view = st.radio("View", ["manifold", "style"], key=K.MF_VIEW, horizontal=True,
                    format_func={"manifold": "manifold of one class",
                                 "style": "style grid: each row one z, drawn in every "
                                          "class"}.get)
    if view == "manifold":
        y = class_picker(ck, None, K.MF_CLASS, horizontal=True)
tinted = st.toggle("Class map", key=K.MF_CLASS_MAP,
                   help="Tint every tile by the digit the reference classifier reads in it: "
                        "where the decoder draws each digit")
if tinted and not digit_model(ck):
    st.warning(f"The reference classifier reads handwritten digits; this model draws "
               f"{ck.train_config.dataset} images, so its readings say little here.")

if view == "style":
    names = class_labels(ck)
    s1, s2, s3 = st.columns([2, 2, 1])
    rows = s1.slider("Styles (rows)", 2, 12, key=K.MF_ROWS)
    how = s2.radio("Style codes", ["even", "random"], horizontal=True, key=K.MF_STYLE,
                   format_func={"even": "evenly spaced around a circle",
                                "random": "random draws from N(0, I)"}.get)
    if how == "random":
        knob = s3.number_input("Seed", 0, 10_000, key=K.MF_SEED)
    else:
        knob = s3.number_input("Radius", 0.1, 4.0, step=0.25, key=K.MF_RADIUS)
    codes = style_codes(zdim, rows, how, knob, knob)
    grid = style_grid(ck, codes)
    if tinted:
        grid, read = shown_class_map(grid, rows, len(names))
        if read is not None:
            hits = int((read == list(range(len(names)))).sum())
            st.caption(f"The classifier reads each column's class in {hits} of {read.size} "
                       "tiles.")
    st.caption("Each row is one style code z decoded under every class: the same handwriting "
               "in every digit.")
    st.plotly_chart(style_figure(grid, codes, names), key="mf_style_figure",
                    config={"displayModeBar": False})
    st.download_button("Download PNG", png(grid), f"{ck.name}-styles-{rows}.png", "image/png",
                       key="mf_download", on_click="ignore")
    st.stop()

c1, c2, c3 = st.columns([2, 2, 1])
n = c1.slider("Grid size N (N × N tiles)", 5, 40, key=K.MF_N)
spacing = c2.radio("Spacing", ["linear", "quantile"], horizontal=True, key=K.MF_SPACING,
                   format_func={"linear": "linear in [−L, L]",
                                "quantile": "Gaussian quantiles"}.get,
                   help="Quantiles of N(0, 1) at evenly spaced probabilities 0.05 … 0.95 "
                        "(Kingma & Welling 2014, Fig. 4): equal prior mass per tile.")
lim = c3.number_input("Range L", 0.1, 10.0, step=0.5, key=K.MF_LIM,
                      disabled=spacing == "quantile")

if zdim == 1:  # one axis only: a single strip of n tiles
    st.info("This model has a 1-D latent space: showing one row of tiles along z0.")
    vals = grid_values(n, spacing, lim)
    strip = tile(decode(ck, vals[:, None], y), n, pad=0)
    if tinted:
        strip, _ = shown_class_map(strip, 1, n)
    st.image(png(strip, 2), caption="z0 = " + ", ".join(f"{v:.2f}" for v in vals.tolist()),
             output_format="PNG", alt=f"a row of {n} images decoded along z0 from {vals[0]:.2f} "
             f"to {vals[-1]:.2f}")
    st.download_button("Download PNG", png(strip), f"{ck.name}-strip-{n}.png", "image/png",
                       key="mf_download", on_click="ignore")
    st.stop()

dims, base, directions = (0, 1), None, None
xlabel, ylabel = "z0", "z1"
if zdim > 2:
    planes = ["axes", "pca"] if ck.model.has_encoder else ["axes"]  # PCA: of encoded codes
    if st.session_state.get(K.MF_PLANE, "axes") not in planes:
        st.session_state[K.MF_PLANE] = "axes"
    plane = st.radio("Plane", planes, horizontal=True, key=K.MF_PLANE,
                     format_func={"axes": "two latent dimensions",
                                  "pca": "first two principal directions of the encoded test "
                                         "set"}.get)
    if plane == "axes":
        a1, a2 = st.columns(2)
        dx = a1.selectbox("Horizontal dimension", range(zdim), key=K.MF_DX,
                          format_func=lambda d: f"z{d}")
        dy = a2.selectbox("Vertical dimension", range(zdim), key=K.MF_DY,
                          format_func=lambda d: f"z{d}")
        if dx == dy:
            st.info("Pick two different dimensions.")
            st.stop()
        dims, xlabel, ylabel = (dx, dy), f"z{dx}", f"z{dy}"
        others = [d for d in range(zdim) if d not in dims]
        with st.expander(f"Values of the other {len(others)} dimensions (default 0)"):
            cols = st.columns(4)
            base = [0.0] * zdim
            for j, d in enumerate(others):
                base[d] = cols[j % 4].slider(f"z{d}", -3.0, 3.0, 0.0, 0.1, key=f"mf_base_{d}")
            base = tuple(base)
    else:
        mean, dirs, proj = pca_of_test_codes(ck)
        std = proj.std(0, ddof=1)
        # Scaled directions: a coordinate of ±L is ±L standard deviations along that direction.
        base = tuple(mean.tolist())
        directions = tuple(tuple((dirs[k] * std[k]).tolist()) for k in range(2))
        xlabel, ylabel = "PC1 (standard deviations)", "PC2 (standard deviations)"
        st.caption(f"The plane passes through the mean code; the test codes' standard deviation "
                   f"is {std[0]:.2f} along PC1 and {std[1]:.2f} along PC2.")

grid, vals = manifold_image(ck, n, lim, base, directions, y, spacing, dims)
if tinted:
    grid, _ = shown_class_map(grid, n, n)
st.plotly_chart(manifold_figure(grid, vals, xlabel, ylabel), key="mf_figure",
                config={"displayModeBar": False})
st.download_button("Download PNG", png(grid), f"{ck.name}-manifold-{n}x{n}.png", "image/png",
                   key="mf_download", on_click="ignore")
