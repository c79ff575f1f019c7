"""The suite's own layout: tests sit by layer (core, cli, app, e2e, bench), AppTests one file per
page or component, and no file is named by an issue or a group of pages. pytest imports them in
importlib mode (pyproject), so a page's AppTest and its browser test may share a name."""

from __future__ import annotations

import re
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
LAYERS = {"core", "cli", "app", "e2e", "bench"}
PAGES = {p.stem for p in (TESTS.parent / "pages").glob("*.py")}


def test_every_test_file_sits_in_a_layer() -> None:
    files = sorted(TESTS.rglob("test_*.py"))
    assert len(files) > 40  # the glob found the suite
    stray = [str(p.relative_to(TESTS)) for p in files if p.parent.name not in LAYERS
             or p.parent.parent != TESTS]
    assert stray == []


def test_no_file_named_by_an_issue_or_a_group_of_pages() -> None:
    bad = []
    for p in TESTS.rglob("test_*.py"):
        words = p.stem.removeprefix("test_").split("_")
        if re.search(r"issue|\d{2}", p.stem) or p.stem.startswith("test_app_"):
            bad.append(p.name)
        elif sum(w in PAGES for w in words) > 1 or "pages" in words:
            bad.append(p.name)
    assert sorted(bad) == []
