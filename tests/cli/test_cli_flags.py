"""Every flag of the command line, generated from the parser itself: each numeric flag of each
command refuses a non-number and an out-of-range value in one line naming the flag (exit 2),
before anything is loaded; the help text has no noise; --version and the prog name.

All in-process through `main` (argparse errors never reach torch).
"""

from __future__ import annotations

import argparse
import re
import shlex
import sys
from pathlib import Path

import pytest

import vae_core.__main__ as cli_main
from cli_helpers import run
from vae_core.__main__ import COMMANDS, build_parser
from vae_core.cli_args import BoundedType
from vae_core.provenance import package_version

REPO_ROOT = Path(__file__).resolve().parents[2]


def subparsers() -> dict[str, argparse.ArgumentParser]:
    return dict(build_parser()._subparsers._group_actions[0].choices)


def numeric_flags() -> list[tuple[str, argparse.Action]]:
    return [(name, a) for name, sp in subparsers().items() for a in sp._actions
            if isinstance(a.type, BoundedType)]


def out_of_range(t: BoundedType) -> str:
    """A value just outside the flag's bounds (above hi where there is one)."""
    if t.hi is not None:
        return str(t.hi + 1) if t.kind is int else repr(t.hi * 2 + 1)
    return str(t.lo - 1) if not t.lo_open else str(t.lo)



def assert_refused(res: tuple[int, str, str], flag: str) -> None:
    code, _, err = res
    assert code == 2, err
    assert len(err.splitlines()) == 1 and "error:" in err and "Traceback" not in err, err
    assert flag in err, err


NUMERIC = numeric_flags()


def test_every_command_with_numbers_validates_them() -> None:
    """The generated cases below cover each command's numeric flags (none is left a bare
    int/float); the issue's own examples among them."""
    by_cmd: dict[str, set[str]] = {}
    for name, a in NUMERIC:
        by_cmd.setdefault(name, set()).add(a.option_strings[-1])
    assert {"--epochs", "--lr", "--latent-dim", "--hidden", "--limit", "--seed",
            "--batch-size"} <= by_cmd["train"]
    assert by_cmd["evaluate"] == {"--limit", "--is-samples"}
    assert by_cmd["sample"] == {"--n", "--seed", "--scale"}
    assert by_cmd["reconstruct"] == {"--scale"}
    assert by_cmd["train-classifier"] == {"--epochs", "--batch-size", "--lr", "--augment",
                                          "--seed", "--limit"}
    for name, sp in subparsers().items():
        for a in sp._actions:
            assert a.type not in (int, float) or a.choices, (name, a.option_strings)


@pytest.mark.parametrize(("command", "action"), NUMERIC,
                         ids=[f"{c}{a.option_strings[-1]}" for c, a in NUMERIC])
def test_numeric_flag_refuses_bad_values(command: str, action: argparse.Action,
                                         capsys: pytest.CaptureFixture) -> None:
    flag = action.option_strings[-1]
    many = action.nargs == "*"  # a list flag: one bad entry among good ones
    for bad in ("abc", "nan", out_of_range(action.type)):
        if bad == "nan" and action.type.kind is int:
            continue
        values = ["16", bad] if many else [bad]
        assert_refused(run([command, flag, *values], capsys), flag)


@pytest.mark.parametrize("args", [
    ["evaluate", "--checkpoint", "mnist-mlp-2d", "--limit", "-5"],
    ["evaluate", "--checkpoint", "mnist-mlp-2d", "--is-samples", "-3"],
    ["evaluate", "--checkpoint", "mnist-mlp-2d", "--is-samples", "100000000"],
    ["train", "--hidden", "512", "0", "--out", "x"],
    ["train", "--lr", "inf", "--out", "x"],
    ["sample", "--checkpoint", "mnist-mlp-2d", "--n", "0", "--out", "x.png"],
    ["train-classifier", "--lr", "0"],
    ["train", "--kernel-size", "4", "--out", "x"],
], ids=["limit-negative", "is-negative", "is-huge", "hidden-entry", "lr-inf", "n-zero",
        "clf-lr-zero", "kernel-choice"])
def test_issue_examples_refused(args: list[str], capsys: pytest.CaptureFixture) -> None:
    """`evaluate --limit -5` used to score 9,995 images, `--is-samples -3` crashed."""
    flag = next(a for a in args if a.startswith("--") and a not in ("--checkpoint", "--out"))
    assert_refused(run(args, capsys), flag)


