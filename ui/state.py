"""The models and the test set, loaded once and shared by every session (the sidebar that
picks the active model is ui/sidebar.py).

Models are loaded once per checkpoint folder with `st.cache_resource` (one object shared by all
sessions, so pages treat it as read-only: eval mode, no_grad, no in-place changes). The test
set and its codes are shared the same way, as read-only arrays; other arrays derived from a
model go through `st.cache_data`, keyed by the checkpoint path and its mtime.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import streamlit as st
import torch

from ui.keys import MODEL_KEY, UPLOADS_KEY  # noqa: F401  (MODEL_KEY: the pages' and tests' name)
from vae_core import (
    Checkpoint,
    DataNotFoundError,
    encode_dataset,
    is_checkpoint,
    load_checkpoint,
    load_split,
    weights_mtime,
)
from vae_core import resources

ROOT = resources.root()  # the clone, or the installed copy of the app (vae_core.resources)
BUNDLED_DIR = resources.bundled_dir()
DEFAULT_MODEL = "mnist-mlp-2d"
ENV_USER_DIR = resources.ENV_USER_MODELS_DIR
# The same path under a key no widget owns. After a fragment rerun (a latent pad release, a
# button in the Sliders explorer) Streamlit 1.67 drops the sidebar selectbox's key on the next
# page switch, which silently reset the model to the default; a plain key survives.


def user_dir() -> Path:
    """Where models trained or uploaded in the app are saved: $VAE_USER_MODELS_DIR, else
    checkpoints/user in a clone, else the user's data folder (vae_core.resources)."""
    return resources.user_models_dir()


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


@st.cache_resource(show_spinner="Loading model...", max_entries=16)
def _load(path: str, mtime: float) -> Checkpoint:
    return load_checkpoint(path)


def get_model(path: str) -> Checkpoint:
    """The cached, read-only checkpoint at `path` (reloaded when its weights change)."""
    return _load(path, weights_mtime(path))


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
def encoded_test_set(path: str, mtime: float, dataset: str) -> tuple[np.ndarray, np.ndarray]:
    """Posterior means and log-variances of the whole test set under one model (read-only).
    A conditional model encodes each image with its own label: its codes hold style alone."""
    x, labels, _ = test_set(dataset)
    model = get_model(path).model
    y = torch.from_numpy(labels).long() if model.cfg.conditional else None
    mu, logvar = encode_dataset(model, torch.from_numpy(x).unsqueeze(1), y=y)
    mu_np, logvar_np = _frozen(mu.numpy(), logvar.numpy())
    return mu_np, logvar_np


def encoded(ck: Checkpoint) -> tuple[np.ndarray, np.ndarray]:
    return encoded_test_set(str(ck.path), weights_mtime(str(ck.path)), ck.train_config.dataset)
