"""Reconstruct: upload or draw a digit, see what the model makes of it and how typical it is.
Everything under the caption depends on the image alone: it is a fragment, so an upload or a
stroke reruns it and not the sidebar and navigation around it."""

import numpy as np
import streamlit as st

from ui import classes, derived, figures, inference, readings
from ui.digit_input import upload_or_drawing
from ui.latent_view import test_code_plane
from ui.sidebar import active_model, needs_encoder
from ui.state import test_set_or_stop
from ui.wording import item_noun, with_article

N_SAMPLES = 8
SCALE = 6  # 28 px -> 168 px on screen, nearest neighbour

ck = active_model(conditional_ok=True)
st.title("Reconstruct")
if not needs_encoder(ck, "reconstructing an image (encode, then decode)"):
    st.stop()
x_test, labels, names = test_set_or_stop(ck.train_config.dataset)
noun = item_noun(ck.train_config.dataset)
st.caption(f"Your image is turned into an MNIST-like 28×28 {noun} (grey levels, white ink on "
           "black, fitted in 20×20 and centred by mass), encoded to q(z|x), and decoded.")


@st.fragment
def reconstruct() -> None:
    img = upload_or_drawing(noun)

    # --- its label, for a conditional model ---------------------------------------------------
    y = None
    if classes.is_conditional(ck):
        read = readings.reading(img) if readings.digit_model(ck) else None
        if read is not None:
            classes.suggest("reconstruct_label", img, read[0])
        y = classes.class_picker(
            ck, names, "reconstruct_label", f"Your {noun}'s label",
            help=f"{ck.name} is a conditional VAE: it encodes your {noun} given this label, so "
                 "its code z keeps only the style (slant, width, stroke).",
            note=f"The reference digit classifier reads your {noun} as **{names[read[0]]}** "
                 f"({read[1]:.0%} sure), the label picked for you; change it if it is wrong."
                 if read is not None else
                 f"Pick the class of your {noun}: the model needs it to encode the style.")

    # --- what the model makes of it ------------------------------------------------------------
    binarized = ck.train_config.binarize != "none"
    view = derived.image_view(ck, img, N_SAMPLES, y)  # one encoding of the image as scored
    score, recon, samples = view["score"], view["recon"], view["samples"]
    upload_ck = readings.upload_model(ck)
    cols = st.columns([1, 1, 1, 2] if upload_ck else [1, 1, 2])
    cap, alt = readings.pictured(f"your {noun}, 28×28", f"your {noun} as the model sees it",
                                 img, ck, names)  # one reading per image: caption and alt text
    cols[0].image(figures.png(img, SCALE), width=SCALE * 28, caption=cap, alt=alt)
    as_y = "" if y is None else f" as {names[y]}"
    cap, alt = readings.pictured(f"reconstruction (decoded mean){as_y}",
                                 f"your {noun} reconstructed by {ck.name}{as_y}", recon, ck, names)
    cols[1].image(figures.png(recon, SCALE), width=SCALE * 28, caption=cap, alt=alt)
    if upload_ck:
        up = derived.reconstruction(upload_ck, img)
        cap, alt = readings.pictured(
            f"{upload_ck.name} (the {upload_ck.model_config.latent_dim}-D upload model)",
            f"your {noun} reconstructed by {upload_ck.name}", up, ck, names)
        cols[2].image(figures.png(up, SCALE), width=SCALE * 28, caption=cap, alt=alt)
    cols[-1].image(figures.png(figures.tile(samples, 4), 3), width="content",
                   caption=f"{N_SAMPLES} posterior samples z ~ q(z|x), decoded",
                   alt=f"{N_SAMPLES} {noun}s decoded from codes sampled from q(z|x)")
    if upload_ck:
        st.caption(("Beside it, the bundled upload model, given no label: " if y is not None else
                    f"A 2-D latent keeps little of a {noun}; the bundled upload model gives the "
                    "same digit back far more often: ")
                   + f"a conv VAE with a {upload_ck.model_config.latent_dim}-D latent, trained on "
                   "shifted, rotated and thickened digits. The readings are the reference "
                   "classifier's.")
    if binarized:
        st.caption(f"This model was trained on **{ck.train_config.binarize}ally binarized** "
                   f"{noun}s, so it sees and scores one fixed Bernoulli draw of your grey levels "
                   f"(seed {derived.EVAL_SEED}, as the test set is scored):")
        st.image(figures.png(score["target"], 3), caption="binarized input",
                 alt=f"your {noun} binarized: each pixel black or white")

    # --- your digit in every class (conditional models) ----------------------------------------
    if y is not None:
        st.header(f"Your {noun} in every class")
        st.caption(f"Your {noun} encoded given the label **{names[y]}** (its style code z), then "
                   "decoded under every label: the same handwriting, each class.")
        every = inference.decode(ck, np.repeat(score["mu"][None], len(names), 0),
                               y=list(range(len(names))))
        for c, col in enumerate(st.columns(len(names))):
            cap, alt = readings.pictured(f"as {names[c]}", f"your {noun}'s style decoded as "
                                         f"{names[c]}", every[c], ck, names)
            col.image(figures.png(every[c], 4), width="stretch", caption=cap, alt=alt)

    # --- where it lands ------------------------------------------------------------------------
    st.header("Where it lands in latent space")
    plane = test_code_plane(ck)
    centre, cov = plane.place(score["mu"][None])[0], plane.cov(score["logvar"])
    if plane.projected:
        st.caption(f"z has {len(score['mu'])} dimensions: shown projected on the test codes' first "
                   "two principal directions (the ellipses are q(z|x) projected too).")
    else:
        st.caption("q(z|x): mean (" + ", ".join(f"{v:.2f}" for v in score["mu"]) + "), σ ("
                   + ", ".join(f"{v:.3f}" for v in np.exp(0.5 * score["logvar"])) + "); the "
                   "ellipses are 1σ and 2σ (tiny when the encoder is confident).")
    if y is not None:
        st.caption(f"Style codes: every test {noun} is encoded given its own label, yours given "
                   f"{names[y]}. The classes overlap, because the label has left z.")
    fig = derived.test_codes_figure(ck, plane.xy, plane.axes, opacity=0.35, marker_size=3,
                                   height=540, extra=figures.posterior_traces(centre, cov))
    st.plotly_chart(fig, key="reconstruct_scatter")

    # --- how typical it is ---------------------------------------------------------------------
    st.header("How typical it is: −ELBO against the test set")
    test = derived.test_neg_elbo(ck)
    pct = figures.percentile_of(test["neg_elbo"], score["neg_elbo"])
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("−ELBO (nats)", f"{score['neg_elbo']:.2f}",
              help=f"reconstruction + KL: {inference.estimator_note()}")
    m2.metric("reconstruction", f"{score['recon']:.2f}")
    m3.metric("KL", f"{score['kl']:.2f}")
    m4.metric("percentile among test images", f"{pct:.1f}%",
              help="Percentile of this −ELBO among the test set's: near 100% means the model "
                   "finds the image unusual (a crude out-of-distribution score).")
    st.plotly_chart(figures.add_marker(derived.test_neg_elbo_histogram(ck), score["neg_elbo"]),
                    key="reconstruct_hist")
    verdict = ("looks **out of distribution** for this model" if pct >= 99 else
               "is **unusual** for this model" if pct >= 95 else
               "is **typical** of the test set")
    scored = ("grey levels (binary cross-entropy on grey values: comparable only with other "
              "grey-level scores)" if not binarized else
              f"one fixed Bernoulli draw of the pixels (seed {derived.EVAL_SEED}), like the "
              "binarized test set")
    note = inference.estimator_note()
    st.markdown(f"Your {noun} {verdict}: its −ELBO is higher than that of {pct:.1f}% of the "
                f"{len(test['neg_elbo']):,} test images (test mean {test['neg_elbo'].mean():.1f}). "
                f"Both are scored on {scored}, with the same estimator ({note}; the test images "
                "draw their z from one seeded stream, as in metrics.json). A test image scores "
                "the same here as on *How a VAE works*."
                + ("" if y is None else " A conditional model scores −log p(x | y), given the "
                   f"label: yours given {with_article(names[y])}, each test {noun} given its own."))


reconstruct()
