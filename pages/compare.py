"""Compare: two or more models on the same test digits, the same seed and the same metrics."""

import numpy as np
import pandas as pd
import streamlit as st

from ui import derived, figures
from ui.figures import item_noun
from ui.state import MODEL_KEY, active_model, available_models, get_model, test_set_or_stop
from vae_core import VAEError, count_params
from vae_core.checkpoint import read_configs

STATS_KEY = "compare_stats_on"
MAX_SHOWN = 24  # test images per comparison grid


def dataset_of(path: str) -> str | None:
    """A checkpoint's dataset from its config.json alone (no weights loaded)."""
    try:
        return read_configs(path)[1].dataset
    except VAEError:
        return None


ck = active_model()
st.title("Compare models")
models = available_models()
paths = list(models.values())
labels_of = {p: label for label, p in models.items()}
if len(paths) < 2:
    st.info("Only one model is available. Train another on the Train page (or upload one in "
            "the sidebar) to compare them here.")
    st.stop()

if "compare_models" not in st.session_state:
    first = st.session_state.get(MODEL_KEY, paths[0])
    dataset = ck.train_config.dataset  # default partners: models of the active model's dataset
    same = [p for p in paths if p != first and dataset_of(p) == dataset]
    st.session_state["compare_models"] = [first] + (same or [p for p in paths if p != first])[:2]
elif any(p not in paths for p in st.session_state["compare_models"]):
    # drop models that have disappeared since; write only then (a write is pushed back to
    # the browser and would undo a choice made while this run was going on)
    st.session_state["compare_models"] = [p for p in st.session_state["compare_models"]
                                          if p in paths]
chosen = st.multiselect("Models", paths, key="compare_models", format_func=labels_of.get)
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

c1, c2, c3 = st.columns([2, 1, 1])
how = c1.radio(f"Test {nouns}", ["random (seeded)", "indices"], horizontal=True,
               key="compare_pick")
seed = int(c2.number_input("Seed", 0, 2**31 - 1, 0, key="compare_seed",
                           help=f"picks the random {nouns} and the prior samples"))
count = int(c3.number_input("How many", 1, MAX_SHOWN, 10, key="compare_count",
                            disabled=how == "indices",
                            help="for random picks; with indices, the indices decide"))
if how == "indices":
    text = st.text_input(f"Test indices (0 to {n_test - 1}), comma-separated",
                         "0, 1, 2, 3, 4, 5, 6, 7, 8, 9", key="compare_indices")
    try:
        idx = np.array([int(t) for t in text.replace(" ", "").split(",") if t], dtype=int)
    except ValueError:
        st.error("Indices must be whole numbers separated by commas.")
        st.stop()
    if len(idx) == 0 or idx.min() < 0 or idx.max() >= n_test:
        st.error(f"Give at least one index, each between 0 and {n_test - 1}.")
        st.stop()
    if len(idx) > MAX_SHOWN:
        st.info(f"{len(idx)} indices given: showing the first {MAX_SHOWN}.")
        idx = idx[:MAX_SHOWN]
else:
    idx = np.random.default_rng(seed).choice(n_test, count, replace=False)
names_of = [ck.name for ck in cks]

# --- reconstructions ---------------------------------------------------------------------
st.subheader("Reconstructions")
originals = x_test[idx]
rows = [originals] + [derived.reconstruct(ck, originals) for ck in cks]
st.plotly_chart(figures.grid_figure(np.concatenate(rows), len(idx), ["original", *names_of],
                                    [f"#{i}" for i in idx]),
                key="compare_recon", width="content", config={"displayModeBar": False})
st.caption(f"Decoded posterior means of the same test {nouns} (grey-level input to every "
           "model).")

# --- prior samples -----------------------------------------------------------------------
st.subheader("Prior samples")
n_prior = int(st.slider("Samples per model", 4, 24, 12, key="compare_prior_n"))
dims = {ck.model_config.latent_dim for ck in cks}
prior = [derived.prior_samples(ck, n_prior, seed) for ck in cks]
st.plotly_chart(figures.grid_figure(np.concatenate(prior), n_prior, names_of),
                key="compare_prior", width="content", config={"displayModeBar": False})
