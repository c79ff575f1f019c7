"""The models and the test set, loaded once and shared by every session (the sidebar that
picks the active model is ui/sidebar.py).

Models are loaded once per checkpoint folder with `st.cache_resource` (one object shared by all
sessions, so pages treat it as read-only: eval mode, no_grad, no in-place changes). The test
set and its codes are shared the same way, as read-only arrays; other arrays derived from a
model go through `st.cache_data`, keyed by the checkpoint path and its mtime.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import streamlit as st
import torch

from ui.keys import UPLOADS_KEY
from vae_core import (
    ENV_USER_MODELS_DIR,
    Checkpoint,
    DataNotFoundError,
    ExportError,
    Replay,
    Split,
    app_root,
    bundled_dir,
    classifier_version,
    encode_dataset,
    export_classifier,
    export_decoder,
    is_checkpoint,
    load_checkpoint,
    load_classifier,
    load_replay,
    load_split,
    pad_images_bytes,
    pad_points_bytes,
    payload_hash,
    user_models_dir,
    weights_mtime,
)

ROOT = app_root()  # the clone, or the installed copy of the app (vae_core.resources)
BUNDLED_DIR = bundled_dir()
T = TypeVar("T")
DEFAULT_MODEL = "mnist-mlp-2d"
ENV_USER_DIR = ENV_USER_MODELS_DIR


def default_model() -> str:
    """The folder of the model a session starts on (read at call time: tests move
    BUNDLED_DIR)."""
    return str(BUNDLED_DIR / DEFAULT_MODEL)


def user_dir() -> Path:
    """Where models trained or uploaded in the app are saved: $VAE_USER_MODELS_DIR, else
    checkpoints/user in a clone, else the user's data folder (vae_core.resources)."""
    return user_models_dir()


def available_models() -> dict[str, str]:
    """Label -> checkpoint folder for bundled, user-trained and uploaded models."""
    found: dict[str, str] = {}
    if BUNDLED_DIR.is_dir():
        for p in sorted(BUNDLED_DIR.iterdir()):
            if p.is_dir() and is_checkpoint(p):
                found[f"{p.name} (bundled)"] = str(p)
    udir = user_dir()
    if udir.is_dir():
        for p in sorted(udir.iterdir(), key=lambda q: q.stat().st_mtime, reverse=True):
            if p.is_dir() and is_checkpoint(p):
                found[f"{p.name} (yours)"] = str(p)
    for label, path in st.session_state.get(UPLOADS_KEY, {}).items():
        if is_checkpoint(Path(path)):
            found[label] = path
    return found


def key(ck: Checkpoint | str | Path) -> tuple[str, str]:
    """(path, mtime) strings identifying a checkpoint's current weights: the one cache key of
    everything derived from a model, here and in ui.derived."""
    path = str(ck.path if isinstance(ck, Checkpoint) else ck)
    return path, str(weights_mtime(path))


@st.cache_resource(show_spinner="Loading model...", max_entries=16)
def _load(path: str, mtime: str) -> Checkpoint:
    return load_checkpoint(path)


def get_model(path: str) -> Checkpoint:
    """The cached, read-only checkpoint at `path` (reloaded when its weights change)."""
    return _load(*key(path))


