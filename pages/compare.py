"""Compare: two or more models on the same test digits, the same seed and the same metrics."""

import numpy as np
import pandas as pd
import streamlit as st

from ui import classes, comparison, derived, figures, inference
from ui.keys import COMPARE_MODELS, MODEL_KEY, STATS_KEY
from ui.sidebar import active_model
from ui.state import available_models, get_model, test_set_or_stop
from ui.wording import item_noun
from vae_core import VAEError


ck = active_model(conditional_ok=True)
st.title("Compare models")
models = available_models()
paths = list(models.values())
labels_of = {p: label for label, p in models.items()}
if len(paths) < 2:
    st.info("Only one model is available. Train another on the Train page (or upload one in "
            "the sidebar) to compare them here.")
    st.stop()

if COMPARE_MODELS not in st.session_state:
    # default partners: models of the active model's dataset
    st.session_state[COMPARE_MODELS] = comparison.default_choice(
        paths, st.session_state.get(MODEL_KEY, paths[0]), ck.train_config.dataset)
elif any(p not in paths for p in st.session_state[COMPARE_MODELS]):
    # drop models that have disappeared since; write only then (a write is pushed back to
    # the browser and would undo a choice made while this run was going on)
    st.session_state[COMPARE_MODELS] = [p for p in st.session_state[COMPARE_MODELS]
                                          if p in paths]
chosen = st.multiselect("Models", paths, key=COMPARE_MODELS, format_func=labels_of.get)
if len(chosen) < 2:
    st.info("Choose two or more models.")
    st.stop()

cks = []
for p in chosen:
    try:
        cks.append(get_model(p))
    except VAEError as e:
        st.error(f"Cannot load {labels_of[p]}: {e}")
        st.stop()
datasets = {ck.train_config.dataset for ck in cks}
if len(datasets) > 1:
    st.info(f"These models were trained on different datasets ({', '.join(sorted(datasets))}); "
            "choose models of one dataset.")
    st.stop()
dataset = datasets.pop()
x_test, labels, names = test_set_or_stop(dataset)
n_test = len(x_test)
nouns = item_noun(dataset, plural=True)
conditional = [ck for ck in cks if classes.is_conditional(ck)]

c1, c2, c3 = st.columns([2, 1, 1])
how = c1.radio(f"Test {nouns}", ["random (seeded)", "indices"], horizontal=True,
               key="compare_pick")
seed = int(c2.number_input("Seed", 0, 2**31 - 1, 0, key="compare_seed",
                           help=f"picks the random {nouns} and the prior samples"))
count = int(c3.number_input("How many", 1, comparison.MAX_SHOWN, 10, key="compare_count",
                            disabled=how == "indices",
                            help="for random picks; with indices, the indices decide"))
if how == "indices":
    text = st.text_input(f"Test indices (0 to {n_test - 1}), comma-separated",
                         "0, 1, 2, 3, 4, 5, 6, 7, 8, 9", key="compare_indices")
    try:
        idx = comparison.parse_indices(text, n_test)
    except ValueError as e:
        st.error(str(e))
        st.stop()
    if len(idx) > comparison.MAX_SHOWN:
        st.info(f"{len(idx)} indices given: showing the first {comparison.MAX_SHOWN}.")
        idx = idx[:comparison.MAX_SHOWN]
else:
    idx = np.random.default_rng(seed).choice(n_test, count, replace=False)
names_of = [ck.name for ck in cks]

# --- reconstructions ---------------------------------------------------------------------
st.header("Reconstructions")
originals = x_test[idx]
rows = [originals] + [inference.reconstruct(ck, originals,
                                          y=inference.test_labels(ck.model, labels[idx]))
                      if ck.model.has_encoder else np.zeros_like(originals) for ck in cks]
st.plotly_chart(figures.grid_figure(np.concatenate(rows), len(idx), ["original", *names_of],
                                    [f"#{i}" for i in idx]),
                key="compare_recon", width="content", config={"displayModeBar": False})
st.caption(f"Decoded posterior means of the same test {nouns} (grey-level input to every "
           "model)." + (" Conditional models are given each image's true label."
                        if conditional else "") + "".join(
    f" {ck.name} has no encoder: its row is blank." for ck in cks if not ck.model.has_encoder))

# --- prior samples -----------------------------------------------------------------------
st.header("Prior samples")
c1, c2 = st.columns([3, 1])
n_prior = int(c1.slider("Samples per model", 4, 24, 12, key="compare_prior_n"))
label = (classes.class_picker(conditional[0], names, "compare_class", "Class (conditional "
                              "models)", container=c2) if conditional else None)
dims = {ck.model_config.latent_dim for ck in cks}
prior = [inference.prior_samples(ck, n_prior, seed, y=label if classes.is_conditional(ck)
                               else None) for ck in cks]
st.plotly_chart(figures.grid_figure(np.concatenate(prior), n_prior, names_of),
                key="compare_prior", width="content", config={"displayModeBar": False})
st.caption(f"Seed {seed} for every model. " + (
    "All latents have the same size, so every model decodes the very same codes z." if
    len(dims) == 1 else
    "Latent sizes differ, so the codes differ too: only the seed is shared.")
    + (f" Conditional models draw class {names[label]}." if conditional else ""))

# --- manifolds ---------------------------------------------------------------------------
two_d = [ck for ck in cks if ck.model_config.latent_dim == 2]
if two_d:
    st.header("Manifolds of the 2-D models")
    st.caption("Decoded grid over z₀, z₁ ∈ [−3, 3] (20 × 20)."
               + (f" Conditional models: class {names[label]}." if conditional else ""))
    cols = st.columns(3)
    for k, ck in enumerate(two_d):
        img, _ = derived.manifold_image(ck, 20, 3.0,
                                        y=label if classes.is_conditional(ck) else None)
        cols[k % len(cols)].image(figures.png(img), caption=ck.name, alt=f"{ck.name}: 20 × 20 "
                                  f"{nouns} decoded on a grid over its latent plane")

# --- metrics -----------------------------------------------------------------------------
st.header("Metrics")
if st.button("Compute KL per dimension & active units", key="compare_stats_button",
             help="Encodes the test set with every model (cached afterwards)."):
    st.session_state[STATS_KEY] = True
stats = ({ck.name: derived.test_latent_stats(ck) for ck in cks if ck.model.has_encoder}
         if st.session_state.get(STATS_KEY) else {})
scores, setups = comparison.model_tables(cks, stats)
for key, rows in (("compare_table", scores), ("compare_setup", setups)):
    df = pd.DataFrame(rows).set_index("model")
    df = df.dropna(axis=1, how="all")  # a column no model has (IS-NLL before evaluate --save)
    st.dataframe(df, key=key, placeholder="–", column_config={
        c: v for c, v in comparison.COLUMNS.items() if c in df.columns})
for warning in comparison.score_warnings(cks):
    st.warning(warning)
if stats:
    st.plotly_chart(figures.kl_per_dim_bars({k: v["kl_per_dim"] for k, v in stats.items()}),
                    key="compare_kl")
    st.caption("KL(q(z_d|x) ‖ p(z_d)) per dimension, averaged over the test set; a dimension "
               f"is active when the variance of its posterior mean across {nouns} exceeds 0.01 "
               "(Burda et al. 2015).")
