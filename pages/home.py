"""How a VAE works: a guided tour, then one test digit through the active model, told with
the model's own numbers."""

import pandas as pd
import streamlit as st

from ui import readings
from ui.derived import anatomy
from ui.inference import ELBO_SEED, estimator_note
from ui.figures import png
from ui.keys import HOME_DIGIT, HOME_SEED
from ui.latent_map import posterior_svg
from ui.lesson import shown
from ui.share import copy_link, home_query
from ui.sidebar import active_model, needs_encoder
from ui.state import test_set_or_stop
from ui.tour import digit_of, tour
from ui.wording import item_noun, with_article

ck = active_model(conditional_ok=True)
cfg, tcfg = ck.model_config, ck.train_config
noun = item_noun(tcfg.dataset)  # "digit", or "item" for Fashion-MNIST

st.title("How a VAE works")
st.markdown(
    "A **variational autoencoder** (Kingma & Welling, 2014) learns two networks at once. "
    "The **encoder** maps an image *x* to a small Gaussian cloud q(z|x) = N(μ, σ²) in a "
    f"{cfg.latent_dim}-dimensional latent space; the **decoder** maps a point *z* back to an "
    "image p(x|z). Training maximizes the ELBO: reconstruct well from a *sampled* z, while "
    "keeping every cloud close to the prior N(0, I), so that decoding any z drawn from the "
    f"prior gives a plausible {noun}. Follow one test {noun} through the active model below.")

if not needs_encoder(ck, f"following a test {noun} through the model"):
    st.stop()
images, labels, classes = test_set_or_stop(tcfg.dataset)
# The tour follows the digit and seed chosen below (their values from the previous run).
st.session_state.setdefault(HOME_SEED, ELBO_SEED)  # a shared link (?digit=&seed=) may set both
tour(ck, digit_of(int(st.session_state.get(HOME_DIGIT, 0)), images, labels, classes,
                  int(st.session_state[HOME_SEED])))
c1, c2, c3 = st.columns([3, 3, 1], vertical_alignment="bottom")
idx = c1.number_input(f"Test {noun} #", 0, len(images) - 1, key=HOME_DIGIT,
                      help=f"index into the {tcfg.dataset} test set ({len(images):,} images)")
seed = c2.number_input("Seed of ε", 0, 2**31 - 1, key=HOME_SEED,
                       help="the noise ε ~ N(0, I) of the reparameterization uses this seed; "
                            f"{ELBO_SEED}, the default, is the seed the Reconstruct page and "
                            f"the test-set scores use, so this {noun} gets the same −ELBO there")
with c3:
    copy_link("", home_query(ck, int(idx), int(seed)), key="home_link")
a = anatomy(ck, images[idx], int(seed), int(labels[idx]) if cfg.conditional else None)

st.header("1 · Encode, sample, decode")
cols = st.columns([1, 2.2, 1, 1], vertical_alignment="center")
scored = "as scored (one fixed Bernoulli draw)" if tcfg.binarize != "none" else "grey levels"
cols[0].image(png(a["x"], 6), caption=f"x: {with_article(classes[labels[idx]])}, {scored}",
              output_format="PNG", alt=f"test {noun} #{idx}, {with_article(classes[labels[idx]])}")
# Inline SVG (our own markup, numbers only): st.html strips SVG, markdown keeps it.
cols[1].markdown(posterior_svg(a["mu"], a["sigma"], a["z"]), unsafe_allow_html=True)
cols[2].image(png(a["x_z"], 6), caption="decoded from the sample z (what the loss scores)",
              output_format="PNG",
              alt=readings.described(f"{noun} decoded from the sampled z", a["x_z"], ck, classes))
cols[3].image(png(a["x_mu"], 6), caption="decoded from the mean μ (the usual reconstruction)",
              output_format="PNG",
              alt=readings.described(f"{noun} decoded from the mean μ", a["x_mu"], ck, classes))
st.markdown("The encoder does not output a code but a distribution. To sample from it and still "
            "back-propagate through μ and σ, draw the noise outside the network "
            "(the *reparameterization trick*):")
