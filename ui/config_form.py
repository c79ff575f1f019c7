"""The Train page's settings form, generated from the config schema (vae_core.config_fields).

Every field of `ModelConfig` and `TrainConfig` is a widget keyed `tr_<field>`. The widgets take
their values from session state only (never a `value=` argument), seeded once per visit from,
in this order: the values last submitted in this session, the settings of this session's
latest run, the dataclass defaults. So the form keeps its values across page visits, and a
page never writes a key of a widget it has already drawn.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from ui.keys import FORM_VALUES_KEY
from vae_core import FieldSpec, ModelConfig, TrainConfig, config_fields, format_ints, parse_ints

GROUPS = {  # section title -> fields, four per row
    "Model": [s.name for s in config_fields(ModelConfig)],
    "Objective and optimization": ["beta", "warmup_epochs", "binarize", "iw_samples",
                                   "optimizer", "lr", "lr_schedule", "lr_decay",
                                   "grad_clip", "batch_size", "epochs", "seed", "precision"],
    "Data": ["dataset", "limit", "augment", "device"],
}
SPECS = {s.name: s for cls in (ModelConfig, TrainConfig) for s in config_fields(cls)}


def widget_key(name: str) -> str:
    return f"tr_{name}"


def _shown(spec: FieldSpec, value: Any) -> Any:
    """A config value as its widget holds it."""
    if spec.kind == "ints":
        return format_ints(value)
    if spec.kind == "float":
        return float(value)
    return value


def seed_form(latest: tuple[ModelConfig, TrainConfig] | None) -> None:
    """Give every form widget a value in session state before it is drawn."""
    saved = st.session_state.get(FORM_VALUES_KEY, {})
    base = {**ModelConfig().to_dict(), **TrainConfig().to_dict()}
    if latest is not None:
        base.update({**latest[0].to_dict(), **latest[1].to_dict()})
    for name, spec in SPECS.items():
        key = widget_key(name)
        if key not in st.session_state:
            st.session_state[key] = saved.get(name, _shown(spec, base[name]))


def _widget(col: Any, spec: FieldSpec) -> Any:
    key, label, help_ = widget_key(spec.name), spec.label, spec.help or None
    if spec.kind == "choice":
        return col.selectbox(label, spec.choices, key=key, help=help_)
    if spec.kind == "bool":
        return col.checkbox(label, key=key, help=help_)
    if spec.kind == "ints":
        return col.text_input(label, key=key, help=help_,
                              placeholder="all 2" if spec.name == "strides" else "")
    if spec.kind == "int":
        return col.number_input(label, int(spec.min), int(spec.max), step=int(spec.step or 1),
                                key=key, help=help_)
    return col.number_input(label, float(spec.min), float(spec.max),
                            step=float(spec.step) if spec.step else None,
                            format=spec.format or "%.2f", key=key, help=help_)


def settings_form(latest: tuple[ModelConfig, TrainConfig] | None) -> tuple[bool, dict]:
    """Draw the form; returns (submitted, {field: widget value})."""
    seed_form(latest)
    values: dict[str, Any] = {}
    with st.form("train_form"):
        for title, names in GROUPS.items():
            st.markdown(f"**{title}**")
            for row in range(0, len(names), 4):
                cols = st.columns(4, vertical_alignment="bottom")
                for col, name in zip(cols, names[row:row + 4], strict=False):
                    values[name] = _widget(col, SPECS[name])
        submitted = st.form_submit_button("Start training", type="primary", key="tr_start")
    if submitted:
        st.session_state[FORM_VALUES_KEY] = dict(values)
    return submitted, values


def configs_from(values: dict[str, Any]) -> tuple[ModelConfig, TrainConfig]:
    """The form's values as configs; ConfigError says which value is wrong."""
    parsed = {name: parse_ints(v) if SPECS[name].kind == "ints" else v
              for name, v in values.items()}
    m = {s.name for s in config_fields(ModelConfig)}
    return (ModelConfig(**{k: v for k, v in parsed.items() if k in m}),
            TrainConfig(**{k: v for k, v in parsed.items() if k not in m}))
