"""Progress output (vae_core.progress): a bar on a terminal, plain lines in a file or pipe,
nothing under --json; and the missing-data hint offering only what the command accepts.

The pipe case of real subprocesses is in test_cli.py (it shares that module's training run).
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from vae_core.__main__ import main
from vae_core.progress import Progress, TrainProgress, progress_mode

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_mode() -> None:
    assert progress_mode(quiet=True, stream=FakeTerminal()) == "off"
    assert progress_mode(stream=FakeTerminal()) == "bar"
    assert progress_mode(stream=io.StringIO()) == "lines"


def test_lines_every_tenth(capsys: pytest.CaptureFixture) -> None:
    with Progress("work", "lines", unit="step") as p:
        for i in range(1, 101):
            p(i, 100)
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert "\r" not in err and len(lines) == 10
    assert [ln.split(": ")[1].split("%")[0] for ln in lines] == [str(10 * k) for k in
                                                                   range(1, 11)]
    assert lines[-1].startswith("work: 100% (100/100 steps")


def test_big_steps_and_off(capsys: pytest.CaptureFixture) -> None:
    p = Progress("work", "lines")
    p(45, 100)  # one report however many tenths a step jumps over
    p(100, 100)
    p.close()
    assert len(capsys.readouterr().err.splitlines()) == 2
    q = Progress("work", "off")
    q(100, 100)
    q.write("an epoch line")
    assert capsys.readouterr().err == ""
    with pytest.raises(ValueError):
        Progress("work", "fancy")


def test_bar_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    term = FakeTerminal()
    monkeypatch.setattr("sys.stderr", term)
    with Progress("work", progress_mode()) as p:
        for i in range(1, 6):
            p(i, 5)
        p.write("a line of its own")
    out = term.getvalue()
    assert "\r" in out and "a line of its own\n" in out and "work" in out


def test_train_progress_callback_lines(capsys: pytest.CaptureFixture) -> None:
    class T:  # what the callback reads of a Trainer
        train_cfg = type("C", (), {"epochs": 3})()
        steps_per_epoch = 4

    cb = TrainProgress("lines")
    for step in range(1, 5):
        cb.on_step(T(), {"epoch": 1, "step": step, "loss": 1.0, "kl": 0.5})
    cb.on_epoch_end(T(), {"epoch": 1, "train_loss": 2.5, "test_loss": 3.25, "seconds": 1.0})
    cb.on_train_end(T(), {})
    assert capsys.readouterr().err == "epoch 1/3: train loss 2.50, test -ELBO 3.25 (1.0s)\n"


def test_evaluate_on_a_terminal_draws_a_bar(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    term = FakeTerminal()
    monkeypatch.setattr("sys.stderr", term)
    assert main(["evaluate", "--checkpoint", "mnist-mlp-2d", "--limit", "200",
                 "--is-samples", "2", "--class-consistency"]) == 0
    out = term.getvalue()
    assert "IS-NLL" in out and "class consistency" in out and "\r" in out
    monkeypatch.setattr("sys.stderr", term := FakeTerminal())
    assert main(["evaluate", "--checkpoint", "mnist-mlp-2d", "--limit", "200",
                 "--is-samples", "2", "--json"]) == 0
    assert term.getvalue() == ""


# --- the missing-data hint -----------------------------------------------------------------
@pytest.mark.parametrize("command", [
    ["evaluate", "--checkpoint", "mnist-mlp-2d"],
    ["train-classifier"],
], ids=["evaluate", "train-classifier"])
def test_missing_data_hint_offers_only_accepted_flags(command: list[str], tmp_path: Path,
                                                      capsys: pytest.CaptureFixture) -> None:
    """Bug 7: evaluate's missing-data error said "pass --download", which it does not take."""
    code = main([*command, "--data-dir", str(tmp_path / "nowhere")])
    err = capsys.readouterr().err
    assert code == 2 and len(err.splitlines()) == 1, err
    assert "not found" in err and "--data-dir" in err
    assert "--download" not in err


def test_train_still_offers_download(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code = main(["train", "--data-dir", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and "--download" in err and "--data-dir" in err
