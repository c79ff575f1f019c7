"""The Compare page's choices and tables: which models to offer first, which test images to
show, and the score and setup tables of the chosen models."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import streamlit as st

from vae_core import Checkpoint, VAEError, count_params, read_configs

MAX_SHOWN = 24  # test images per comparison grid

# Two narrow tables rather than one of 13 columns, which ran past the page's width and hid
# the last columns behind a scroll bar.
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
    "train s": st.column_config.NumberColumn(format="%.0f", help="training time in seconds"),
    "arch": st.column_config.TextColumn(
        help="conditional: the class label goes into the encoder and the decoder")}


def dataset_of(path: str) -> str | None:
    """A checkpoint's dataset from its config.json alone (no weights loaded)."""
    try:
        return read_configs(path)[1].dataset
    except VAEError:
        return None


def default_choice(paths: Sequence[str], first: str, dataset: str) -> list[str]:
    """The active model and up to two partners, of its own dataset where there are some."""
    same = [p for p in paths if p != first and dataset_of(p) == dataset]
    return [first] + (same or [p for p in paths if p != first])[:2]


def parse_indices(text: str, n_test: int) -> np.ndarray:
    """Comma-separated test indices -> int array; ValueError with a message for the user."""
    try:
        idx = np.array([int(t) for t in text.replace(" ", "").split(",") if t], dtype=int)
    except ValueError:
        raise ValueError("Indices must be whole numbers separated by commas.") from None
    if len(idx) == 0 or idx.min() < 0 or idx.max() >= n_test:
        raise ValueError(f"Give at least one index, each between 0 and {n_test - 1}.")
    return idx


def _num(v: object) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def model_tables(cks: Sequence[Checkpoint], stats: dict[str, dict[str, Any]]
                 ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(scores, setups): one row per model. A missing value is None (shown as "–")."""
    scores, setups = [], []
    for ck in cks:
        m, t, met = ck.model_config, ck.train_config, ck.metrics
        au = stats[ck.name]["active_units"] if ck.name in stats else met.get("active_units")
        scores.append({
            "model": ck.name, "test −ELBO": _num(met.get("test_neg_elbo")),
            "recon": _num(met.get("test_recon")), "KL": _num(met.get("test_kl")),
            "IS-NLL": _num(met.get("test_nll_is")),
            "active units": f"{au}/{m.latent_dim}" if au is not None else None})
        setups.append({
            "model": ck.name, "latent dim": m.latent_dim,
            "arch": ("onnx" if ck.model.foreign else m.arch)
            + (" (conditional)" if m.conditional else ""),
            "params": None if ck.model.foreign else count_params(m),
            "likelihood": m.likelihood, "binarization": t.binarize,
            "β": _num(t.beta),
            "epochs": _num(met.get("epochs")), "train s": _num(met.get("train_seconds"))})
    return scores, setups


def score_warnings(cks: Sequence[Checkpoint]) -> list[str]:
    """Why these models' −ELBOs can't be compared directly, if they can't."""
    out = []
    if len({(ck.model_config.likelihood, ck.train_config.binarize) for ck in cks}) > 1:
        out.append("These models use different likelihoods or binarizations, so their −ELBOs "
                   "score different things and are not directly comparable.")
    if len({bool(ck.model_config.conditional) for ck in cks}) > 1:
        out.append("A conditional model is given each test image's label, so its −ELBO bounds "
                   "−log p(x | y), not −log p(x), and is not directly comparable with the "
                   "others' (the label itself is worth about log 10 ≈ 2.3 nats).")
    return out
