"""Session-state key names live in ui/keys.py (issue 13): no page or ui module reads or writes
session state under a string literal of its own, and no two constants share a name."""

from __future__ import annotations

import re
from pathlib import Path

import ui.keys as keys

ROOT = Path(__file__).resolve().parents[2]
LITERAL = re.compile(r"session_state(?:\.get|\.setdefault|\.pop)?\(?\[?\s*\"")


def test_no_session_state_key_is_a_literal_outside_ui_keys() -> None:
    found = [f"{p.relative_to(ROOT)}:{n}: {line.strip()}"
             for p in [*ROOT.glob("pages/*.py"), *ROOT.glob("ui/**/*.py")]
             if p.name != "keys.py"
             for n, line in enumerate(p.read_text().splitlines(), 1) if LITERAL.search(line)]
    assert found == []


def test_key_names_are_unique() -> None:
    values = [v for k, v in vars(keys).items() if k.isupper() and isinstance(v, str)]
    assert len(values) == len(set(values)) and len(values) > 20
    assert keys.z_key(3) == "z_3"