st.latex(r"z = \mu + \sigma \odot \varepsilon, \qquad \varepsilon \sim \mathcal{N}(0, I)")
table = pd.DataFrame({"μ": a["mu"], "σ": a["sigma"], "ε (seeded)": a["eps"], "z = μ + σ·ε": a["z"],
                      "KL (nats)": a["kl_dims"]},
                     index=pd.Index([f"z{i}" for i in range(cfg.latent_dim)], name="dim"))
# st.table, not st.dataframe: the first page then loads no data-grid code (cold start).
st.table(table.style.format("{:.3f}"), height=min(400, 38 + 35 * len(table)))

st.header(f"2 · The loss of this {noun}: −ELBO = reconstruction + KL")
st.latex(r"-\mathrm{ELBO}(x) = \underbrace{-\log p(x \mid z)}_{\text{reconstruction}} + "
         r"\underbrace{\mathrm{KL}\big(q(z \mid x)\,\|\,\mathcal{N}(0, I)\big)}"
         r"_{\text{regularizer}}")
lik = ("Bernoulli: binary cross-entropy summed over the 784 pixels" if cfg.likelihood == "bernoulli"
       else f"Gaussian with variance {cfg.gaussian_var}: scaled squared error + a constant")
m = ck.metrics
avg = {k: m.get(f"test_{k}") for k in ("recon", "kl", "neg_elbo")}
terms = [("reconstruction −log p(x|z)", a["recon"], "recon"),
         ("KL(q(z|x) ‖ p(z))", a["kl"], "kl"), ("−ELBO", a["neg_elbo"], "neg_elbo")]
for col, (label, value, key) in zip(st.columns(3), terms, strict=True):
    ref = avg[key]
    col.metric(label, f"{value:.2f}",
               delta=f"{value - ref:+.2f} vs test mean" if isinstance(ref, (int, float)) else None,
               delta_color="inverse", help="nats for this one image")
st.caption(f"The −ELBO is a {estimator_note(int(seed))}, as on every page. Reconstruction "
           f"uses the model's likelihood ({lik}) at the sampled z above; change the seed of ε "
           "to see it move. All numbers are nats per image, summed over pixels (or latent "
           "dims); the deltas compare with the test-set means in metrics.json.")
st.markdown("With a Gaussian posterior and a standard normal prior the KL term has a closed form "
            "(Kingma & Welling 2014, Appendix B), summed over latent dimensions j:")
st.latex(r"\mathrm{KL}\big(\mathcal{N}(\mu, \sigma^2)\,\|\,\mathcal{N}(0, I)\big) = "
         r"-\tfrac{1}{2} \sum_{j} \left(1 + \log \sigma_j^2 - \mu_j^2 - \sigma_j^2\right)")
st.markdown(f"It is zero only when μ = 0 and σ = 1 for every dimension: {with_article(noun)} "
            "whose code "
            "carries no information. The reconstruction term pulls the other way, which is why "
            f"this model settled at about {a['kl']:.1f} nats of KL on this {noun}.")

st.header("3 · Explore")
links = [
    ("pages/train.py", "Train a model", ":material/model_training:",
     "any architecture, live loss curves"),
    ("pages/sliders.py", "Latent sliders", ":material/tune:", "move z by hand, watch the decoder"),
    ("pages/manifold.py", "Manifold", ":material/grid_on:",
     "decode a whole grid of the latent plane"),
    ("pages/scatter.py", "Latent scatter", ":material/scatter_plot:",
     "where the test set lands in z"),
    ("pages/reconstruct.py", "Reconstruct", ":material/draw:",
     f"draw or upload {with_article(noun)}"),
    ("pages/generate.py", "Generate", ":material/auto_awesome:",
     "sample from the prior, interpolate"),
    ("pages/compare.py", "Compare", ":material/compare:", "models side by side"),
    ("pages/replay.py", "Training replay", ":material/history:", "watch a model learn"),
]
cols = st.columns(4)
for i, (page, label, icon, text) in enumerate(p for p in links if shown(p[0])):
    with cols[i % 4]:
        st.page_link(page, label=label, icon=icon)
        st.caption(text)
