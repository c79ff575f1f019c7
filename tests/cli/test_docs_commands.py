"""The manual stays true: every command the README and the docs give as an example runs as
written, in order, from an empty folder (the examples build on each other: train, resume,
evaluate, ...).

`latent-explorer` is the installed console script; here it is `python -m vae_core` from this
clone (tests/cli/test_package.py checks that the two are the same program). `app` starts a server
and has its own test there. Recipes that train for minutes or hours (the bundled models') sit in
```` ```bash slow ```` blocks, which are not examples to run here; placeholders (`...`, `<command>`)
are not commands.
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
PROGRAMS = ("latent-explorer", "python -m vae_core", ".venv/bin/python -m vae_core")
# The pages whose examples run (test_every_page_with_examples_runs: no other page has any).
RUN_PAGES = ("README.md", "docs/cli.md", "docs/onnx.md", "docs/logging.md", "docs/models.md")


def doc_commands(markdown: str) -> list[str]:
    """Commands of ours in a page: inline `latent-explorer ...` spans and lines of ```bash
    blocks (not ```bash slow), comments dropped, in the order they appear."""
    found = []
    for m in re.finditer(r"^```bash\n(.*?)^```|`((?:latent-explorer|python -m vae_core) [^`]+)`",
                         markdown, re.M | re.S):
        lines = m.group(1).splitlines() if m.group(1) else [m.group(2)]
        for line in lines:
            line = line.split("#")[0].strip()
            # not "latent-explorer COMMAND ..." nor "latent-explorer <command>"
            if line.startswith(PROGRAMS) and "..." not in line and "<" not in line:
                found.append(line)
    return found


def runnable(commands: list[str]) -> list[str]:
    """The commands a test can run: not `app` (a server) nor `--help`."""
    return [c for c in commands if " app" not in c and "--help" not in c]


def test_doc_commands_are_found() -> None:
    md = ("| x | `latent-explorer info --checkpoint m` |\n```bash\n"
          "python -m vae_core sample --n 4 --out s.png   # a grid\ntensorboard --logdir r\n```\n")
    assert doc_commands(md + "`latent-explorer COMMAND ...`") == [
        "latent-explorer info --checkpoint m", "python -m vae_core sample --n 4 --out s.png"]
    slow = "```bash slow\npython -m vae_core train --epochs 40\n```\n"
    venv = "```bash\n.venv/bin/python -m vae_core info --checkpoint m\n```\n"
    assert doc_commands(slow + "`latent-explorer <command>`\n" + venv) == [
        ".venv/bin/python -m vae_core info --checkpoint m"]


def test_every_page_with_examples_runs() -> None:
    """A page that gives runnable commands of ours is one that the test below runs."""
    pages = [REPO_ROOT / "README.md", REPO_ROOT / "bench" / "README.md",
             *(REPO_ROOT / "docs").glob("*.md")]
    with_examples = {p.relative_to(REPO_ROOT).as_posix() for p in pages
                     if runnable(doc_commands(p.read_text()))}
    assert with_examples == set(RUN_PAGES)


@pytest.mark.slow
@pytest.mark.parametrize("page", RUN_PAGES)
def test_doc_examples_run_as_written(page: str, tmp_path: Path) -> None:
    commands = runnable(doc_commands((REPO_ROOT / page).read_text()))
    assert commands, f"no example commands in {page}"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO_ROOT),
           "VAE_USER_MODELS_DIR": str(tmp_path / "my-models")}
    env.pop("VAE_DATA_DIR", None)  # the bundled MNIST, as the page says
    work = tmp_path / "work"
    work.mkdir()
    for command in commands:
        argv = shlex.split(command)
        argv = argv[1:] if argv[0] == "latent-explorer" else argv[3:]  # after "python -m vae_core"
        r = subprocess.run([sys.executable, "-m", "vae_core", *argv], cwd=work, env=env,
                           capture_output=True, text=True, timeout=300, check=False)
        assert r.returncode == 0, f"{page}: {command}\n{r.stderr[-2000:]}"
        assert "Traceback" not in r.stderr, command
    assert any(work.iterdir()), "the examples wrote nothing"
