"""One config schema: the CLI's flags and the Train page's form fields are generated from the
field metadata of `ModelConfig` and `TrainConfig` (label, help, bounds, choices), so a new
field appears in both by being declared once in config.py.
"""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass
from typing import Any

from .cli_args import float_in, int_in
from .config import MAX_CHANNELS, MAX_WIDTH
from .errors import ConfigError

# Bounds of each entry of the list fields (their count is checked by ModelConfig.validate).
LIST_BOUNDS = {"hidden": (1, MAX_WIDTH), "channels": (1, MAX_CHANNELS), "strides": (1, 2)}


@dataclass(frozen=True)
class FieldSpec:
    """What a UI or CLI needs to offer one config field."""

    name: str
    kind: str  # "choice", "int", "float", "bool" or "ints" (a list of whole numbers)
    label: str
    help: str
    default: Any
    choices: tuple = ()
    min: float | None = None
    max: float | None = None
    step: float | None = None
    format: str | None = None

    @property
    def flag(self) -> str:
        """The kebab-case CLI flag, e.g. `--latent-dim`."""
        return "--" + self.name.replace("_", "-")


def config_fields(cls: type) -> list[FieldSpec]:
    """The user-settable fields of a config dataclass, in declaration order, as FieldSpecs.

    Fields marked "derived" (e.g. ModelConfig.n_classes, set from the data) are left out.
    """
    specs = []
    for f in dataclasses.fields(cls):
        meta = f.metadata
        if meta.get("derived"):
            continue
        default = f.default_factory() if f.default is dataclasses.MISSING else f.default
        lo, hi = meta.get("min"), meta.get("max")
        if meta.get("list"):
            kind = "ints"
            lo, hi = LIST_BOUNDS.get(f.name, (lo, hi))
        elif "choices" in meta:
            kind = "choice"
        elif isinstance(default, bool):  # before int: bool is a subclass of int
            kind = "bool"
        else:
            kind = "int" if isinstance(default, int) else "float"
        specs.append(FieldSpec(
            name=f.name, kind=kind, label=meta.get("label", f.name), help=meta.get("help", ""),
            default=default, choices=tuple(meta.get("choices", ())), min=lo, max=hi,
            step=meta.get("step"), format=meta.get("format")))
    return specs


def flag_type(spec: FieldSpec) -> Any:
    """The argparse `type` of a field's flag: bounded by the field's min/max, so a value out
    of range fails in one line before anything is loaded."""
    if spec.kind == "float":
        return float_in(spec.min, spec.max)
    if spec.kind in ("int", "ints"):
        return int_in(None if spec.min is None else int(spec.min),
                      None if spec.max is None else int(spec.max))
    return type(spec.default)


def add_config_args(parser: argparse.ArgumentParser, cls: type) -> None:
    """Add one flag per field of `cls` (defaults, bounds and help from its metadata)."""
    for spec in config_fields(cls):
        text = spec.help or spec.label
        if spec.kind == "ints":
            parser.add_argument(spec.flag, type=flag_type(spec), nargs="*", default=spec.default,
                                metavar="N", help=f"{text}; each {spec.min:g}..{spec.max:g}")
        elif spec.kind == "bool":
            # Off by default (every bool field is), so the flag alone turns it on.
            parser.add_argument(spec.flag, action="store_true", default=spec.default, help=text)
        elif spec.kind == "choice":
            parser.add_argument(spec.flag, type=flag_type(spec), choices=spec.choices,
                                default=spec.default, help=text)
        else:
            parser.add_argument(spec.flag, type=flag_type(spec), default=spec.default,
                                metavar="N" if spec.kind == "int" else "X",
                                help=f"{text}; {flag_type(spec).range_text()}")


def config_from_args(cls: type, ns: argparse.Namespace) -> Any:
    """Build a config from parsed flags (ConfigError if a value is out of bounds)."""
    return cls(**{spec.name: getattr(ns, spec.name) for spec in config_fields(cls)})


def parse_ints(text: str) -> list[int]:
    """'512, 256' or '512 256' -> [512, 256]; ConfigError on anything else."""
    try:
        return [int(v) for v in text.replace(",", " ").split()]
    except ValueError:
        raise ConfigError(f"expected whole numbers separated by commas, got {text!r}") from None


def format_ints(values: list[int]) -> str:
    return ", ".join(str(v) for v in values)
