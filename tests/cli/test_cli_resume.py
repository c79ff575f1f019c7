"""`train --resume` applies only what may change on a resumed run and refuses the rest by name;
`train --config FILE` starts a new run from a file, flags overriding it.

In-process through `main`; each training is a tiny one (200 images, 16 hidden units).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from vae_core import load_checkpoint
from cli_helpers import TINY, refused, run
from vae_core.__main__ import main

REPO_ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.usefixtures("one_torch_thread")




def digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory, mnist_dir: Path) -> Path:
    """A 1-epoch checkpoint (with optimizer state); tests resume copies of it."""
    out = tmp_path_factory.mktemp("resume") / "base"
    assert main(["train", "--data-dir", str(mnist_dir), *TINY, "--out", str(out)]) == 0
    return out


@pytest.fixture
def copy(base: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "run"
    shutil.copytree(base, dst)
    return dst


@pytest.mark.parametrize(("flags", "named"), [
    (["--latent-dim", "8"], ["--latent-dim 8 (checkpoint: 2)"]),
    (["--hidden", "32"], ["--hidden 32 (checkpoint: 16)"]),
    (["--dataset", "fashion-mnist", "--beta", "4"], ["--dataset", "--beta"]),
    (["--limit", "100", "--conditional"], ["--limit", "--conditional"]),
], ids=["latent-dim", "hidden", "dataset-beta", "limit-conditional"])
def test_resume_refuses_model_and_data_flags(flags: list[str], named: list[str], copy: Path,
                                             tmp_path: Path, capsys) -> None:
    """Bug 3: `--resume DIR --latent-dim 8` was silently ignored. Refused by name, before any
    data is loaded (no data where --data-dir points), the checkpoint untouched."""
    before = digest(copy)
    err = refused(run(["train", "--resume", copy, "--data-dir", tmp_path / "nowhere",
                       "--epochs", 3, *flags], capsys), *named)
    assert "--epochs" not in err  # a resumable flag is never listed
    assert digest(copy) == before


def test_resume_applies_lr_epochs_and_batch_size(copy: Path, mnist_dir: Path, capsys) -> None:
    """Bug 3: `--lr 0.01` was ignored on resume (only --epochs counted). A flag repeated with
    the checkpoint's own value is fine."""
    code, out, err = run(["train", "--resume", copy, "--data-dir", mnist_dir, "--epochs", 2,
                          "--lr", 0.01, "--batch-size", 50, "--latent-dim", 2, "--hidden", 16],
                         capsys)
    assert code == 0, err
    ck = load_checkpoint(copy)
    t = ck.train_config
    assert (t.epochs, t.lr, t.batch_size, t.limit) == (2, 0.01, 50, 200)
    assert ck.metrics["epochs"] == 2 and "fresh optimizer" not in err


def test_resume_without_optimizer_state_says_so(copy: Path, mnist_dir: Path, capsys) -> None:
    (copy / "optimizer.safetensors").unlink()
    code, _, err = run(["train", "--resume", copy, "--data-dir", mnist_dir, "--epochs", 2],
                       capsys)
    assert code == 0, err
    notes = [ln for ln in err.splitlines() if ln.startswith("note:")]
    assert len(notes) == 1 and "fresh optimizer" in notes[0]


def test_resume_keeps_the_planned_epochs(copy: Path, tmp_path: Path, capsys) -> None:
    """Without --epochs a resume continues to the run's own total; nothing left is said."""
    refused(run(["train", "--resume", copy, "--data-dir", tmp_path / "nowhere"], capsys),
            "already has 1 epochs", "--epochs")


def test_resume_into_a_bundled_model_needs_out(tmp_path: Path, capsys) -> None:
    bundled = REPO_ROOT / "checkpoints" / "mnist-mlp-2d"
    before = digest(bundled)
    refused(run(["train", "--resume", "mnist-mlp-2d", "--epochs", 999, "--data-dir",
                 tmp_path / "nowhere"], capsys), "bundled", "--out")
    assert digest(bundled) == before


def test_resume_to_another_out_must_be_new(copy: Path, base: Path, tmp_path: Path,
                                           capsys) -> None:
    refused(run(["train", "--resume", copy, "--out", base, "--epochs", 2, "--data-dir",
                 tmp_path / "nowhere"], capsys), "--force")


# --- --config ------------------------------------------------------------------------------
def test_config_from_a_checkpoint_with_overrides(base: Path, tmp_path: Path, mnist_dir: Path,
                                                 capsys) -> None:
    out = tmp_path / "from-config"
    code, _, err = run(["train", "--config", base / "config.json", "--latent-dim", 3,
                        "--data-dir", mnist_dir, "--out", out], capsys)
    assert code == 0, err
    ck = load_checkpoint(out)
    assert ck.model_config.hidden == [16] and ck.model_config.latent_dim == 3
    assert ck.train_config.limit == 200 and ck.train_config.epochs == 1
    assert ck.metrics["epochs"] == 1  # a new run, not a continuation


def test_config_flat_file(tmp_path: Path, mnist_dir: Path, capsys) -> None:
    f = tmp_path / "run.json"
    f.write_text(json.dumps({"hidden": [8], "latent_dim": 2, "epochs": 1, "limit": 100,
                             "device": "cpu"}))
    code, _, err = run(["train", "--config", f, "--data-dir", mnist_dir, "--out",
                        tmp_path / "flat"], capsys)
    assert code == 0, err
    ck = load_checkpoint(tmp_path / "flat")
    assert ck.model_config.hidden == [8] and ck.train_config.limit == 100


@pytest.mark.parametrize(("text", "needle"), [
    ("{not json", "not a JSON run file"),
    ('{"hidden": [8], "colour": "red"}', "colour"),
    ('{"model": {"latent_dim": 0}}', "latent_dim"),
    ('[1, 2]', "JSON object"),
    (None, "no such file"),
], ids=["syntax", "unknown-field", "bad-value", "not-object", "missing"])
def test_bad_config_file_is_one_line(text: str | None, needle: str, tmp_path: Path,
                                     capsys) -> None:
    f = tmp_path / "run.json"
    if text is not None:
        f.write_text(text)
    refused(run(["train", "--config", f, "--out", tmp_path / "o"], capsys), "--config", needle)
    assert not (tmp_path / "o").exists()


def test_config_and_resume_together_refused(base: Path, tmp_path: Path, capsys) -> None:
    refused(run(["train", "--config", base / "config.json", "--resume", base, "--out",
                 tmp_path / "o"], capsys), "--config", "--resume")
