"""The suite itself: pytest imports test files by their base name (rootdir-relative "prepend"
mode, no __init__.py), so two files with one name in different folders stop the whole run at
collection ("import file mismatch") before any test runs."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def test_test_file_names_are_unique() -> None:
    names = Counter(p.name for p in TESTS.rglob("test_*.py"))
    assert len(names) > 40  # the glob found the suite
    assert [n for n, c in names.items() if c > 1] == []
