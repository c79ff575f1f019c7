"""Reconstruct: upload or draw a digit, see what the model makes of it and how typical it is."""

import numpy as np
import streamlit as st
from PIL import Image
from streamlit_drawable_canvas import st_canvas

from ui import derived, figures
from ui.figures import item_noun, with_article
from ui.state import active_model, encoded, test_set_or_stop
from vae_core import ImageError, preprocess_image
from vae_core.metrics import EVAL_SEED
from vae_core.preprocess import to_gray, to_mnist

N_SAMPLES = 8
SCALE = 6  # 28 px -> 168 px on screen, nearest neighbour

ck = active_model()
st.title("Reconstruct")
x_test, labels, names = test_set_or_stop(ck.train_config.dataset)
noun = item_noun(ck.train_config.dataset)
st.caption(f"Your image is turned into an MNIST-like 28×28 {noun} (grey levels, white ink on "
           "black, fitted in 20×20 and centred by mass), encoded to q(z|x), and decoded.")

source = st.radio("Input", ["Upload an image", "Draw a digit"], horizontal=True,
                  key="reconstruct_source",
                  format_func=lambda o: o.replace("a digit", with_article(noun)))
if source == "Upload an image":
    upload = st.file_uploader("Image (PNG, JPEG, BMP, GIF, WebP or TIFF; the content decides, "
                              "not the extension)", type=None, key="reconstruct_upload")
    if upload is None:
        what = "a handwritten digit" if noun == "digit" else with_article(noun)
        st.info(f"Upload a picture of {what}, or switch to *Draw {with_article(noun)}*.")
        st.stop()
    try:
        img = preprocess_image(upload.getvalue())
    except ImageError as e:
        st.error(f"Cannot use {upload.name!r}: {e}")
        st.stop()
else:
    left, right = st.columns([1, 2])
    width = right.slider("Brush width", 8, 40, 22, 2, key="reconstruct_brush")
    right.caption(f"Draw one {noun} with the mouse, large and centred; the toolbar that "
                  "appears above the square on hover undoes or clears. The page updates when "
                  "you release the button.")
    with left:
        # Room for the canvas toolbar, which floats above the square on hover and would
        # otherwise cover the "Input" choice.
        st.space(36)
        canvas = st_canvas(stroke_width=width, stroke_color="#FFFFFF",
                           background_color="#000000",
                           width=280, height=280, drawing_mode="freedraw",
                           return_image_data=True, key="reconstruct_canvas")
    rgba = canvas.image_data
    try:
        if rgba is None:
            raise ImageError("nothing drawn yet")
        img = to_mnist(to_gray(Image.fromarray(np.asarray(rgba, dtype=np.uint8))))
    except ImageError:
        st.info(f"Draw {with_article(noun)} on the black square (white ink, as in MNIST).")
        st.stop()

# --- what the model makes of it ------------------------------------------------------------
binarized = ck.train_config.binarize != "none"
score = derived.score_image(ck, img)
recon = derived.reconstruct(ck, score["target"] if binarized else img)
samples = derived.posterior_samples(ck, score["target"] if binarized else img, N_SAMPLES,
                                    seed=0)

c1, c2, c3 = st.columns([1, 1, 2])
c1.image(figures.png(img, SCALE), caption=f"your {noun}, 28×28", width=SCALE * 28)
c2.image(figures.png(recon[0], SCALE), caption="reconstruction (decoded mean)", width=SCALE * 28)
c3.image(figures.png(figures.tile(samples, 4), 3), width="content",
         caption=f"{N_SAMPLES} posterior samples z ~ q(z|x), decoded")
if binarized:
    st.caption(f"This model was trained on **{ck.train_config.binarize}ally binarized** "
               f"{noun}s, so it sees and scores one fixed Bernoulli draw of your grey levels "
               f"(seed {EVAL_SEED}, as the test set is scored):")
    st.image(figures.png(score["target"], 3), caption="binarized input")

# --- where it lands ------------------------------------------------------------------------
st.subheader("Where it lands in latent space")
mu, _ = encoded(ck)
z_dim = mu.shape[1]
if z_dim > 2:
    mean, dirs, proj = derived.pca_of_test_codes(ck)
    xy, axes = proj, ("PC 1", "PC 2")
    centre = derived.project(score["mu"][None], mean, dirs)[0]
    cov = derived.project_cov(score["logvar"], dirs)
    st.caption(f"z has {z_dim} dimensions: shown projected on the test codes' first two "
               "principal directions (the ellipses are q(z|x) projected too).")
else:
    xy, axes = figures.pad_2d(mu), ("z₀", "z₁" if z_dim == 2 else "(1-D latent)")
    centre = figures.pad_2d(score["mu"][None])[0]
    var = np.exp(score["logvar"])
    cov = np.diag(np.concatenate([var, np.zeros(2 - len(var))])[:2])
    st.caption("q(z|x): mean (" + ", ".join(f"{v:.2f}" for v in score["mu"]) + "), σ ("
               + ", ".join(f"{v:.3f}" for v in np.sqrt(var)) + "); the ellipses are 1σ and 2σ "
               "(tiny when the encoder is confident).")
fig = figures.latent_scatter(xy, labels, np.arange(len(xy)), names, axes, opacity=0.35,
                             marker_size=3, height=540)
figures.add_posterior(fig, centre, cov)
st.plotly_chart(fig, key="reconstruct_scatter")

# --- how typical it is ---------------------------------------------------------------------
st.subheader("How typical it is: −ELBO against the test set")
test = derived.test_neg_elbo(ck)
pct = figures.percentile_of(test["neg_elbo"], score["neg_elbo"])
m1, m2, m3, m4 = st.columns(4)
m1.metric("−ELBO (nats)", f"{score['neg_elbo']:.2f}",
          help=f"reconstruction + KL: {derived.estimator_note()}")
m2.metric("reconstruction", f"{score['recon']:.2f}")
m3.metric("KL", f"{score['kl']:.2f}")
m4.metric("percentile among test images", f"{pct:.1f}%",
          help="Percentile of this −ELBO among the test set's: near 100% means the model "
               "finds the image unusual (a crude out-of-distribution score).")
st.plotly_chart(figures.histogram_with_marker(test["neg_elbo"], score["neg_elbo"],
                                              "−ELBO (nats per image)"),
                key="reconstruct_hist")
verdict = ("looks **out of distribution** for this model" if pct >= 99 else
           "is **unusual** for this model" if pct >= 95 else
           "is **typical** of the test set")
scored = ("grey levels (binary cross-entropy on grey values: comparable only with other "
          "grey-level scores)" if not binarized else
          f"one fixed Bernoulli draw of the pixels (seed {EVAL_SEED}), like the binarized test "
          "set")
st.markdown(f"Your {noun} {verdict}: its −ELBO is higher than that of {pct:.1f}% of the "
            f"{len(test['neg_elbo']):,} test images (test mean {test['neg_elbo'].mean():.1f}). "
            f"Both are scored on {scored}, with the same estimator ({derived.estimator_note()}; "
            "the test images draw their z from one seeded stream, as in metrics.json). A test "
            "image scores the same here as on *How a VAE works*.")
