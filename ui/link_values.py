"""How a link's text becomes a page's values: the readers of URL parameters (a whole
number, a class, a latent code, ...), the writers of parameters that set several keys (the
sliders' z, a replay's step), and the conditions under which a model has a widget at all.
ui.view_links puts them together in its VIEWS table."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import streamlit as st

from ui import keys as K
from ui.classes import ALL, class_labels
from ui.derived import TSNE_DEFAULT_POINTS
from ui.state import encoded, test_set
from vae_core import Checkpoint, VAEError, load_replay

Reader = Callable[[str, Checkpoint], Any]  # URL text -> widget value; ValueError says why
# (value, model, the link's values read so far) -> what could not be used, one phrase each
Writer = Callable[[Any, Checkpoint, Mapping[str, Any]], list[str]]
SLIDER_RANGE = 10.0  # the Latent sliders page's widest range


def whole(lo: int, hi: int | Callable[[Checkpoint], int]) -> Reader:
    """An integer in [lo, hi]; `hi` may depend on the model."""
    def read(text: str, ck: Checkpoint) -> int:
        top = hi(ck) if callable(hi) else hi
        try:
            v = int(text)
        except ValueError:
            raise ValueError("is not a whole number") from None
        if not lo <= v <= top:
            raise ValueError(f"is not in {lo}..{top}")
        return v
    return read


def number(lo: float, hi: float) -> Reader:
    """A finite number in [lo, hi]."""
    def read(text: str, ck: Checkpoint) -> float:
        try:
            v = float(text)
        except ValueError:
            raise ValueError("is not a number") from None
        if not (math.isfinite(v) and lo <= v <= hi):
            raise ValueError(f"is not in {lo:g}..{hi:g}")
        return v
    return read


def one_of(choices: Mapping[str, Any]) -> Reader:
    """One of the named choices (URL word -> widget value; the first word of a value is the
    one links write)."""
    def read(text: str, ck: Checkpoint) -> Any:
        if text.lower() not in choices:
            raise ValueError(f"is not one of {', '.join(choices)}")
        return choices[text.lower()]
    return read


SWITCH = one_of({"on": True, "off": False, "1": True, "0": False, "true": True,
                 "false": False})


def a_class(allow_all: bool) -> Reader:
    """A conditional model's class by name or index (`all` for a picker that offers it)."""
    def read(text: str, ck: Checkpoint) -> int:
        names = [n.lower() for n in class_labels(ck)]
        if allow_all and text.lower() == "all":
            return ALL
        if text.lower() in names:
            return names.index(text.lower())
        if text.isdigit() and int(text) < len(names):
            return int(text)
        raise ValueError(f"is not a class of {ck.name}")
    return read


def codes(text: str, ck: Checkpoint) -> list[float]:
    """A latent code for this model: comma-separated finite numbers, one per dimension."""
    try:
        z = [float(v) for v in text.split(",")]
    except ValueError:
        raise ValueError("is not a list of numbers") from None
    if not all(math.isfinite(v) for v in z):
        raise ValueError("needs finite numbers")
    if len(z) != ck.model_config.latent_dim:
        raise ValueError(f"has {len(z)} numbers, {ck.name} needs {ck.model_config.latent_dim}")
    return z


def test_index(text: str, ck: Checkpoint) -> int:
    """An index into the model's test set."""
    v = whole(0, 2**31 - 1)(text, ck)
    if v > last_test(ck):
        raise ValueError(f"is out of range: there is no test image #{v} "
                         f"(of {last_test(ck) + 1:,})")
    return v


def slider_code(z: list[float], ck: Checkpoint, given: Mapping[str, Any]) -> list[str]:
    """The Latent sliders' z and range from a link's code, clamped to their widest range."""
    problems = []
    if max(abs(v) for v in z) > SLIDER_RANGE:
        asked = ",".join(f"{v:g}" for v in z)
        z = [min(max(v, -SLIDER_RANGE), SLIDER_RANGE) for v in z]
        problems.append(f"z={asked} is beyond the sliders' range ±{SLIDER_RANGE:g}: "
                        f"({', '.join(f'{v:g}' for v in z)}) is shown")
    z = [round(v, 2) for v in z]
    st.session_state[K.SL_RANGE] = max(3.0, min(float(math.ceil(max(map(abs, z)))),
                                                 SLIDER_RANGE))
    st.session_state[K.SL_CODE] = z  # z's one owner; the page seeds any slider keys from it
    return problems


def digit_code(index: int, ck: Checkpoint, given: Mapping[str, Any]) -> list[str]:
    """The sliders at a test digit's posterior mean, unless the link gives z itself."""
    if given.get("z") is not None:
        return []
    if not ck.model.has_encoder:
        return [f"digit={index} needs an encoder to place the digit; {ck.name} has none"]
    return slider_code([float(v) for v in encoded(ck)[0][index]], ck, given)


def replay_frame(step: int, ck: Checkpoint, given: Mapping[str, Any]) -> list[str]:
    """The Training replay's timeline at the snapshot nearest to training step `step`."""
    try:
        replay = load_replay(ck.path, ck.model_config.latent_dim)
    except VAEError as e:  # the page itself explains a missing or broken replay
        return [f"no replay to open at step {step} ({e})"]
    st.session_state[K.RP_FRAME] = int(np.abs(replay.step - step).argmin())
    last = int(replay.step[-1])
    if step > last:
        return [f"step={step} is past the end of training (step {last:,}): the last "
                "snapshot is shown"]
    return []


def last_test(ck: Checkpoint) -> int:
    """The last test-set index of the model's dataset."""
    return len(test_set(ck.train_config.dataset)[1]) - 1


def all_points(ck: Checkpoint) -> int:
    """The Scatter page's points without a link: the whole test set."""
    return last_test(ck) + 1


def tsne_points(ck: Checkpoint) -> int:
    """The t-SNE subsample without a link."""
    return min(TSNE_DEFAULT_POINTS, all_points(ck))


def last_dim(ck: Checkpoint) -> int:
    """The model's last latent dimension."""
    return ck.model_config.latent_dim - 1


def conditional(ck: Checkpoint) -> str | None:
    return None if ck.model_config.conditional else f"{ck.name} is not conditional"


def takes_label(ck: Checkpoint) -> str | None:
    return None if ck.model_config.conditional else f"{ck.name} takes no class label"


def two_d(ck: Checkpoint) -> str | None:
    return None if ck.model_config.latent_dim == 2 else f"{ck.name} is not 2-D"


def many_d(ck: Checkpoint) -> str | None:
    return None if ck.model_config.latent_dim > 2 else f"{ck.name} has no other plane"


def two_d_conditional(ck: Checkpoint) -> str | None:
    return two_d(ck) or conditional(ck)
