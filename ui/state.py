"""The active model and cached data, shared by every page.

Models are loaded once per checkpoint folder with `st.cache_resource` (one object shared by all
sessions, so pages treat it as read-only: eval mode, no_grad, no in-place changes). The test
set and its codes are shared the same way, as read-only arrays; other arrays derived from a
model go through `st.cache_data`, keyed by the checkpoint path and its mtime.
"""

from __future__ import annotations

import tempfile
import warnings
from functools import partial
from pathlib import Path

import numpy as np
import streamlit as st
import torch

from ui.keys import CHOICE_KEY, MODEL_KEY, UPLOADS_KEY, UPLOAD_ERROR_KEY, UPLOAD_ROUND_KEY
from ui.lesson import current as current_lesson, lesson_panel, locked_path
from ui.navigation import ensure_entry
from ui.publish import shared_name
from vae_core import (
    Checkpoint,
    DataNotFoundError,
    VAEError,
    encode_dataset,
    export_zip,
    import_upload,
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




def _uploader_key() -> str:
    return f"ckpt_upload_{st.session_state.get(UPLOAD_ROUND_KEY, 0)}"


def _on_upload() -> None:
    """Uploader callback. It runs before the script, so it may switch the model picker (a
    widget's key can't be written once the widget is drawn in this run)."""
    files = st.session_state.get(_uploader_key()) or []
    if not files:
        return
    # Whatever happens, the next upload starts from an empty uploader: a refused file left in
    # it would be refused again with the next one.
    st.session_state[UPLOAD_ROUND_KEY] = st.session_state.get(UPLOAD_ROUND_KEY, 0) + 1
    try:
        dest = import_upload([(f.name, f.getvalue()) for f in files], _upload_root())
    except VAEError as e:
        st.session_state[UPLOAD_ERROR_KEY] = str(e)
        return
    uploads = st.session_state.setdefault(UPLOADS_KEY, {})
    label, n = f"{dest.name} (uploaded)", 1
    while label in uploads:
        n += 1
        label = f"{dest.name} (uploaded {n})"
    uploads[label] = str(dest)
    st.session_state[MODEL_KEY] = str(dest)
    st.session_state.pop(UPLOAD_ERROR_KEY, None)


def _upload_widget() -> None:
    st.file_uploader(
        "Upload a checkpoint", type=None, accept_multiple_files=True, key=_uploader_key(),
        on_change=_on_upload,
        help="A .zip of a checkpoint folder, or config.json + model.safetensors "
             "(+ metrics.json). Pickle files (.pt, .pth, .pkl) are refused: they can run code.")
    if st.session_state.get(UPLOAD_ERROR_KEY):
        st.error(f"Upload refused: {st.session_state[UPLOAD_ERROR_KEY]}")


def _upload_root() -> str:
    root = Path(tempfile.gettempdir()) / "latent-explorer-uploads"
    root.mkdir(exist_ok=True)
    return str(root)


def model_card(ck: Checkpoint) -> None:
    """Compact description of a model: architecture, training, test -ELBO; a zip download."""
    m, t, met = ck.model_config, ck.train_config, ck.metrics
    layers = m.hidden if m.arch == "mlp" else m.channels
    st.markdown(f"**{ck.name}** · {m.arch.upper()} {layers} · z={m.latent_dim} · "
                f"{m.likelihood} · {m.activation}")
    elbo = met.get("test_neg_elbo")
    if isinstance(elbo, (int, float)):
        cols = st.columns(2)
        cols[0].metric("test −ELBO", f"{elbo:.1f}",
                       help="nats per image, under the model's own likelihood and binarization")
        cols[1].metric("epochs", met.get("epochs", "–"))
    else:
        st.caption("No metrics were saved with this model (no metrics.json): its test −ELBO "
                   "and training history are unknown. `python -m vae_core evaluate --save` "
                   "adds them.")
    if isinstance(met.get("test_nll_is"), (int, float)):
        st.caption(f"IS-NLL {met['test_nll_is']:.2f} nats (k={met.get('is_samples')}), "
                   f"active units {met.get('active_units')}/{m.latent_dim}")
    kl = met.get("kl_per_dim")
    if isinstance(kl, list) and kl and all(isinstance(v, (int, float)) for v in kl):
        st.caption("KL per latent dimension (nats): a dimension near 0 is unused")
        st.bar_chart({"KL": kl}, height=120, x_label="dimension", y_label=None)
    with st.expander("Config"):
        st.json({"model": m.to_dict(), "train": t.to_dict()}, expanded=False)
    st.download_button(
        "Download this model (.zip)", partial(export_zip, ck.path, ck.name),
        file_name=f"{ck.name}.zip", mime="application/zip", key="ckpt_download",
        icon=":material/download:", on_click="ignore", width="stretch",
        help="config.json + model.safetensors + metrics.json in one folder: the upload above "
             "(or any copy of the app) takes it back")


def active_model(conditional_ok: bool = False) -> Checkpoint:
    """Render the sidebar model picker and return the active checkpoint (or stop the page).

    A page that cannot yet feed a class label to a conditional model (all but Train) stops
    with a note for one, instead of failing inside the model."""
    ensure_entry()
    with st.sidebar:
        st.subheader("Model")
        models = available_models()
        if not models:
            st.error("No checkpoints found in checkpoints/. Train one on the Train page.")
            st.stop()
        paths = list(models.values())
        current = st.session_state.get(MODEL_KEY) or st.session_state.get(CHOICE_KEY)
        if current not in paths:
            default = str(BUNDLED_DIR / DEFAULT_MODEL)
            current = default if default in paths else paths[0]
        lesson = current_lesson()  # ui.lesson: lock=model keeps the lesson's model, no picker
        if lesson.locked:
            current = locked_path(lesson, models, current)
        # Every page builds its own selectbox (a new widget), which only keeps a value that is
        # written back to session_state on every run.
        st.session_state[MODEL_KEY] = current
        labels = {v: k for k, v in models.items()}
        if lesson.locked:
            st.caption("This lesson keeps its model.")
        else:
            st.selectbox("Active model", paths, key=MODEL_KEY, format_func=labels.get)
        st.session_state[CHOICE_KEY] = st.session_state[MODEL_KEY]
        if not lesson.hides("upload"):  # a lesson (?hide=upload, lock=model) leaves it out
            with st.expander("Upload a model"):
                _upload_widget()
        try:
            ck = get_model(st.session_state[MODEL_KEY])
        except VAEError as e:
            st.error(f"Cannot load this model: {e}")
            st.stop()
        model_card(ck)
        lesson_panel(shared_name(ck.name))  # the teacher's Lesson link (not in a lesson);
        # a published upload goes by its published name (ui.publish)
    if ck.model_config.conditional and not conditional_ok:
        st.info(f"**{ck.name}** is a conditional VAE: it draws a digit of a class you give "
                "it. This page cannot pass it a class yet. Pick another model in the sidebar, "
                "or use it from the command line, e.g. `python -m vae_core sample "
                f"--checkpoint {ck.path} --label 3 --out threes.png`.",
                icon=":material/info:")
        st.stop()
    return ck
