"""Pictures derived from a model, cached with `st.cache_data`: decoded grids and planes, one
uploaded image worked out once (its preprocessing, encoding, reconstruction, readings), the
class map and style grid, a training replay's arrays for the browser player. Keys as in
`ui.derived`."""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st
import torch

from ui.figures import tile, tiles_of
from ui.inference import decode, posterior_draws, reconstruct, score_image
from ui.latent_map import draw_latent_map
from ui.replay_figures import player_arrays
from ui.state import classifier, encoded, key, test_set
from vae_core import (Checkpoint, classifier_version, classify, kl_per_dim, manifold,
                      payload_hash, preprocess_image, read_digit, tint_grid)


# --- decoded pictures -----------------------------------------------------------------------
@st.cache_data(show_spinner="Decoding the manifold...", max_entries=32)
def _manifold(path: str, mtime: str, n: int, lim: float, base: tuple[float, ...] | None,
              directions: tuple[tuple[float, ...], ...] | None, y: int | None, spacing: str,
              dims: tuple[int, int], _model: Any) -> tuple[np.ndarray, np.ndarray]:
    with torch.no_grad():
        img, vals = manifold(_model, n, spacing, lim, dims=dims,
                             base=None if base is None else torch.tensor(base),
                             directions=None if directions is None else torch.tensor(directions),
                             y=y)
    return img.numpy(), vals.numpy()


def manifold_image(ck: Checkpoint, n: int = 20, lim: float = 3.0,
                   base: np.ndarray | None = None, directions: np.ndarray | None = None,
                   y: int | None = None, spacing: str = "linear",
                   dims: tuple[int, int] = (0, 1)) -> tuple[np.ndarray, np.ndarray]:
    """Decoded n x n grid over [-lim, lim]^2 (`spacing` "linear", or "gaussian" quantiles) on
    latent dims `dims`, or on a plane through `base` spanned by `directions`; every code under
    class y if the model is conditional: (image [28n, 28n], axis values [n])."""
    b = None if base is None else tuple(float(v) for v in base)
    d = None if directions is None else tuple(tuple(float(v) for v in r) for r in directions)
    return _manifold(*key(ck), n, float(lim), b, d, None if y is None else int(y), spacing,
                     tuple(int(i) for i in dims), ck.model)


@st.cache_data(max_entries=16)
def _latent_map(path: str, mtime: str, r: float, n: int, size: int, y: int | None,
                _mu: np.ndarray, _labels: np.ndarray, _ck: Checkpoint) -> np.ndarray:
    grid, _ = manifold_image(_ck, n, r, y=y)
    return draw_latent_map(grid, r, n, size, _mu, _labels)


def latent_map(ck: Checkpoint, r: float, n: int, size: int, y: int | None = None
               ) -> np.ndarray:
    """The Sliders fallback's RGB map of a 2-D model's plane over [-r, r]: its n x n decoded
    manifold (under class y if conditional) with the test codes by class (ui.latent_map);
    without the codes for a model that has no encoder."""
    _, labels, _ = test_set(ck.train_config.dataset)
    mu = encoded(ck)[0] if ck.model.has_encoder else np.zeros((0, 2), np.float32)
    labels = labels[:len(mu)]
    return _latent_map(*key(ck), float(r), int(n), int(size), None if y is None else int(y),
                       mu, labels, ck)


# --- one uploaded image: worked out once per image, not once per rerun ----------------------
@st.cache_data(max_entries=64, show_spinner=False)
def _image_view(path: str, mtime: str, img: np.ndarray, y: int | None, n: int,
                _ck: Checkpoint) -> dict[str, Any]:
    score = score_image(_ck, img, y=y)  # the one encoding: of the image as scored
    return {"score": score, "recon": decode(_ck, score["mu"][None], y)[0],
            "samples": posterior_draws(_ck, score["mu"], score["logvar"], n, 0, y)}


def image_view(ck: Checkpoint, img: np.ndarray, n: int, y: int | None = None
               ) -> dict[str, Any]:
    """One image [28, 28] under `ck` (given label y), from one encoding of it as scored
    (ui.inference.score_image: grey levels, or its fixed binarization): `score`, `recon` (its
    posterior mean decoded) and n posterior `samples` decoded (seed 0); cached per image."""
    return _image_view(*key(ck), np.asarray(img, np.float32), y, int(n), ck)


