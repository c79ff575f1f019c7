"""What a link holds on each page: one URL parameter per widget, its widget key and the value
the widget shows without a link; or, for a parameter that sets several keys or a derived one
(the sliders' z, a replay's step), the function that writes them.

ui/share.py lists the parameters and follows links; VIEWS below is their one table.

A parameter that depends on another (the Generate tab, the Manifold view) is read for the
tab or view the same link asks for, else the one shown. A page calls `seed_widgets` before
drawing them: the widgets take their values from session state (no default of their own),
so a link can set them without Streamlit's "default value and Session State" warning.
Scatter's selected points are not in the link: Streamlit cannot select chart points from
the server.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import streamlit as st

from ui import keys as K
from ui.classes import ALL
from ui.link_values import (SWITCH, Reader, Writer, a_class, all_points, codes, conditional,
                            digit_code, last_dim, last_test, many_d, number, one_of,
                            replay_frame, slider_code, takes_label, test_index, tsne_points,
                            two_d, two_d_conditional, whole)
from vae_core import EVAL_SEED, Checkpoint


@dataclass(frozen=True)
class Param:
    """One URL parameter that sets the widget `key`."""

    name: str
    key: str
    default: Any  # what the widget shows without a link (a function of the model, or a value)
    read: Reader
    when: tuple[str, Any] | None = None  # (another parameter, the value it must have)
    needs: Callable[[Checkpoint], str | None] | None = None  # why the model has no such widget
    implies: tuple[str, Any] | None = None  # (another parameter, the value a link gives it)
    # Sets several keys, or a derived one, instead of `key`: such a parameter only comes from
    # links (not seeded, not in view_query: the page writes it into its own link).
    write: Writer | None = None

    def start(self, ck: Checkpoint) -> Any:
        """The widget's value without a link, for this model."""
        return self.default(ck) if callable(self.default) else self.default

    def text(self, value: Any) -> str:
        """The widget value as the URL writes it (what `read` reads back)."""
        if isinstance(value, bool):
            return "on" if value else "off"
        if isinstance(value, float):
            return f"{value:g}"
        if value == ALL and self.default == ALL:
            return "all"
        return next((w for w, v in WORDS.get(self.key, {}).items() if v == value), str(value))


MANIFOLD_VIEW = ("view", "manifold")
STYLE_VIEW = ("view", "style")
PRIOR, POST, INTERP, TRAV = ("Prior samples", "Posterior predictive", "Interpolation",
                             "Traversal")
AROUND_ZERO, AROUND_DIGIT = "zero (the prior mean)", "a test digit's mean"

# The URL words of the choice widgets (word -> widget value).
WORDS: dict[str, dict[str, Any]] = {
    K.MF_VIEW: {"manifold": "manifold", "style": "style"},
    K.MF_SPACING: {"linear": "linear", "quantile": "quantile"},
    K.MF_PLANE: {"axes": "axes", "pca": "pca"},
    K.MF_STYLE: {"even": "even", "random": "random"},
    K.SC_PROJECTION: {"pca": "PCA", "tsne": "t-SNE"},
    K.GEN_TAB: {"prior": PRIOR, "posterior": POST, "interpolation": INTERP, "traversal": TRAV},
    K.GEN_TRAV_AROUND: {"zero": AROUND_ZERO, "digit": AROUND_DIGIT},
}

