"""Class labels for conditional models: the class pickers the pages draw and the label a
picker suggests (issue 17). An unconditional model takes no label: pages pass y=None."""

from __future__ import annotations

from collections.abc import Sequence
from hashlib import sha1
from typing import Any

import numpy as np
import streamlit as st

from vae_core import Checkpoint

ALL = -1  # the "all classes" choice of a picker


def is_conditional(ck: Checkpoint) -> bool:
    return bool(ck.model_config.conditional)


def class_picker(ck: Checkpoint, names: Sequence[str], key: str, label: str = "Class", *,
                 allow_all: bool = False, help: str | None = None, note: str | None = None,
                 container: Any = st) -> int | None:
    """A selectbox of the model's classes (with "all classes" first when `allow_all`), in a
    narrow column with the caption `note` beside it when one is given. Returns the chosen
    class index, or None for all classes."""
    options = ([ALL] if allow_all else []) + list(range(ck.model_config.n_classes))
    where = container
    if note is not None:
        where, beside = container.columns([1, 3], vertical_alignment="bottom")
        beside.caption(note)
    k = where.selectbox(label, options, key=key, help=help,
                        format_func=lambda c: "all classes" if c == ALL else str(names[c]))
    return None if k == ALL else int(k)


def suggest(key: str, image: np.ndarray, suggestion: int) -> None:
    """Set the picker `key` to `suggestion` whenever `image` changes (a new upload or another
    stroke), and leave the user's own choice alone otherwise. Call it before the picker is
    drawn: a widget's value can only be written before then."""
    stamp = sha1(np.ascontiguousarray(image, dtype=np.float32).tobytes()).hexdigest()
    if st.session_state.get(f"{key}_image") != stamp:
        st.session_state[f"{key}_image"] = stamp
        st.session_state[key] = int(suggestion)
