"""The README fits a screen and the docs hold together: the README's first two commands are the
install-and-start and the test command (the one .ci/run runs), every relative link in the
README, docs/*.md and bench/README.md reaches a file (and, with a #fragment, a heading of it),
and every file of the repository they name in code (`tests/core/test_docs.py`) is there.

The example commands themselves run in tests/cli/test_docs_commands.py."""

from __future__ import annotations

import re
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
README = REPO_ROOT / "README.md"
PAGES = [README, REPO_ROOT / "bench" / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]
INSTALL = ("python3.11 -m venv .venv && .venv/bin/pip install -r requirements.txt"
           " && .venv/bin/streamlit run app.py")
TESTS = ".venv/bin/python -m pytest"
FENCE = re.compile(r"^```.*?^```[^\n]*$", re.M | re.S)
TOP = ("tests", "ui", "vae_core", "bench", "docs", "pages", "deploy", "data", "checkpoints",
       "assets", ".streamlit", ".ci")
NAMED_FILE = re.compile(r"[\w./-]+\.(?:py|md|json|png|js|css|toml|template|txt)\b")
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def bash_blocks(markdown: str) -> list[str]:
    """The contents of a page's ```bash blocks, in order."""
    return re.findall(r"^```bash\n(.*?)^```", markdown, re.M | re.S)


def prose(markdown: str) -> str:
    """A page without its fenced blocks and code spans (whose brackets are not links)."""
    return re.sub(r"`[^`\n]*`", "", FENCE.sub("", markdown))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, links and code marks and punctuation dropped,
    spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(markdown: str) -> set[str]:
    """The #fragments a page's headings answer to (a repeated heading gets -1, -2, ...)."""
    found, count = set(), {}
    for m in re.finditer(r"^#{1,6} (.+)$", FENCE.sub("", markdown), re.M):
        s = slug(m.group(1))
        n = count.get(s, 0)
        found.add(s if n == 0 else f"{s}-{n}")
        count[s] = n + 1
    return found


def broken_links(page: Path) -> list[str]:
    """The relative links of `page` that reach no file, or no heading of a Markdown file."""
    text = page.read_text()
    bad = []
    for target in LINK.findall(prose(text)):
        if re.match(r"[a-z]+:", target):  # https:, mailto:: not ours to check offline
            continue
        path, _, fragment = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            bad.append(f"{target} (no such file)")
        elif fragment and dest.suffix == ".md" and fragment not in anchors(dest.read_text()):
            bad.append(f"{target} (no such heading)")
    return bad


def named_files(markdown: str) -> list[str]:
    """Repository files a page names in code spans (`tests/e2e/test_x.py`), from the root."""
    return [name for span in re.findall(r"`([^`\n]+)`", markdown)
            for name in NAMED_FILE.findall(span)
            if "/" in name and name.split("/")[0] in TOP]


def test_slugs_are_githubs() -> None:
    assert slug("Many users through the proxy: 1 vs 2 replicas") == (
        "many-users-through-the-proxy-1-vs-2-replicas")
    assert slug("Real handwriting in, the same digit out: `class_consistency`") == (
        "real-handwriting-in-the-same-digit-out-class_consistency")
    assert anchors("# A\n```bash\n# not a heading\n```\n## B: c\n## B: c\n") == {
        "a", "b-c", "b-c-1"}


def test_readme_fits_a_screen() -> None:
    lines = README.read_text().splitlines()
    assert len(lines) <= 200, f"README.md is {len(lines)} lines; move the detail to docs/"


def test_readme_starts_with_install_then_tests() -> None:
    """The first two commands: install and start the app, then run the tests; CI runs the
    second as written."""
    blocks = bash_blocks(README.read_text())
    assert [b.strip() for b in blocks[:2]] == [INSTALL, TESTS]
    ci = [line.strip() for line in (REPO_ROOT / ".ci" / "run").read_text().splitlines()]
    assert TESTS in ci  # CI runs the README's test command as written


def test_every_relative_link_resolves() -> None:
    bad = {p.relative_to(REPO_ROOT).as_posix(): broken_links(p) for p in PAGES}
    assert not {p: b for p, b in bad.items() if b}
    assert len(PAGES) >= 9  # README, bench/README and the seven docs pages at least


def test_broken_links_are_found(tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text("# Other page\n## Its part\n")
    page = tmp_path / "page.md"
    page.write_text("# Here\n[ok](other.md#its-part) ![pic](other.md) [top](#here) `[x](no.md)`\n"
                    "[a](missing.md) [b](other.md#nowhere) [c](#gone) [web](https://x.org/y)\n"
                    "```bash\necho [d](also-missing.md)\n```\n")
    assert broken_links(page) == ["missing.md (no such file)", "other.md#nowhere (no such heading)",
                                  "#gone (no such heading)"]


def test_named_files_exist() -> None:
    """Test files, modules and results the docs name by path are there (tests move by layer,
    modules split: the docs follow)."""
    named = {p.relative_to(REPO_ROOT).as_posix(): named_files(p.read_text()) for p in PAGES}
    assert sum(map(len, named.values())) > 20
    missing = {p: [n for n in names if not (REPO_ROOT / n).exists()] for p, names in named.items()}
    assert not {p: m for p, m in missing.items() if m}
    assert named_files("`tests/core/x.py` `my-model/config.json` `see ui/state.py`") == [
        "tests/core/x.py", "ui/state.py"]