def test_is_samples_bound_is_documented(capsys: pytest.CaptureFixture) -> None:
    code, out, _ = run(["evaluate", "--help"], capsys)
    assert "0..100_000" in " ".join(out.split())
    doc = (REPO_ROOT / "docs" / "cli.md").read_text()
    assert "100,000" in doc or "100_000" in doc


# --- help ----------------------------------------------------------------------------------
def help_text(command: str | None, capsys: pytest.CaptureFixture) -> str:
    code, out, _ = run([command, "--help"] if command else ["--help"], capsys)
    assert code == 0
    return out


def option_blocks(text: str) -> list[str]:
    """The help of each option: its line starting '  -' and the deeper-indented lines after."""
    blocks: list[str] = []
    for line in text.splitlines():
        if re.match(r"^  -", line):
            blocks.append(line)
        elif blocks and line.startswith("   ") and line.strip():
            blocks[-1] += " " + line.strip()
        elif not line.strip() or not line.startswith(" "):
            blocks.append("")
    return [b for b in blocks if b]


@pytest.mark.parametrize("command", [None, *sorted(COMMANDS)])
def test_help_has_no_noise(command: str | None, capsys: pytest.CaptureFixture) -> None:
    """No '(default: None)' on required options, no default shown twice, no path of this
    machine (train-classifier's --out used to show the bundled folder's absolute path)."""
    text = help_text(command, capsys)
    assert "(default: None)" not in text and "(default: False)" not in text
    for block in option_blocks(text):
        assert block.lower().count("default:") <= 1, block
    for path in {str(REPO_ROOT), str(Path.home()), sys.prefix}:
        assert path not in text, path
    assert not re.search(r"(?<![\w.$-])/(usr|home|root|tmp|work|opt)/", text), text


def test_train_classifier_help_names_the_models_folder(capsys: pytest.CaptureFixture) -> None:
    text = " ".join(help_text("train-classifier", capsys).split())
    assert "a new folder" in text and "under your models folder" in text


def test_version(capsys: pytest.CaptureFixture) -> None:
    code, out, _ = run(["--version"], capsys)
    assert code == 0 and out.strip() == f"latent-explorer {package_version()}"


@pytest.mark.parametrize(("argv0", "prog"), [
    ("/venv/bin/latent-explorer", "latent-explorer"),
    ("/x/vae_core/__main__.py", "python -m vae_core"),
])
def test_prog_name(argv0: str, prog: str, monkeypatch: pytest.MonkeyPatch,
                   capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setattr(sys, "argv", [argv0])
    assert build_parser().prog == prog
    assert help_text("sample", capsys).startswith(f"usage: {prog} sample ")
    code, _, err = run(["sample", "--n", "x"], capsys)
    assert code == 2 and err.startswith(f"{prog} sample: error:")


def docstring_examples() -> list[list[str]]:
    text = cli_main.__doc__.replace("\\\n", " ")
    return [shlex.split(line)[3:] for line in text.splitlines()
            if line.strip().startswith("python -m vae_core ")]


def test_docstring_examples_parse() -> None:
    """The module docstring's examples are real command lines of today's parser."""
    examples = docstring_examples()
    assert {e[0] for e in examples} == set(COMMANDS)
    for args in examples:
        ns, rest = build_parser().parse_known_args(args)
        assert ns.command == args[0] and (not rest or ns.command == "app"), args


def test_unknown_flag_is_refused(capsys: pytest.CaptureFixture) -> None:
    code, _, err = run(["info", "--checkpoint", "mnist-mlp-2d", "--bogus"], capsys)
    assert code == 2 and "--bogus" in err and len(err.splitlines()) == 1


def test_evaluate_limit_beyond_the_test_set(capsys: pytest.CaptureFixture) -> None:
    """--limit larger than the test set is refused (not silently shortened)."""
    code, _, err = run(["evaluate", "--checkpoint", "mnist-mlp-2d", "--limit", "20000"], capsys)
    assert code == 2 and len(err.splitlines()) == 1
    assert "--limit 20,000" in err and "10,000 test images" in err


def test_interrupt_exits_130(monkeypatch: pytest.MonkeyPatch,
                             capsys: pytest.CaptureFixture) -> None:
    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setitem(COMMANDS, "info", interrupted)
    monkeypatch.setattr(cli_main, "cmd_train", interrupted)
    assert run(["info", "--checkpoint", "x"], capsys)[::2] == (130, "interrupted\n")
    code, _, err = run(["train", "--out", "x"], capsys)
    assert code == 130 and "last complete epoch is saved" in err
