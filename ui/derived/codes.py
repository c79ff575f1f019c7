"""What the pages derive from a model's encoded test set, cached with `st.cache_data`:
projections (PCA, t-SNE), per-image test −ELBO and the figures of the test set alone, the codes
as CSV, KL per dimension and the dimensions left unused, the prior's holes, the pad's class
means and the plane's layers (hole map, round-trip field). Keys as in `ui.derived`."""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go
import streamlit as st
import torch

from ui.figures import codes_table, latent_scatter, score_histogram
from ui.inference import decode, device_of, numpy_terms, test_labels
from ui.state import classifier, encoded, key, test_set
from vae_core import (ACTIVE_THRESHOLD, EVAL_SEED, PRIOR_RADIUS, Checkpoint, VAEError, classify,
                      elbo_terms, eval_targets, hole_map, latent_stats, pca, prior_holes,
                      round_trip_field)

TSNE_DEFAULT_POINTS = 2000


# --- projections of the encoded test set ----------------------------------------------------
@st.cache_data(show_spinner=False, max_entries=16)
def _pca(path: str, mtime: str, _mu: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    mean, dirs, proj = pca(torch.from_numpy(_mu), 2)
    return mean.numpy(), dirs.numpy(), proj.numpy()


def pca_of_test_codes(ck: Checkpoint) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean [Z], directions [k, Z], projections [N, k]) of the test set's posterior means."""
    mu, _ = encoded(ck)
    return _pca(*key(ck), mu)


def project(codes: np.ndarray, mean: np.ndarray, dirs: np.ndarray) -> np.ndarray:
    """Codes [N, Z] onto PCA directions [k, Z] -> [N, k]."""
    return (np.asarray(codes, dtype=np.float32) - mean) @ dirs.T


def project_cov(logvar: np.ndarray, dirs: np.ndarray) -> np.ndarray:
    """A diagonal posterior covariance diag(exp(logvar)) seen through directions [2, Z]."""
    d = dirs if len(dirs) == 2 else np.vstack([dirs, np.zeros_like(dirs)])
    return (d * np.exp(logvar)) @ d.T


def subsample(n_total: int, n: int, seed: int = 0) -> np.ndarray:
    """n sorted indices out of n_total, the same for the same (n, seed)."""
    if n >= n_total:
        return np.arange(n_total)
    return np.sort(np.random.default_rng(seed).choice(n_total, n, replace=False))


@st.cache_data(show_spinner="Running t-SNE (slow on a small CPU)...", max_entries=8)
def _tsne(path: str, mtime: str, n: int, perplexity: float, seed: int,
          _mu: np.ndarray) -> np.ndarray:
    from sklearn.manifold import TSNE  # deferred: ~1 s of import, only when t-SNE is asked for

    idx = subsample(len(_mu), n, seed)
    return TSNE(2, perplexity=min(perplexity, (len(idx) - 1) / 3), init="pca",
                random_state=seed).fit_transform(_mu[idx]).astype(np.float32)


def tsne_of_test_codes(ck: Checkpoint, n: int, perplexity: float = 30.0, seed: int = 0
                       ) -> tuple[np.ndarray, np.ndarray]:
    """(indices [n], 2-D t-SNE embedding [n, 2]) of a seeded subsample of test codes."""
    mu, _ = encoded(ck)
    return subsample(len(mu), n, seed), _tsne(*key(ck), n, perplexity, seed, mu)


# --- -ELBO per image (ui.inference scores one image) ----------------------------------------


@st.cache_data(show_spinner="Scoring every test image...", max_entries=16)
def _test_neg_elbo(path: str, mtime: str, dataset: str, binarization: str, _model: Any
                   ) -> dict[str, np.ndarray]:
    x, labels, _ = test_set(dataset)
    xt = eval_targets(torch.from_numpy(x)[:, None], binarization)
    y = test_labels(_model, labels)
    g = torch.Generator(device=device_of(_model)).manual_seed(EVAL_SEED)
    parts = [numpy_terms(elbo_terms(_model, xt[i:i + 1000], g,
                                    None if y is None else y[i:i + 1000]),
                         ("neg_elbo", "recon", "kl"))
             for i in range(0, len(xt), 1000)]
    return {k: np.concatenate([p[k] for p in parts]) for k in ("neg_elbo", "recon", "kl")}


def test_neg_elbo(ck: Checkpoint) -> dict[str, np.ndarray]:
    """Per-image test -ELBO, recon and KL [N] under the model's likelihood and binarization.
    Same protocol and random draws as evaluate_elbo, so the mean equals metrics.json's."""
    return _test_neg_elbo(*key(ck), ck.train_config.dataset, ck.train_config.binarize, ck.model)