VIEWS: dict[str, tuple[Param, ...]] = {
    "manifold": (
        Param("view", K.MF_VIEW, "manifold", one_of(WORDS[K.MF_VIEW]),
              needs=conditional),
        Param("label", K.MF_CLASS, 0, a_class(False), MANIFOLD_VIEW, conditional),
        Param("classmap", K.MF_CLASS_MAP, False, SWITCH),
        Param("grid", K.MF_N, 20, whole(5, 40), MANIFOLD_VIEW),
        Param("range", K.MF_LIM, 3.0, number(0.1, 10.0), MANIFOLD_VIEW),
        Param("spacing", K.MF_SPACING, "linear", one_of(WORDS[K.MF_SPACING]),
              MANIFOLD_VIEW),
        Param("plane", K.MF_PLANE, "axes", one_of(WORDS[K.MF_PLANE]),
              MANIFOLD_VIEW, many_d),
        Param("dim_x", K.MF_DX, 0, whole(0, last_dim), MANIFOLD_VIEW, many_d),
        Param("dim_y", K.MF_DY, 1, whole(0, last_dim), MANIFOLD_VIEW, many_d),
        Param("rows", K.MF_ROWS, 6, whole(2, 12), STYLE_VIEW, conditional),
        Param("styles", K.MF_STYLE, "even", one_of(WORDS[K.MF_STYLE]),
              STYLE_VIEW, conditional),
        Param("seed", K.MF_SEED, 0, whole(0, 10_000), STYLE_VIEW, conditional),
        Param("radius", K.MF_RADIUS, 1.5, number(0.1, 4.0), STYLE_VIEW, conditional),
    ),
    "scatter": (
        Param("projection", K.SC_PROJECTION, "PCA", one_of(WORDS[K.SC_PROJECTION]),
              needs=many_d),
        Param("points", K.SC_N, all_points, whole(500, all_points), ("projection", "PCA")),
        Param("points", K.SC_N_TSNE, tsne_points, whole(500, all_points),
              ("projection", "t-SNE")),
        Param("opacity", K.SC_OPACITY, 0.6, number(0.1, 1.0)),
        Param("holes", K.SC_HOLES, False, SWITCH, needs=two_d),
        Param("field", K.SC_FIELD, False, SWITCH, needs=two_d),
        Param("field_class", K.SC_FIELD_CLASS, 0, a_class(False), needs=two_d_conditional),
    ),
    "generate": (
        Param("tab", K.GEN_TAB, PRIOR, one_of(WORDS[K.GEN_TAB])),
        Param("label", K.GEN_CLASS, ALL, a_class(True), needs=conditional),
        Param("n", K.GEN_PRIOR_N, 48, whole(1, 200), ("tab", PRIOR)),
        Param("seed", K.GEN_PRIOR_SEED, 0, whole(0, 2**31 - 1), ("tab", PRIOR)),
        Param("per_row", K.GEN_PRIOR_NCOL, 12, whole(4, 20), ("tab", PRIOR)),
        Param("digit", K.GEN_POST_INDEX, 0, whole(0, last_test), ("tab", POST)),
        Param("n", K.GEN_POST_N, 24, whole(1, 100), ("tab", POST)),
        Param("seed", K.GEN_POST_SEED, 0, whole(0, 2**31 - 1), ("tab", POST)),
        Param("pixels", K.GEN_POST_PIXELS, False, SWITCH, ("tab", POST)),
        Param("from", K.GEN_INTERP_A, 0, whole(0, last_test), ("tab", INTERP)),
        Param("to", K.GEN_INTERP_B, 1, whole(0, last_test), ("tab", INTERP)),
        Param("steps", K.GEN_INTERP_STEPS, 10, whole(3, 20), ("tab", INTERP)),
        Param("around", K.GEN_TRAV_AROUND, AROUND_ZERO, one_of(WORDS[K.GEN_TRAV_AROUND]),
              ("tab", TRAV)),
        Param("digit", K.GEN_TRAV_INDEX, 0, whole(0, last_test), ("tab", TRAV),
              implies=("around", AROUND_DIGIT)),  # the index is only drawn around a digit
        Param("steps", K.GEN_TRAV_STEPS, 9, whole(3, 15), ("tab", TRAV)),
        Param("range", K.GEN_TRAV_LIM, 3.0, number(0.5, 5.0), ("tab", TRAV)),
    ),
    "home": (  # the followed test image and the seed of eps (the tour follows them too)
        Param("digit", K.HOME_DIGIT, 0, test_index),
        Param("seed", K.HOME_SEED, EVAL_SEED, whole(0, 2**31 - 1)),
    ),
    "sliders": (  # z (or a test digit's code: z first), the class, the pad's layers
        Param("z", K.SL_CODE, None, codes, write=slider_code),
        Param("digit", K.SL_CODE, None, test_index, write=digit_code),
        Param("label", K.SL_CLASS, 0, a_class(False), needs=takes_label),
        Param("holes", K.SL_HOLES, False, SWITCH, needs=two_d),
        Param("field", K.SL_FIELD, False, SWITCH, needs=two_d),
        Param("cost", K.SL_COST, False, SWITCH),
        Param("cost_digit", K.SL_COST_DIGIT, 0, whole(0, last_test)),
    ),
    "compare": (  # kl=on: KL per dimension and active units shown (the page's button pressed)
        Param("kl", K.STATS_KEY, False, SWITCH),
    ),
    "replay": (  # a training step: the snapshot nearest to it
        Param("step", K.RP_FRAME, None, whole(0, 2**31 - 1), write=replay_frame),
    ),
}


def names(page: str) -> set[str]:
    """The parameters `page` reads here."""
    return {p.name for p in VIEWS.get(page, ())}


def seed_widgets(page: str, ck: Checkpoint) -> None:
    """Give the page's widgets their values without a link; call before drawing them."""
    for p in VIEWS[page]:
        if p.write is None and (p.needs is None or p.needs(ck) is None):
            st.session_state.setdefault(p.key, p.start(ck))


def _current(page: str, name: str, given: Mapping[str, Any]) -> Any:
    """The value of the controlling parameter `name`: the link's, else the widget's."""
    p = next(p for p in VIEWS[page] if p.name == name)
    if given.get(name) is not None:
        return given[name]
    return st.session_state.get(p.key, p.default)


def apply(page: str, params: Mapping[str, str], ck: Checkpoint) -> list[str]:
    """Set the page's widgets from a link (before the page draws them); returns what could
    not be used, one phrase each."""
    problems: list[str] = []
    given: dict[str, Any] = {}
    for p in VIEWS.get(page, ()):  # controlling parameters (no `when`) first
        if p.name not in params or p.name in given:
            continue
        if p.when is not None and _current(page, p.when[0], given) != p.when[1]:
            continue
        why = p.needs(ck) if p.needs else None
        if why:
            problems.append(f"{p.name} is not used here ({why})")
            given[p.name] = None
            continue
        try:
            given[p.name] = value = p.read(str(params[p.name]).strip(), ck)
        except ValueError as e:
            problems.append(f"{p.name}={params[p.name]!r} {e}")
            given[p.name] = None
            continue
        if p.write is None:
            st.session_state[p.key] = value
        else:
            problems += p.write(value, ck, given)
        if p.implies is not None and p.implies[0] not in params:
            other = next(o for o in VIEWS[page] if o.name == p.implies[0])
            st.session_state[other.key] = p.implies[1]
    for name in sorted(names(page) & set(params) - set(given)):
        problems.append(f"{name} is not used by this view")
    return problems


def view_query(page: str, ck: Checkpoint) -> dict[str, str]:
    """The parameters of what the page shows now that differ from its values without a
    link (a short, readable URL that `apply` reads back)."""
    q: dict[str, str] = {}
    for p in VIEWS[page]:
        if p.write is not None or (p.needs and p.needs(ck)) or p.name in q:
            continue
        if p.when is not None and _current(page, p.when[0], {}) != p.when[1]:
            continue
        value = st.session_state.get(p.key, p.start(ck))
        if value != p.start(ck):
            q[p.name] = p.text(value)
    return q