@st.cache_data(max_entries=64, show_spinner=False)
def _reconstruction(path: str, mtime: str, img: np.ndarray, _ck: Checkpoint) -> np.ndarray:
    return reconstruct(_ck, img)[0]


def reconstruction(ck: Checkpoint, img: np.ndarray) -> np.ndarray:
    """`ck`'s decoded posterior mean of one image [28, 28], cached per image."""
    return _reconstruction(*key(ck), np.asarray(img, np.float32), ck)


@st.cache_data(max_entries=64, show_spinner=False)
def uploaded_image(data: bytes) -> np.ndarray:
    """vae_core.preprocess_image of an uploaded file's bytes, once per file (cached by its
    content); ImageError when it is no usable image."""
    return preprocess_image(data)


@st.cache_data(max_entries=256, show_spinner=False)
def _digit_reading(version: str, img: np.ndarray) -> tuple[int, float]:
    return read_digit(img, classifier())


def digit_reading(img: np.ndarray) -> tuple[int, float]:
    """The reference classifier's (class, probability) for one image [28, 28] (white ink on
    black), read once per image and version of the classifier's files, not once per rerun;
    VAEError (not cached) when its files are missing or damaged."""
    return _digit_reading(classifier_version(), np.asarray(img, np.float32))


@st.cache_data(max_entries=64, show_spinner=False)
def _anatomy(path: str, mtime: str, image: np.ndarray, seed: int, y: int | None,
             _ck: Checkpoint) -> dict[str, Any]:
    a = score_image(_ck, image, seed, y)
    mu, logvar = a["mu"], a["logvar"]
    return {**a, "x": a["target"], "sigma": np.exp(0.5 * logvar),
            "x_mu": decode(_ck, mu[None], y)[0],
            "kl_dims": kl_per_dim(torch.from_numpy(mu), torch.from_numpy(logvar)).numpy()}


def anatomy(ck: Checkpoint, image: np.ndarray, seed: int, y: int | None) -> dict[str, Any]:
    """One image through the model (under its label y if the model is conditional): the
    target as scored, mu, sigma, eps, z, the -ELBO terms, KL per dimension, decodings of z
    and of mu."""
    return _anatomy(*key(ck), np.asarray(image, dtype=np.float32), int(seed), y, ck)


# --- classes: the class map and the style grid (ui.class_maps draws them) -------------------
@st.cache_data(max_entries=32, show_spinner="Reading every tile...")
def class_map(grid: np.ndarray, rows: int, cols: int) -> tuple[np.ndarray, np.ndarray]:
    """(RGB grid [28 rows, 28 cols, 3]: each tile's ink in the colour of the class the
    classifier reads there, grey where it is unsure; the readings [rows, cols])."""
    labels, probs = classify(tiles_of(grid, rows, cols), classifier())
    conf = probs[np.arange(len(labels)), labels]
    shape = (rows, cols)
    return tint_grid(grid, labels.reshape(shape), conf.reshape(shape)), labels.reshape(shape)


@st.cache_data(max_entries=16, show_spinner="Decoding the style grid...")
def _style_grid(path: str, mtime: str, codes: np.ndarray, _ck: Checkpoint) -> np.ndarray:
    k = _ck.model_config.n_classes
    z = np.repeat(np.asarray(codes, np.float32), k, axis=0)
    return tile(decode(_ck, z, torch.arange(k).repeat(len(codes))), k, pad=0)


def style_grid(ck: Checkpoint, codes: np.ndarray) -> np.ndarray:
    """[28 rows, 28 K]: row r is style code r decoded under every class, one per column."""
    return _style_grid(*key(ck), codes, ck)


@st.cache_data(show_spinner=False, max_entries=8)
def replay_frames(source: str, stamp: str, _replay: Any) -> tuple[list[dict[str, Any]], str, bytes]:
    """(layout, content hash, bytes) of a replay's arrays for the browser player
    (ui.replay_figures.player_arrays), once per `source` (a model folder, a training run) and
    `stamp` (its replay file's mtime, its snapshot count and last step)."""
    layout, data = player_arrays(_replay)
    return layout, payload_hash(data), data