# --- figures of the test set alone (the pages add the user's image to a copy) ---------------
def _figure(spec: dict[str, Any]) -> go.Figure:
    """A figure from the cached dict of one built, so validated, before: validating 10,000
    points again would cost about 40 ms a run, copying the dict costs about 1."""
    return go.Figure(spec, _validate=False)


@st.cache_data(max_entries=16, show_spinner=False)
def _test_codes_spec(path: str, mtime: str, dataset: str, axes: tuple[str, str],
                     style: tuple[float, float, int], _xy: np.ndarray) -> dict[str, Any]:
    _, labels, names = test_set(dataset)
    opacity, marker_size, height = style
    return latent_scatter(_xy, labels[:len(_xy)], np.arange(len(_xy)), names, axes,
                          opacity=opacity, marker_size=marker_size, height=height).to_dict()


def test_codes_figure(ck: Checkpoint, xy: np.ndarray, axes: tuple[str, str],
                      opacity: float = 0.35, marker_size: float = 3.0, height: int = 540,
                      extra: list[dict[str, Any]] | None = None) -> go.Figure:
    """A new figure of `ck`'s test codes `xy` [N, 2] (its ui.latent_view plane), one trace
    per class (figures.latent_scatter), built once per model and style; `extra` traces
    (e.g. figures.posterior_traces) are drawn over them, unvalidated."""
    spec = _test_codes_spec(*key(ck), ck.train_config.dataset, tuple(axes),
                            (opacity, marker_size, height), xy)
    spec["data"] = [*spec["data"], *(extra or [])]
    return _figure(spec)


@st.cache_data(max_entries=16, show_spinner=False)
def _neg_elbo_spec(path: str, mtime: str, x_title: str, _values: np.ndarray) -> dict[str, Any]:
    return score_histogram(_values, x_title).to_dict()


def test_neg_elbo_histogram(ck: Checkpoint, x_title: str = "−ELBO (nats per image)"
                            ) -> go.Figure:
    """A new histogram figure of `ck`'s per-image test −ELBO (figures.score_histogram; mark
    an image on it with figures.add_marker), built once per model."""
    return _figure(_neg_elbo_spec(*key(ck), x_title, test_neg_elbo(ck)["neg_elbo"]))


@st.cache_data(show_spinner="Preparing the CSV...", max_entries=4)
def _codes_csv(path: str, mtime: str, dataset: str, _mu: np.ndarray, _logvar: np.ndarray
               ) -> bytes:
    _, labels, names = test_set(dataset)
    idx = np.arange(len(_mu))
    return codes_table(idx, labels, names, _mu, _logvar).to_csv(index=False).encode()


def codes_csv(ck: Checkpoint) -> bytes:
    """The encoded test set as CSV: index, label, class, mu_0.., logvar_0.. (cached)."""
    mu, logvar = encoded(ck)
    return _codes_csv(*key(ck), ck.train_config.dataset, mu, logvar)


@st.cache_data(show_spinner="Computing KL per dimension...", max_entries=16)
def _latent_stats(path: str, mtime: str, dataset: str, binarization: str, _model: Any
                  ) -> dict[str, Any]:
    x, labels, _ = test_set(dataset)
    with torch.no_grad():
        return latent_stats(_model, eval_targets(torch.from_numpy(x)[:, None], binarization),
                            y=test_labels(_model, labels))


def test_latent_stats(ck: Checkpoint) -> dict[str, Any]:
    """KL per dimension and active units on the test set (vae_core.latent_stats), cached."""
    return _latent_stats(*key(ck), ck.train_config.dataset, ck.train_config.binarize, ck.model)


def dim_labels(ck: Checkpoint) -> list[str]:
    """'z0', 'z1', ... with the dimensions the model leaves unused marked: their posterior
    mean hardly moves across the test set (activity below vae_core's active-unit threshold,
    Burda et al. 2015), so a slider along them changes nothing."""
    off = inactive_dims(ck)
    return [f"z{i} · inactive (KL {off[i]:.2f})" if i in off else f"z{i}"
            for i in range(ck.model_config.latent_dim)]


def inactive_dims(ck: Checkpoint) -> dict[int, float]:
    """The latent dimensions `ck` leaves unused (dim_labels' criterion) -> their test-set KL."""
    if ck.model_config.latent_dim <= 2:  # both used in every 2-D model we train; skip the pass
        return {}
    if not ck.model.has_encoder:  # activity is measured on encoded test images
        return {}
    stats = test_latent_stats(ck)
    kl, active = stats["kl_per_dim"], stats["activity"]
    return {i: float(kl[i]) for i in range(len(kl)) if not active[i] > ACTIVE_THRESHOLD}


