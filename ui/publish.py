"""The "Copy link" popover's part for a model uploaded in this session: a link to it opens in
this browser only, so the popover says so and offers to publish the model to the server's
shared models folder (vae_core.publish_checkpoint); once published, links name the published
copy, which every session on this server (every replica of a class deployment) can open.

The session keeps using its upload (nothing on the page changes); `link_params` swaps the
link's model name for the published one.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import streamlit as st

from ui.keys import MODEL_KEY, PUBLISH_ERROR_KEY, PUBLISHED_KEY, UPLOADS_KEY
from vae_core import MAX_PUBLISH_BYTES, VAEError, is_checkpoint, publish_checkpoint


def _active_upload() -> str | None:
    """The active model's folder when this session uploaded it, else None."""
    path = st.session_state.get(MODEL_KEY)
    return path if path and path in st.session_state.get(UPLOADS_KEY, {}).values() else None


def _published(upload: str) -> Path | None:
    """The published copy of `upload`, if this session published it and it is still there."""
    dest = st.session_state.get(PUBLISHED_KEY, {}).get(upload)
    return Path(dest) if dest and is_checkpoint(dest) else None


def shared_name(name: str) -> str:
    """The name a link should give the model called `name`: its published copy's when `name`
    is the active model, uploaded and published by this session; else `name` itself."""
    upload = _active_upload()
    dest = _published(upload) if upload else None
    return dest.name if dest is not None and name == Path(upload).name else name


def link_params(params: Mapping[str, str]) -> Mapping[str, str]:
    """A view's link parameters, naming the published copy of an uploaded active model."""
    if not params.get("model") or shared_name(params["model"]) == params["model"]:
        return params
    return {**params, "model": shared_name(params["model"])}


def _publish(upload: str) -> None:
    """Button callback: publish the upload; remember the copy, or the one-line reason."""
    errors = st.session_state.setdefault(PUBLISH_ERROR_KEY, {})
    try:
        dest = publish_checkpoint(upload)
    except VAEError as e:
        errors[upload] = str(e)
        return
    errors.pop(upload, None)
    st.session_state.setdefault(PUBLISHED_KEY, {})[upload] = str(dest)


def upload_note(key: str) -> bool:
    """Inside the Copy link popover: for a model this session uploaded, whether the link opens
    for others, and a button that publishes it. Returns True when the link opens in this
    browser only (the popover's usual promise would be wrong), else False."""
    upload = _active_upload()
    if upload is None:
        return False
    dest = _published(upload)
    if dest is not None:
        st.success(f"Published as **{dest.name}** in this server's shared models: the link "
                   "opens it for everyone on this server.", icon=":material/cloud_done:")
        return False
    name = Path(upload).name
    st.warning(f"Only this browser can open this link: **{name}** was uploaded in this "
               "session and is not on the server, so others would get the default model.",
               icon=":material/lock:")
    st.button(
        "Publish to this server", key=f"{key}_publish", on_click=_publish, args=(upload,),
        icon=":material/publish:",
        help=f"Copies the model (up to {MAX_PUBLISH_BYTES / 1e6:.0f} MB) into this server's "
             f"shared models folder as {name}-<8 characters of its content hash>: everyone "
             "on this server can open the link and pick the model, also after a restart. "
             "The same model published twice keeps one name; nothing there is overwritten.")
    error = st.session_state.get(PUBLISH_ERROR_KEY, {}).get(upload)
    if error:
        st.error(f"Not published: {error}", icon=":material/error:")
    return True
