"""Classes of a conditional model: their names, the one class picker every page draws, and the
label a picker suggests. An unconditional model takes no label: pages pass y=None."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from hashlib import sha1
from typing import Any

import numpy as np
import streamlit as st

from vae_core import Checkpoint, class_names

ALL = -1  # the "all classes" choice of a picker
DIGITS = [str(d) for d in range(10)]  # the reference classifier's classes
STYLE_HELP = ("A conditional VAE draws the class you pick here; z holds only the style (slant, "
              "width, stroke)")


def class_labels(ck: Checkpoint) -> list[str]:
    """The names of a conditional model's classes: those saved with the checkpoint (its
    training data's), else the dataset's, else their indices."""
    saved = ck.info.get("classes")
    names = saved if isinstance(saved, list) else class_names(ck.train_config.dataset)
    return [str(names[i]) if i < len(names) else str(i)
            for i in range(ck.model_config.n_classes)]


def is_conditional(ck: Checkpoint) -> bool:
    return bool(ck.model_config.conditional)


def class_picker(ck: Checkpoint, names: Sequence[str] | None, key: str, label: str = "Class", *,
                 allow_all: bool = False, help: str | None = STYLE_HELP, note: str | None = None,
                 container: Any = st, horizontal: bool = False) -> int | None:
    """The class picker: a selectbox of the model's classes (with "all classes" first when
    `allow_all`), in a narrow column with the caption `note` beside it when one is given; or,
    `horizontal`, a row of radio buttons (beside a live view, where one click should switch).
    `names` default to class_labels(ck). Returns the chosen class index, None for all classes
    and, with nothing drawn, for an unconditional model."""
    if not ck.model_config.conditional:
        return None
    names = class_labels(ck) if names is None else names
    options = ([ALL] if allow_all else []) + list(range(ck.model_config.n_classes))
    where = container
    if note is not None:
        where, beside = container.columns([1, 3], vertical_alignment="bottom")
        beside.caption(note)
    draw = partial(where.radio, horizontal=True) if horizontal else where.selectbox
    k = draw(label, options, key=key, help=help,
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
