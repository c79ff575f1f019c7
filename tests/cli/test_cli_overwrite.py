"""Nothing is overwritten without --force: every command that writes refuses a file or folder
in the way before any work starts (one line, exit 2), and the bundled models are never a
default destination. Also: image formats by extension, and the wiring of --checkpoint names,
`export`, `app` and `train --log-dir` to their modules.

In-process through `main` (no torch import to pay per command); the trainings are tiny.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import vae_core.cli_commands as cli_commands
from vae_core import load_checkpoint
from cli_helpers import TINY, refused, run
from vae_core.__main__ import main
from vae_core.classifier import DEFAULT_DIR as BUNDLED_CLASSIFIER
from vae_core.classifier import SPEC, WEIGHTS

REPO_ROOT = Path(__file__).resolve().parents[2]
BUNDLED = REPO_ROOT / "checkpoints" / "mnist-mlp-2d"
pytestmark = pytest.mark.usefixtures("one_torch_thread")




def digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory, mnist_dir: Path) -> Path:
    out = tmp_path_factory.mktemp("overwrite") / "tiny"
    assert main(["train", "--data-dir", str(mnist_dir), *TINY, "--out", str(out)]) == 0
    return out


# --- train --out ---------------------------------------------------------------------------
def test_train_refuses_an_existing_file_before_loading_data(tmp_path: Path, capsys) -> None:
    """Bug 4: `--out some.png` trained a whole epoch, then crashed with a traceback."""
    f = tmp_path / "some.png"
    f.write_bytes(b"not mine to replace")
    # No data where --data-dir points: an error about the file proves it came first.
    refused(run(["train", "--data-dir", tmp_path / "nowhere", "--out", f, "--epochs", 1],
                capsys), "some.png", "existing file")
    assert f.read_bytes() == b"not mine to replace"


@pytest.mark.parametrize("which", ["user", "bundled"])
def test_train_refuses_an_existing_checkpoint(which: str, tiny: Path, tmp_path: Path,
                                              capsys) -> None:
    """Bug 5: `train --out <existing checkpoint>` (bundled ones too) overwrote it silently."""
    target = tiny if which == "user" else BUNDLED
    before = digest(target)
    refused(run(["train", "--data-dir", tmp_path / "nowhere", *TINY, "--out", target], capsys),
            str(target), "--force")
    assert digest(target) == before


def test_train_force_and_log_dir(tmp_path: Path, mnist_dir: Path, capsys) -> None:
    """--force writes into a non-empty folder; --log-dir reaches the loggers (CSV written)."""
    out = tmp_path / "busy"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    refused(run(["train", "--data-dir", mnist_dir, *TINY, "--out", out], capsys), "--force")
    logs = tmp_path / "logs"
    code, stdout, err = run(["train", "--data-dir", mnist_dir, *TINY, "--out", out, "--force",
                             "--log-dir", logs], capsys)
    assert code == 0, err
    assert f"saved {out}" in stdout and load_checkpoint(out).metrics["epochs"] == 1
    assert (out / "notes.txt").read_text() == "mine"
    csvs = list(logs.glob("*.csv"))
    assert csvs and "epoch" in csvs[0].read_text().splitlines()[0]


# --- train-classifier ----------------------------------------------------------------------
def test_train_classifier_default_is_a_new_user_folder(tmp_path: Path, mnist_dir: Path,
                                                       monkeypatch, capsys) -> None:
    """Bug 1: `train-classifier --epochs 1 --limit 500` wrote over the bundled classifier."""
    monkeypatch.setenv("VAE_USER_MODELS_DIR", str(tmp_path / "models"))
    bundled = digest(BUNDLED_CLASSIFIER)
    code, out, err = run(["train-classifier", "--data-dir", mnist_dir, "--epochs", 1,
                          "--limit", 128, "--batch-size", 64], capsys)
    assert code == 0, err
    made = list((tmp_path / "models").iterdir())
    assert len(made) == 1 and made[0].name.startswith("digit-classifier-")
    assert sorted(p.name for p in made[0].iterdir()) == sorted([SPEC, WEIGHTS])
    assert f"saved {made[0]}" in out
    assert digest(BUNDLED_CLASSIFIER) == bundled


def test_train_classifier_refuses_existing_out_before_training(tmp_path: Path, capsys) -> None:
    before = digest(BUNDLED_CLASSIFIER)
    refused(run(["train-classifier", "--data-dir", tmp_path / "nowhere", "--out",
                 BUNDLED_CLASSIFIER], capsys), "--force")
    assert digest(BUNDLED_CLASSIFIER) == before


def test_new_classifier_dir_never_reuses_a_folder(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("VAE_USER_MODELS_DIR", str(tmp_path))
    first = cli_commands.new_classifier_dir()
    first.mkdir()
    second = cli_commands.new_classifier_dir()
    assert second != first and not second.exists() and second.parent == tmp_path


# --- sample / reconstruct: files -----------------------------------------------------------
MAGIC = {".png": b"\x89PNG\r\n\x1a\n", ".jpg": b"\xff\xd8\xff", ".jpeg": b"\xff\xd8\xff",
         ".webp": b"RIFF", ".npy": b"\x93NUMPY"}


@pytest.mark.parametrize("suffix", sorted(MAGIC))
def test_sample_writes_the_format_its_name_says(suffix: str, tmp_path: Path, capsys) -> None:
    """`sample --out x.jpg` used to write PNG bytes."""
    f = tmp_path / f"x{suffix}"
    code, _, err = run(["sample", "--checkpoint", "mnist-mlp-2d", "--n", 4, "--out", f],
                       capsys)
    assert code == 0, err
    data = f.read_bytes()
    assert data.startswith(MAGIC[suffix])
    if suffix == ".webp":
        assert data[8:12] == b"WEBP"
    if suffix == ".npy":
        assert np.load(f).shape == (4, 28, 28)
    else:
        assert Image.open(f).size == (2 * (2 * 30 + 2),) * 2


def test_unknown_suffix_refused_before_loading(tmp_path: Path, capsys) -> None:
    refused(run(["sample", "--checkpoint", tmp_path / "missing", "--out", tmp_path / "x.gif"],
                capsys), ".png", ".npy", "x.gif")
    refused(run(["reconstruct", "--checkpoint", "mnist-mlp-2d", "--image", "none.png", "--out",
                 tmp_path / "x.npy"], capsys), ".png")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("command", ["sample", "reconstruct"])
def test_existing_output_file_needs_force(command: str, tmp_path: Path, mnist_test,
                                          capsys) -> None:
    img = tmp_path / "digit.png"
    Image.fromarray(255 - mnist_test.images[0, 0].numpy()).resize((84, 84)).save(img)
    out = tmp_path / "out.png"
    out.write_bytes(b"keep me")
    args = ["--image", img] if command == "reconstruct" else []
    base = [command, "--checkpoint", "mnist-mlp-2d", *args, "--out", out, "--scale", 1]
    refused(run(base, capsys), "out.png", "--force")
    assert out.read_bytes() == b"keep me"
    code, stdout, err = run([*base, "--force"], capsys)
    assert code == 0 and f"wrote {out}" in stdout, err
    assert out.read_bytes().startswith(MAGIC[".png"])


# --- wiring: --checkpoint names, export, app -----------------------------------------------
def test_bundled_name_works_from_any_folder(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = run(["info", "--checkpoint", "mnist-mlp-2d", "--json"], capsys)
    assert code == 0 and '"latent_dim": 2' in out, err
    refused(run(["info", "--checkpoint", "no-such-model"], capsys), "not found")


def test_export_refuses_existing_folder_before_loading(tmp_path: Path, capsys) -> None:
    busy = tmp_path / "onnx"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine")
    refused(run(["export", "--checkpoint", tmp_path / "missing", "--onnx", busy], capsys),
            "--force")
    assert [p.name for p in busy.iterdir()] == ["keep.txt"]


def test_export_reaches_export_onnx(tmp_path: Path, monkeypatch, capsys) -> None:
    seen = {}

    def fake(ck, out_dir, *, force=False):
        seen.update(ck=ck, out=out_dir, force=force)
        return [Path(out_dir) / "encoder.onnx"]

    monkeypatch.setattr(cli_commands, "export_onnx", fake)
    code, out, err = run(["export", "--checkpoint", "mnist-mlp-2d", "--onnx", tmp_path / "o",
                          "--force"], capsys)
    assert code == 0, err
    assert seen["ck"].path.resolve() == BUNDLED.resolve() and seen["force"] is True
    assert Path(seen["out"]) == tmp_path / "o" and "encoder.onnx" in out


def test_app_passes_its_arguments_to_launch_app(monkeypatch, capsys) -> None:
    calls = []
    monkeypatch.setattr(cli_commands, "launch_app", lambda args: calls.append(args) or 3)
    assert main(["app", "--server.port", "8502", "--server.headless=true"]) == 3
    assert calls == [["--server.port", "8502", "--server.headless=true"]]
    assert main(["app"]) == 3 and calls[-1] == []


def test_evaluate_save_refused_before_importance_sampling(tmp_path: Path, monkeypatch,
                                                          capsys) -> None:
    """An impossible --save is refused before a long IS run, not after it."""
    def never(*a, **k):
        raise AssertionError("importance sampling ran before --save was checked")

    monkeypatch.setattr(cli_commands, "importance_sampled_nll", never)
    ck = tmp_path / "ck"
    shutil.copytree(BUNDLED, ck)
    before = digest(ck)
    refused(run(["evaluate", "--checkpoint", ck, "--save", "--limit", 10, "--is-samples", 2],
                capsys), "--save needs")
    assert digest(ck) == before
