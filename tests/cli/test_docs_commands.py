"""The manual stays true: every command the docs give as an example runs as written, in order,
from an empty folder (the examples build on each other: train, resume, evaluate, ...).

`latent-explorer` is the installed console script; here it is `python -m vae_core` from this
clone (tests/cli/test_package.py checks that the two are the same program). `app` starts a server
and has its own test there.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCS = REPO_ROOT / "docs"
PROGRAMS = ("latent-explorer", "python -m vae_core")


def doc_commands(markdown: str) -> list[str]:
    """Commands of ours in a page: inline `latent-explorer ...` spans and lines of ```bash
    blocks, comments dropped, in the order they appear."""
    found = []
    for m in re.finditer(r"^```bash\n(.*?)^```|`((?:latent-explorer|python -m vae_core) [^`]+)`",
                         markdown, re.M | re.S):
        lines = m.group(1).splitlines() if m.group(1) else [m.group(2)]
        for line in lines:
            line = line.split("#")[0].strip()
            if line.startswith(PROGRAMS) and "..." not in line:  # not "latent-explorer COMMAND ..."
                found.append(line)
    return found


def test_doc_commands_are_found() -> None:
    md = ("| x | `latent-explorer info --checkpoint m` |\n```bash\n"
          "python -m vae_core sample --n 4 --out s.png   # a grid\ntensorboard --logdir r\n```\n")
    assert doc_commands(md + "`latent-explorer COMMAND ...`") == [
        "latent-explorer info --checkpoint m", "python -m vae_core sample --n 4 --out s.png"]


@pytest.mark.slow
@pytest.mark.parametrize("page", ["cli.md", "onnx.md", "logging.md"])
def test_doc_examples_run_as_written(page: str, tmp_path: Path) -> None:
    commands = [c for c in doc_commands((DOCS / page).read_text())
                if " app" not in c and "--help" not in c]
    assert commands, f"no example commands in docs/{page}"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO_ROOT),
           "VAE_USER_MODELS_DIR": str(tmp_path / "my-models")}
    env.pop("VAE_DATA_DIR", None)  # the bundled MNIST, as the page says
    work = tmp_path / "work"
    work.mkdir()
    for command in commands:
        argv = shlex.split(command)
        argv = argv[1:] if argv[0] == "latent-explorer" else argv[3:]
        r = subprocess.run([sys.executable, "-m", "vae_core", *argv], cwd=work, env=env,
                           capture_output=True, text=True, timeout=300, check=False)
        assert r.returncode == 0, f"docs/{page}: {command}\n{r.stderr[-2000:]}"
        assert "Traceback" not in r.stderr, command
    assert any(work.iterdir()), "the examples wrote nothing"
