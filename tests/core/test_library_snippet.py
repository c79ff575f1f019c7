"""docs/library.md stays true: its notebook example runs as written, from a folder that is not
the repository, and gives the shapes the page says."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

REPO_ROOT = Path(__file__).resolve().parents[2]
DOC = REPO_ROOT / "docs" / "library.md"
HEADING = "## The library"


def python_blocks(markdown: str, heading: str) -> list[str]:
    """The ```python blocks of the section that starts with `heading` (up to the next heading
    of the same level)."""
    level = heading.split()[0]
    start = markdown.index("\n" + heading)
    rest = markdown[start + 1:]
    end = re.search(rf"^{level} ", rest[len(heading):], re.M)
    section = rest[: len(heading) + end.start()] if end else rest
    return re.findall(r"^```python\n(.*?)^```", section, re.M | re.S)


def test_section_is_found() -> None:
    md = "# t\n## The library in a notebook\n```python\nx = 1\n```\n## Next\n```python\ny\n```\n"
    assert python_blocks(md, HEADING) == ["x = 1\n"]


def test_library_snippet_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = python_blocks(DOC.read_text(), HEADING)
    assert blocks, f"no python block under {HEADING!r} in {DOC}"
    monkeypatch.chdir(tmp_path)  # a notebook elsewhere: names, not repo paths
    monkeypatch.delenv("VAE_DATA_DIR", raising=False)  # the bundled data, as documented
    ns: dict = {}
    for code in blocks:
        exec(compile(code, str(DOC), "exec"), ns)  # our own documentation, as written
    # the shapes the page states
    assert ns["m"].path == REPO_ROOT / "checkpoints" / "mnist-mlp-2d"
    assert ns["test"].images.shape == (10_000, 1, 28, 28)
    assert ns["test"].images.dtype == torch.uint8
    assert ns["mu"].shape == ns["logvar"].shape == (8, 2)
    digits = ns["digits"]
    assert digits.shape == (8, 1, 28, 28) and 0 <= digits.min() and digits.max() <= 1
    assert ns["grid"].shape == (15 * 28, 15 * 28) and ns["values"].shape == (15,)


def test_training_snippet_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/library.md's training example runs as written (from an empty folder) and gives the
    shapes its comments state; the model it trains records the 2,000 images it really used."""
    import json

    blocks = python_blocks(DOC.read_text(), "## Training from Python")
    assert len(blocks) == 1
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("VAE_DATA_DIR", raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    ns: dict = {}
    exec(compile(blocks[0], str(DOC), "exec"), ns)  # our own documentation, as written
    assert ns["mu"].shape == ns["logvar"].shape == (8, 2)
    assert ns["digits"].shape == (8, 1, 28, 28)
    config = json.loads((tmp_path / "my-mlp" / "config.json").read_text())
    metrics = json.loads((tmp_path / "my-mlp" / "metrics.json").read_text())
    assert config["train"]["limit"] == 2000 and metrics["train_images"] == 2000
