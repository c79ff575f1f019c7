"""Running the CLI in-process for tests: `run(args, capsys)` gives (exit code, stdout, stderr),
`refused(result, *needles)` asserts a one-line user error (exit 2) that names each needle."""

from __future__ import annotations

import pytest

from vae_core.__main__ import main

# A model that trains in about a second: the flags the CLI tests add to `train`.
TINY = ["--hidden", "16", "--latent-dim", "2", "--limit", "200", "--epochs", "1",
        "--batch-size", "100", "--device", "cpu"]


def run(args: list, capsys: pytest.CaptureFixture) -> tuple[int, str, str]:
    """`main(args)` as the console would run it: SystemExit (argparse) becomes the exit code."""
    try:
        code = main([str(a) for a in args])
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def refused(res: tuple[int, str, str], *needles: str) -> str:
    """Assert exit 2 with exactly one line on stderr, an error naming every needle; return it."""
    code, _, err = res
    assert code == 2 and len(err.splitlines()) == 1 and "error:" in err, err
    for n in needles:
        assert n.lower() in err.lower(), err
    return err
