"""The sidebar every page draws: the model picker, a model upload, the active model's card
and the teacher's Lesson link.

`active_model()` is the first call of every page. The models themselves are loaded and cached
by ui/state.py; this module only picks, shows and takes them.
"""

from __future__ import annotations

import tempfile
from functools import partial
from pathlib import Path

import streamlit as st

from ui.keys import CHOICE_KEY, MODEL_KEY, UPLOADS_KEY, UPLOAD_ERROR_KEY, UPLOAD_ROUND_KEY
from ui.lesson import current as current_lesson, lesson_panel, locked_path
from ui.navigation import ensure_entry
from ui.publish import shared_name
from ui.state import available_models, default_model, get_model
from vae_core import Checkpoint, VAEError, export_zip, import_upload


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
             "(+ metrics.json); or a .zip of your own model as ONNX: decoder.onnx "
             "(+ encoder.onnx) + model.json (docs/onnx.md). Pickle files (.pt, .pth, .pkl) "
             "are refused: they can run code.")
    if st.session_state.get(UPLOAD_ERROR_KEY):
        st.error(f"Upload refused: {st.session_state[UPLOAD_ERROR_KEY]}")


def _upload_root() -> str:
    root = Path(tempfile.gettempdir()) / "latent-explorer-uploads"
    root.mkdir(exist_ok=True)
    return str(root)


def model_card(ck: Checkpoint) -> None:
    """Compact description of a model: architecture, training, test -ELBO; a zip download."""
    m, t, met = ck.model_config, ck.train_config, ck.metrics
    if ck.model.foreign:
        _foreign_card(ck)
        return
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
    _download(ck, "config.json + model.safetensors + metrics.json in one folder: the upload "
                  "above (or any copy of the app) takes it back")


def _foreign_card(ck: Checkpoint) -> None:
    """The card of a model brought as ONNX graphs: what its model.json says, no training."""
    m = ck.model_config
    graphs = "decoder + encoder" if ck.model.has_encoder else "decoder only"
    st.markdown(f"**{ck.name}** · ONNX ({graphs}) · z={m.latent_dim} · {m.likelihood}"
                + (f" · {m.n_classes} classes" if m.conditional else ""))
    st.caption(f"Your own model, run by onnxruntime (not trained here: no training history). "
               f"Dataset: {ck.train_config.dataset}.")
    with st.expander("model.json"):
        st.json(ck.model.manifest, expanded=False)
    _download(ck, "its ONNX graphs and model.json in one folder, as uploaded")


def _download(ck: Checkpoint, what: str) -> None:
    """The active model's folder as a .zip (vae_core.export_zip), `what` said in its help."""
    st.download_button(
        "Download this model (.zip)", partial(export_zip, ck.path, ck.name),
        file_name=f"{ck.name}.zip", mime="application/zip", key="ckpt_download",
        icon=":material/download:", on_click="ignore", width="stretch", help=what)


def needs_encoder(ck: Checkpoint, what: str) -> bool:
    """Whether `ck` can encode images; if not (an ONNX model without encoder.onnx), one line
    saying that `what` needs an encoder."""
    if ck.model.has_encoder:
        return True
    st.info(f"**{ck.name}** has no encoder (its folder has no encoder.onnx): {what} needs "
            "one. The decoder's views work: Sliders, Manifold and Generate's prior samples.",
            icon=":material/info:")
    return False


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
            default = default_model()
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
