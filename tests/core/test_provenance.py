"""A checkpoint records what really happened, is never written over unasked, and resumes only
what may change on resume.

One small run (a full 60,000-image MNIST split with `limit=1000`, one epoch of a tiny MLP) is
shared by the assertions on what it recorded; tests that change a checkpoint work on a copy.
"""

from __future__ import annotations

import json
import platform
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import torch
import torchvision

from vae_core import (Callback, CheckpointError, ConfigError, ModelConfig, ReplayRecorder,
                      TrainConfig, Trainer, load_checkpoint, load_split, provenance)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

MCFG = ModelConfig(hidden=[16], latent_dim=2)
TCFG = TrainConfig(epochs=1, batch_size=100, device="cpu", seed=1, limit=1000,
                   lr_schedule="constant")


@pytest.fixture(scope="module")
def full_train(mnist_dir: Path):
    """All 60,000 MNIST training images, as a user loads them."""
    split = load_split("mnist", True, mnist_dir)
    assert len(split) == 60_000
    return split


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, full_train, mnist_test):
    """(trainer, folder) of one epoch with TrainConfig(limit=1000) on the full split."""
    out = tmp_path_factory.mktemp("prov") / "ck"
    trainer = Trainer(MCFG, TCFG, full_train, mnist_test, out_dir=out,
                      callbacks=[ReplayRecorder()])
    trainer.run()
    return trainer, out


def read(folder: Path, name: str) -> dict:
    return json.loads((folder / name).read_text())