def _frozen(*arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    """Make shared arrays read-only: every session gets the same object, none may change it."""
    # torch.from_numpy of a read-only view warns once that the tensor could still be written;
    # the pages only read these tensors (models run under no_grad on copies they own).
    warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
    for a in arrays:
        a.setflags(write=False)
    return arrays


# cache_resource, not cache_data: cache_data unpickles a private copy (31 MB for the test set)
# on every call, i.e. on every rerun of every session; these arrays are shared read-only.
@st.cache_resource(show_spinner="Loading the test set...")
def test_set(dataset: str = "mnist") -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Test images float32 [N,28,28] in [0,1], labels [N], class names (read-only arrays)."""
    split = load_split(dataset, train=False)
    images, labels = _frozen(split.floats()[:, 0].numpy(), split.labels.numpy())
    return images, labels, list(split.classes)


def test_set_or_stop(dataset: str = "mnist") -> tuple[np.ndarray, np.ndarray, list[str]]:
    try:
        return test_set(dataset)
    except DataNotFoundError as e:
        st.error(f"The {dataset} test set could not be loaded: {e}")
        st.stop()


@st.cache_resource(show_spinner="Encoding the test set...", max_entries=16)
def encoded_test_set(path: str, mtime: str, dataset: str) -> tuple[np.ndarray, np.ndarray]:
    """Posterior means and log-variances of the whole test set under one model (read-only).
    A conditional model encodes each image with its own label: its codes hold style alone."""
    x, labels, _ = test_set(dataset)
    model = get_model(path).model
    y = torch.from_numpy(labels).long() if model.cfg.conditional else None
    mu, logvar = encode_dataset(model, torch.from_numpy(x).unsqueeze(1), y=y)
    mu_np, logvar_np = _frozen(mu.numpy(), logvar.numpy())
    return mu_np, logvar_np


def encoded(ck: Checkpoint) -> tuple[np.ndarray, np.ndarray]:
    """(posterior means [N, Z], log-variances [N, Z]) of the test set under `ck` (cached)."""
    return encoded_test_set(*key(ck), ck.train_config.dataset)


@st.cache_resource(show_spinner="Loading the training set...", max_entries=2)
def training_split(dataset: str, train: bool, data_setting: str | None) -> Split:
    """A split of `dataset` for the Train page, shared read-only (the Trainer copies it to
    floats). data_setting (the data folder variable's value) is part of the key, so pointing
    the variable elsewhere reloads."""
    return load_split(dataset, train=train, data_dir=None)


@st.cache_resource(show_spinner="Loading the training replay...", max_entries=8)
def replay(path: str, mtime: float, latent_dim: int) -> Replay:
    """The training replay saved in checkpoint folder `path` (its file's mtime is part of the
    key), shared read-only by every session; VAEError when it cannot be read."""
    return load_replay(path, latent_dim)


@st.cache_resource
def server_object(name: str, _make: Callable[[], T]) -> T:
    """The server's one object called `name`, made by `_make()` on first use and shared by
    every session (the Train page's TrainingManager)."""
    return _make()


# --- the latent pad's exports: what ui.latent_pad serves to the browser ----------------------
@st.cache_resource(max_entries=16, show_spinner=False)
def _browser_decoder(path: str, mtime: str, _model: torch.nn.Module
                     ) -> tuple[list[dict[str, Any]], str, bytes] | str:
    try:
        spec, weights = export_decoder(_model)
    except ExportError as e:
        return str(e)
    data = weights.astype("<f4").tobytes()
    return spec, payload_hash(data), data


def browser_decoder(ck: Checkpoint) -> tuple[list[dict[str, Any]], str, bytes] | str:
    """`ck`'s decoder for the browser (vae_core.export_decoder): its layer spec, the content
    hash and little-endian float32 bytes of its weights; or why it does not export."""
    return _browser_decoder(*key(ck), ck.model)


@st.cache_resource(max_entries=2, show_spinner=False)
def _classifier(version: str) -> torch.nn.Module:
    return load_classifier()


def classifier() -> torch.nn.Module:
    """The reference digit classifier, loaded once per version of its files and shared
    read-only (eval mode, no grads); VAEError when its files are missing or damaged."""
    return _classifier(classifier_version())


@st.cache_resource(max_entries=2, show_spinner=False)
def _browser_classifier(version: str) -> tuple[list[dict[str, Any]], str, bytes]:
    spec, weights = export_classifier(classifier())
    data = weights.astype("<f4").tobytes()
    return spec, payload_hash(data), data


def browser_classifier() -> tuple[list[dict[str, Any]], str, bytes]:
    """The digit classifier for the browser (vae_core.export_classifier): spec, content hash
    and little-endian float32 bytes; VAEError when its files are missing or damaged."""
    return _browser_classifier(classifier_version())


# The latent pad's byte arrays (what ui.latent_pad serves to a 2-D model's plane): resources,
# not cache_data, so that a pad's run (each release) does not unpickle a copy of them.
@st.cache_resource(max_entries=16, show_spinner=False)
def _pad_points(path: str, mtime: str, dataset: str, n: int, _mu: np.ndarray
                ) -> tuple[str, bytes]:
    data = pad_points_bytes(_mu, test_set(dataset)[1], n)
    return payload_hash(data), data


def pad_points(ck: Checkpoint, n: int) -> tuple[str, bytes]:
    """(content hash, bytes): float32 [n, 2] codes then uint8 [n] labels of the first n test
    digits (fewer if the test set is smaller)."""
    n = min(n, len(test_set(ck.train_config.dataset)[1]))
    return _pad_points(*key(ck), ck.train_config.dataset, n, encoded(ck)[0])


@st.cache_resource(max_entries=4, show_spinner=False)
def pad_images(dataset: str, n: int) -> tuple[str, bytes]:
    """(content hash, bytes): uint8 [n, 28, 28] images of the first n test digits."""
    data = pad_images_bytes(test_set(dataset)[0], n)
    return payload_hash(data), data
