"""Flag types and help layout of the command line: bounded numbers that fail in one line,
a parser whose every error is one line and exit 2, help without noise, and the record of
which flags the user really typed (so `--resume` can refuse the ones it cannot honour).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

CONSOLE_SCRIPT = "latent-explorer"
GIVEN = "_given"  # Namespace attribute: the dests of flags given on the command line


def prog_name(argv0: str | None = None) -> str:
    """'latent-explorer' when run as the console script, else 'python -m vae_core'."""
    name = Path(sys.argv[0] if argv0 is None else argv0).name
    return CONSOLE_SCRIPT if name in (CONSOLE_SCRIPT, CONSOLE_SCRIPT + ".exe") else \
        "python -m vae_core"


def _number_text(v: float) -> str:
    """1_000_000 for big whole numbers, 1e-06 style for floats."""
    if isinstance(v, int):
        return f"{v:_}" if abs(v) >= 100_000 else str(v)
    return f"{v:g}"


class BoundedType:
    """An argparse `type` for a number in [lo, hi]; its error says what is allowed.

    `lo_open` excludes lo itself (a learning rate of 0 trains nothing). The bounds are kept as
    attributes, so tests can generate an out-of-range value for every numeric flag.
    """

    def __init__(self, kind: type, lo: float | None, hi: float | None, lo_open: bool = False):
        self.kind, self.lo, self.hi, self.lo_open = kind, lo, hi, lo_open
        self.__name__ = kind.__name__  # argparse names the type in some messages

    def range_text(self) -> str:
        """'1..128', '[0, 0.99]', '(0, 1]', '>= 0' or '<= 5'."""
        lo = "" if self.lo is None else _number_text(self.lo)
        hi = "" if self.hi is None else _number_text(self.hi)
        if self.lo is None or self.hi is None:
            return f"<= {hi}" if self.lo is None else f"{'>' if self.lo_open else '>='} {lo}"
        if self.kind is int:
            return f"{lo}..{hi}"
        return f"{'(' if self.lo_open else '['}{lo}, {hi}]"

    def __call__(self, text: str) -> int | float:
        what = "a whole number" if self.kind is int else "a number"
        try:
            v = self.kind(text)
        except (TypeError, ValueError):
            where = self.range_text()
            where = where if where[0] in "<>" else "in " + where
            raise argparse.ArgumentTypeError(
                f"invalid {self.kind.__name__} value: {text!r} (expected {what} {where})"
            ) from None
        if isinstance(v, float) and not math.isfinite(v):
            raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
        too_low = self.lo is not None and (v <= self.lo if self.lo_open else v < self.lo)
        if too_low or (self.hi is not None and v > self.hi):
            raise argparse.ArgumentTypeError(f"{text} is out of range (allowed: "
                                             f"{self.range_text()})")
        return v


def int_in(lo: int | None, hi: int | None) -> BoundedType:
    """A whole number in lo..hi (either bound may be None: unbounded)."""
    return BoundedType(int, lo, hi)


def float_in(lo: float | None, hi: float | None, lo_open: bool = False) -> BoundedType:
    """A finite number in [lo, hi] ((lo, hi] with lo_open)."""
    return BoundedType(float, lo, hi, lo_open)


class _Given:
    """Mixin for argparse actions: remember that the user typed this flag."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        given = set(getattr(namespace, GIVEN, set()))
        given.add(self.dest)  # type: ignore[attr-defined]
        setattr(namespace, GIVEN, given)
        super().__call__(parser, namespace, values, option_string)  # type: ignore[misc]


class _GivenStore(_Given, argparse._StoreAction):
    pass


class _GivenStoreTrue(_Given, argparse._StoreTrueAction):
    pass


def track_given(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Make the flags added to `parser` from now on record themselves in given(ns)."""
    parser.register("action", None, _GivenStore)
    parser.register("action", "store", _GivenStore)
    parser.register("action", "store_true", _GivenStoreTrue)
    return parser


def given(ns: argparse.Namespace) -> set[str]:
    """The dests of the flags typed on the command line (for parsers under track_given)."""
    return set(getattr(ns, GIVEN, set()))


class CLIParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (`prog: error: ...`) and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())}\n")


def _default_text(v: Any) -> str:
    if isinstance(v, (list, tuple)):
        return " ".join(map(str, v)) if v else "none"
    return _number_text(v) if isinstance(v, (int, float)) else str(v)


class HelpFormatter(argparse.HelpFormatter):
    """Shows an option's default once, only where there is one worth showing: never
    '(default: None)' on a required option, nor a second default after the help's own."""

    def __init__(self, prog: str, **kw: Any) -> None:
        super().__init__(prog, max_help_position=30, **kw)

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        d = action.default
        if (not action.option_strings or action.required or d is None or d is False
                or d is argparse.SUPPRESS or "default" in text.lower()
                or isinstance(action, argparse._StoreTrueAction)):
            return text
        return f"{text} (default: {_default_text(d).replace('%', '%%')})".strip()


def sub_parser(sub: Any, name: str, help: str, tracked: bool = False) -> CLIParser:
    """Add subcommand `name` with this module's parser class and help layout."""
    p = sub.add_parser(name, help=help, description=help[0].upper() + help[1:] + ".",
                       formatter_class=HelpFormatter)
    return track_given(p) if tracked else p