st.caption(f"Seed {seed} for every model. " + (
    "All latents have the same size, so every model decodes the very same codes z." if
    len(dims) == 1 else
    "Latent sizes differ, so the codes differ too: only the seed is shared."))

# --- manifolds ---------------------------------------------------------------------------
two_d = [ck for ck in cks if ck.model_config.latent_dim == 2]
if two_d:
    st.subheader("Manifolds of the 2-D models")
    st.caption("Decoded grid over z₀, z₁ ∈ [−3, 3] (20 × 20).")
    cols = st.columns(3)
    for k, ck in enumerate(two_d):
        img, _ = derived.manifold_image(ck, 20, 3.0)
        cols[k % len(cols)].image(figures.png(img), caption=ck.name)

# --- metrics -----------------------------------------------------------------------------
st.subheader("Metrics")
if st.button("Compute KL per dimension & active units", key="compare_stats_button",
             help="Encodes the test set with every model (cached afterwards)."):
    st.session_state[STATS_KEY] = True
stats = ({ck.name: derived.test_latent_stats(ck) for ck in cks}
         if st.session_state.get(STATS_KEY) else {})


def num(v: object) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


# Two narrow tables rather than one of 13 columns, which ran past the page's width and hid
# the last columns behind a scroll bar. A missing value reads "–", not "None".
scores, setups = [], []
for ck in cks:
    m, t, met = ck.model_config, ck.train_config, ck.metrics
    au = stats[ck.name]["active_units"] if ck.name in stats else met.get("active_units")
    scores.append({
        "model": ck.name, "test −ELBO": num(met.get("test_neg_elbo")),
        "recon": num(met.get("test_recon")), "KL": num(met.get("test_kl")),
        "IS-NLL": num(met.get("test_nll_is")),
        "active units": f"{au}/{m.latent_dim}" if au is not None else None})
    setups.append({
        "model": ck.name, "latent dim": m.latent_dim, "arch": m.arch,
        "params": count_params(m), "likelihood": m.likelihood, "binarization": t.binarize,
        "β": num(t.beta), "epochs": num(met.get("epochs")),
        "train s": num(met.get("train_seconds"))})
COLUMNS = {
    "test −ELBO": st.column_config.NumberColumn(format="%.2f",
                                                help="nats per image, one-sample estimate"),
    "recon": st.column_config.NumberColumn(format="%.2f"),
    "KL": st.column_config.NumberColumn(format="%.2f"),
    "IS-NLL": st.column_config.NumberColumn(format="%.2f",
                                            help="importance-sampled −log p(x), nats per image"),
    "params": st.column_config.NumberColumn(format="localized"),
    "β": st.column_config.NumberColumn(format="%g",
                                       help="weight of the KL term in the training loss"),
    "epochs": st.column_config.NumberColumn(format="%d"),
    "train s": st.column_config.NumberColumn(format="%.0f", help="training time in seconds")}
for key, rows in (("compare_table", scores), ("compare_setup", setups)):
    df = pd.DataFrame(rows).set_index("model")
    df = df.dropna(axis=1, how="all")  # a column no model has (IS-NLL before evaluate --save)
    st.dataframe(df, key=key, placeholder="–",
                 column_config={c: v for c, v in COLUMNS.items() if c in df.columns})
if len({(ck.model_config.likelihood, ck.train_config.binarize) for ck in cks}) > 1:
    st.warning("These models use different likelihoods or binarizations, so their −ELBOs "
               "score different things and are not directly comparable.")
if stats:
    st.plotly_chart(figures.kl_per_dim_bars({k: v["kl_per_dim"] for k, v in stats.items()}),
                    key="compare_kl")
    st.caption("KL(q(z_d|x) ‖ p(z_d)) per dimension, averaged over the test set; a dimension "
               f"is active when the variance of its posterior mean across {nouns} exceeds 0.01 "
               "(Burda et al. 2015).")