def most_active_dims(ck: Checkpoint, k: int = 16) -> list[int]:
    """Up to k latent dimensions worth a traversal row, most KL (test-set mean) first: the
    active ones (dim_labels' criterion), or the k largest KL when none is active; the first k
    for a model without an encoder (nothing to measure them on)."""
    if not ck.model.has_encoder:
        return list(range(min(k, ck.model_config.latent_dim)))
    stats = test_latent_stats(ck)
    kl = np.asarray(stats["kl_per_dim"], dtype=np.float64)
    order = [int(d) for d in np.argsort(-kl, kind="stable")]
    active = [d for d in order if stats["activity"][d] > ACTIVE_THRESHOLD]
    return (active or order)[:k]


@st.cache_data(max_entries=16, show_spinner="Drawing codes from the prior...")
def _prior_check(path: str, mtime: str, n: int, y: int | None, read: bool, _ck: Checkpoint,
                 _mu: np.ndarray, _logvar: np.ndarray) -> dict[str, Any]:
    z, gap = prior_holes(torch.from_numpy(_mu), torch.from_numpy(_logvar), n)
    out = {"z": z.numpy(), "gap": gap.numpy(), "sure": None, "test_sure": None}
    if read:  # the reference classifier's confidence in the decodings, and in n test digits'
        labels = torch.from_numpy(test_set(_ck.train_config.dataset)[1][:n]).long()
        own = labels if _ck.model_config.conditional else None
        try:
            net = classifier()
            out["sure"] = classify(decode(_ck, z.float(), y), net)[1].max(1)
            out["test_sure"] = classify(decode(_ck, _mu[:n], own), net)[1].max(1)
        except VAEError:  # no readable classifier: the caller says so
            pass
    return out


def prior_check(ck: Checkpoint, n: int, y: int | None, read: bool) -> dict[str, Any]:
    """n seeded codes z ~ N(0, I) [n, Z] and how the model covers them: the hole gap
    log p(z) - log q_agg(z) [n] (vae_core.prior_holes, q_agg of the test codes); with `read`,
    the digit classifier's confidence [n] in their decodings (under class y) and in the
    reconstructions of the first n test digits (None without a classifier)."""
    mu, logvar = encoded(ck)
    return _prior_check(*key(ck), n, y, read, ck, mu, logvar)


# --- the latent pad's class means (its bytes are resources: ui.state) -----------------------
@st.cache_data(max_entries=16, show_spinner=False)
def _class_means(path: str, mtime: str, dataset: str, _mu: np.ndarray) -> np.ndarray:
    _, labels, classes = test_set(dataset)
    return np.stack([_mu[labels == c].mean(0) if (labels == c).any()
                     else np.zeros(_mu.shape[1], np.float32) for c in range(len(classes))])


def class_mean_codes(ck: Checkpoint) -> np.ndarray:
    """[C, Z]: the mean posterior mean of each class's test images (where the pad's digit
    keys jump; 0 for a class with no test image)."""
    return _class_means(*key(ck), ck.train_config.dataset, encoded(ck)[0])


# --- the plane's layers (ui.plane_layers draws them) -----------------------------------------
@st.cache_data(max_entries=32, show_spinner="Looking for holes in the latent space...")
def _hole_cells(path: str, mtime: str, extent: float, n: int, _mu: np.ndarray,
                _logvar: np.ndarray) -> np.ndarray:
    return hole_map(torch.from_numpy(np.asarray(_mu)), torch.from_numpy(np.asarray(_logvar)),
                    n, extent, radius=PRIOR_RADIUS).numpy()


def hole_cells(ck: Checkpoint, extent: float, n: int) -> np.ndarray:
    """log p(z) - log q_agg(z) [n, n] on the cell centres of [-extent, extent]^2, row 0 at +y;
    -inf beyond |z| = PRIOR_RADIUS (vae_core.hole_map). A conditional model's test codes are
    style codes: one map serves every class."""
    mu, logvar = encoded(ck)
    return _hole_cells(*key(ck), round(float(extent), 6), n, mu, logvar)


@st.cache_data(max_entries=32, show_spinner="Decoding and encoding the plane...")
def _round_trips(path: str, mtime: str, n: int, lim: float, y: int | None, _ck: Checkpoint
                 ) -> tuple[np.ndarray, np.ndarray]:
    z, head = round_trip_field(_ck.model, n, lim, y)
    return z.numpy(), head.numpy()


def round_trips(ck: Checkpoint, lim: float, y: int | None, n: int
                ) -> tuple[np.ndarray, np.ndarray]:
    """(z [n*n, 2], mu(decode(z)) [n*n, 2]) on an n x n grid over [-lim, lim]^2, under class
    y for a conditional model (vae_core.round_trip_field)."""
    return _round_trips(*key(ck), n, round(float(lim), 6), None if y is None else int(y), ck)