def copy(folder: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "copy"
    shutil.copytree(folder, dst)
    return dst


# --- bug 2: the limit and the dataset come from the data really used ------------------------
def test_limit_trains_on_the_first_n_images_given(run, full_train) -> None:
    trainer, out = run
    assert full_train.dataset == "mnist"  # the loader says what it loaded
    assert len(trainer.x_train) == 1000 and len(trainer.train_data) == 1000
    assert torch.equal(trainer.train_data.images, full_train.images[:1000])
    assert trainer.steps_per_epoch == 10  # 1,000 images in batches of 100, not 600 batches
    assert read(out, "metrics.json")["train_images"] == 1000
    assert read(out, "config.json")["train_images"] == 1000


def test_config_never_disagrees_with_metrics(run) -> None:
    _, out = run
    cfg, m = read(out, "config.json"), read(out, "metrics.json")
    assert cfg["train"]["limit"] == 1000
    assert cfg["train_images"] == m["train_images"] == 1000
    assert cfg["dataset"] == cfg["train"]["dataset"] == m["dataset"] == "mnist"
    assert cfg["train"]["epochs"] == cfg["epochs_trained"] == m["epochs"] == 1


def test_fashion_split_with_default_config_is_recorded_as_fashion(tmp_path: Path) -> None:
    """The bundled Fashion-MNIST test set stands in for a Fashion training set."""
    fashion = load_split("fashion-mnist", False, limit=300)
    assert fashion.dataset == "fashion-mnist"
    cfg = TrainConfig(epochs=1, device="cpu")  # dataset left at its default, "mnist"
    out = tmp_path / "fashion"
    trainer = Trainer(MCFG, cfg, fashion, out_dir=out)
    assert trainer.train_cfg.dataset == "fashion-mnist"
    trainer.run()
    ck = load_checkpoint(out)
    assert ck.train_config.dataset == "fashion-mnist"
    assert ck.info["dataset"] == ck.metrics["dataset"] == "fashion-mnist"


def test_test_split_of_another_dataset_is_refused(mnist_test) -> None:
    fashion = load_split("fashion-mnist", False, limit=100)
    with pytest.raises(ConfigError, match="fashion-mnist.*mnist"):
        Trainer(MCFG, TCFG, fashion, mnist_test)


def test_split_without_dataset_keeps_the_config_dataset(mnist_train, subset) -> None:
    tr = Trainer(MCFG, TrainConfig(epochs=1, device="cpu", dataset="folder"),
                 subset(mnist_train, 50))
    assert tr.train_cfg.dataset == "folder" and len(tr.x_train) == 50


# --- provenance ------------------------------------------------------------------------------
def test_config_records_command_versions_commit_and_device(run, repo_root: Path) -> None:
    _, out = run
    cfg = read(out, "config.json")
    words = shlex.split(cfg["command"])
    # this process's own arguments (none under a bare `python -m pytest`, as in CI)
    assert words[len(words) - len(sys.argv) + 1:] == sys.argv[1:]
    assert "/" not in words[0]  # the program's name, not this machine's path to it
    pyproject = tomllib.loads((repo_root / "pyproject.toml").read_text())
    assert cfg["package_version"] == pyproject["project"]["version"]
    if (repo_root / ".git").exists():
        head = subprocess.run(["git", "-C", str(repo_root), "rev-parse", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
        assert cfg["git_commit"] in (head, f"{head}+dirty")
    else:  # a copy of the sources that is not a git checkout
        assert cfg["git_commit"] is None
    assert cfg["versions"] == {"torch": torch.__version__,
                               "torchvision": torchvision.__version__,
                               "python": platform.python_version()}
    assert cfg["device"] == "cpu"


def test_caller_names_the_command(mnist_train, subset, tmp_path: Path) -> None:
    out = tmp_path / "app"
    Trainer(MCFG, TrainConfig(epochs=1, device="cpu"), subset(mnist_train, 50), out_dir=out,
            command="Train page").run()
    assert read(out, "config.json")["command"] == "Train page"
    rec = provenance.run_record(dataset="mnist", train_images=5, device="cpu",
                                command=["/usr/lib/python3/x/vae_core/__main__.py", "train",
                                         "--out", "my model"])
    assert rec["command"] == "python -m vae_core train --out 'my model'"


def test_no_git_checkout_means_no_commit(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """An installed copy (no .git beside the package) and a missing git both give None."""
    monkeypatch.setattr(provenance, "CHECKOUT", tmp_path)
    provenance.git_commit.cache_clear()
    provenance.package_version.cache_clear()
    try:
        assert provenance.git_commit() is None
        assert isinstance(provenance.package_version(), str)  # metadata or "unknown"
        (tmp_path / ".git").mkdir()  # looks like a checkout, but git finds no repository
        provenance.git_commit.cache_clear()
        assert provenance.git_commit() is None
        monkeypatch.setenv("PATH", str(tmp_path))  # no git program at all
        provenance.git_commit.cache_clear()
        assert provenance.git_commit() is None
    finally:
        provenance.git_commit.cache_clear()
        provenance.package_version.cache_clear()


# --- never overwritten unasked ---------------------------------------------------------------
def test_existing_checkpoint_is_refused_before_any_work(run, full_train, mnist_test) -> None:
    _, out = run
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    started = []

    class Spy(Callback):
        def on_train_start(self, trainer) -> None:
            started.append(trainer)

    with pytest.raises(CheckpointError, match="already holds a model.*overwrite=True"):
        Trainer(MCFG, TCFG, full_train, mnist_test, out_dir=out, callbacks=[Spy()]).run()
    assert not started
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_existing_file_is_refused(tmp_path: Path, mnist_train, subset) -> None:
    f = tmp_path / "some.png"
    f.write_bytes(b"\x89PNG")
    for overwrite in (False, True):
        with pytest.raises(CheckpointError, match="existing file"):
            Trainer(MCFG, TrainConfig(epochs=1, device="cpu"), subset(mnist_train, 50),
                    out_dir=f, overwrite=overwrite)
    assert f.read_bytes() == b"\x89PNG"


def test_overwrite_replaces_the_model_and_drops_its_replay(run, tmp_path: Path, mnist_train,
                                                          subset) -> None:
    dst = copy(run[1], tmp_path)
    assert (dst / "replay.safetensors").is_file()
    # No test set: no replay of its own, so the old model's must not stay beside the new one.
    Trainer(MCFG, TrainConfig(epochs=1, device="cpu"), subset(mnist_train, 50), out_dir=dst,
            overwrite=True).run()
    assert read(dst, "metrics.json")["train_images"] == 50
    assert not (dst / "replay.safetensors").exists()


# --- resume ----------------------------------------------------------------------------------
def test_resume_applies_new_schedule_and_records_it(run, tmp_path: Path, full_train,
                                                    mnist_test) -> None:
    dst = copy(run[1], tmp_path)
    new = TrainConfig.from_dict({**TCFG.to_dict(), "epochs": 2, "lr": 3e-4, "batch_size": 50})
    tr = Trainer(MCFG, new, full_train, mnist_test, out_dir=dst, resume=dst)
    assert tr.optimizer_restored and tr.start_epoch == 1 and tr.steps_per_epoch == 20
    assert tr.optimizer.param_groups[0]["lr"] == pytest.approx(3e-4)
    tr.run()
    cfg, m = read(dst, "config.json"), read(dst, "metrics.json")
    assert (cfg["train"]["epochs"], cfg["train"]["lr"], cfg["train"]["batch_size"]) == \
        (2, 3e-4, 50)
    assert m["epochs"] == cfg["epochs_trained"] == 2 and m["train_images"] == 1000
    assert [r["epochs"] for r in cfg["earlier_runs"]] == [1]


def test_resume_refuses_changes_to_model_data_or_objective(run, full_train, mnist_test) -> None:
    out = run[1]
    changed = TrainConfig.from_dict({**TCFG.to_dict(), "beta": 2.0, "seed": 9})
    with pytest.raises(ConfigError, match=r"beta .*seed .*only epochs, lr, lr_decay, "
                                          r"lr_schedule, batch_size"):
        Trainer(MCFG, changed, full_train, mnist_test, out_dir=out, resume=out)
    with pytest.raises(ConfigError, match="limit"):
        Trainer(MCFG, TrainConfig.from_dict({**TCFG.to_dict(), "limit": 500}), full_train,
                mnist_test, out_dir=out, resume=out)


def test_resume_on_other_data_is_refused(run, mnist_train, subset, mnist_test) -> None:
    out = run[1]
    with pytest.raises(ConfigError, match="1,000 images, this data has 700"):
        Trainer(MCFG, TCFG, subset(mnist_train, 700), mnist_test, out_dir=out, resume=out)


def test_resume_without_optimizer_state_says_so(run, tmp_path: Path, full_train,
                                                mnist_test) -> None:
    dst = copy(run[1], tmp_path)
    (dst / "optimizer.safetensors").unlink()
    tr = Trainer(MCFG, TCFG, full_train, mnist_test, out_dir=dst, resume=dst)
    assert tr.optimizer_restored is False

