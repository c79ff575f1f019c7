"""Training failures keep the last good checkpoint: divergence, stop(), and SIGKILL."""

from __future__ import annotations

import hashlib
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from vae_core import (
    Callback,
    ModelConfig,
    TrainConfig,
    Trainer,
    TrainingDiverged,
    load_checkpoint,
    load_split,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

MCFG = ModelConfig(hidden=[64], latent_dim=4)


def tcfg(**kw) -> TrainConfig:
    # A constant rate: the tests set the optimizer's rate from a callback, which a schedule
    # would override at the next step; fp32, whose huge weights stay finite where bf16's would
    # not (the tests tell a NaN in the weights from one in the loss).
    return TrainConfig(**{"epochs": 3, "batch_size": 50, "device": "cpu", "seed": 1,
                          "lr_schedule": "constant", "precision": "fp32", **kw})


def digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.iterdir()) if p.is_file()}


class AtStep(Callback):
    """Run `action(trainer)` once, after optimizer step `step` of epoch `epoch`."""

    def __init__(self, epoch: int, step: int, action) -> None:
        self.epoch, self.step, self.action = epoch, step, action
        self.saved_epochs: list[int] = []
        self.snapshots: dict[int, dict[str, torch.Tensor]] = {}

    def on_step(self, trainer: Trainer, info: dict[str, float]) -> None:
        if info["epoch"] == self.epoch and info["step"] == self.step:
            self.action(trainer)

    def on_epoch_end(self, trainer: Trainer, info) -> None:
        self.saved_epochs.append(info["epoch"])
        self.snapshots[info["epoch"]] = {k: v.clone() for k, v in
                                         trainer.model.state_dict().items()}


def set_lr(lr: float):
    def action(trainer: Trainer) -> None:
        for g in trainer.optimizer.param_groups:
            g["lr"] = lr
    return action


def test_diverging_from_the_start(tmp_path: Path, mnist_train, subset) -> None:
    cfg = tcfg(optimizer="sgd", lr=10.0, beta=1000.0)
    out = tmp_path / "ck"
    with pytest.raises(TrainingDiverged) as ei:
        Trainer(MCFG, cfg, subset(mnist_train, 500), out_dir=out).run()
    msg = str(ei.value)
    assert "loss became" in msg and "epoch 1" in msg and "learning rate" in msg
    assert "\n" not in msg
    assert not (out / "model.safetensors").exists()  # nothing was saved from a bad epoch


@pytest.mark.parametrize("where", ["mid-epoch", "last-step"])
def test_divergence_keeps_previous_checkpoint(tmp_path: Path, mnist_train, mnist_test, subset,
                                              where: str) -> None:
    """Epoch 1 is saved; in epoch 2 the learning rate explodes. Whether the NaN shows up in a
    later step's loss (mid-epoch) or only in the weights after the epoch's last step, the
    epoch-1 checkpoint must stay byte-for-byte unchanged and loadable."""
    data = subset(mnist_train, 500)  # 10 steps per epoch
    step = 3 if where == "mid-epoch" else 9  # the blow-up happens in the step after this one
    cb = AtStep(2, step, set_lr(1e38))
    out = tmp_path / "ck"
    trainer = Trainer(MCFG, tcfg(), data, subset(mnist_test, 200), out_dir=out, callbacks=[cb])
    before: dict[str, str] = {}
    cb_save = AtStep(2, 1, lambda t: before.update(digest(out)))
    trainer.callbacks.append(cb_save)
    with pytest.raises(TrainingDiverged, match="epoch 2") as ei:
        trainer.run()
    msg = str(ei.value)
    assert "\n" not in msg and "last complete epoch (1) is kept" in msg
    if where == "mid-epoch":  # the next step's loss is NaN
        assert "loss became nan" in msg and "step 5" in msg
    else:  # every loss was finite; only the weights left by the last step are not
        assert "weights became NaN or infinite" in msg
    # The scenario really happened: the in-memory weights are no longer finite.
    assert not all(torch.isfinite(p).all() for p in trainer.model.parameters())
    assert before and digest(out) == before
    ck = load_checkpoint(out)
    assert ck.metrics["epochs"] == 1 and len(ck.metrics["history"]) == 1
    assert math.isfinite(ck.metrics["test_neg_elbo"])
    sd = ck.model.state_dict()
    assert all(torch.equal(sd[k], cb.snapshots[1][k]) for k in sd)
    assert cb.saved_epochs == [1]


def test_huge_beta_diverges_cleanly(tmp_path: Path, mnist_train, subset) -> None:
    cfg = tcfg(optimizer="sgd", lr=10.0, beta=1000.0, epochs=1)
    with pytest.raises(TrainingDiverged, match="Try a lower learning rate"):
        Trainer(MCFG, cfg, subset(mnist_train, 300)).run()


def test_stop_mid_epoch_keeps_last_complete_epoch(tmp_path: Path, mnist_train, mnist_test,
                                                  subset) -> None:
    out = tmp_path / "ck"
    cb = AtStep(2, 4, lambda t: t.stop())
    trainer = Trainer(MCFG, tcfg(), subset(mnist_train, 500), subset(mnist_test, 200),
                      out_dir=out, callbacks=[cb])
    metrics = trainer.run()
    assert trainer.stopped
    assert metrics["epochs"] == 1 and [h["epoch"] for h in metrics["history"]] == [1]
    assert cb.saved_epochs == [1]
    ck = load_checkpoint(out)
    assert ck.metrics["epochs"] == 1
    with safe_open(str(out / "model.safetensors"), "pt") as f:
        assert f.metadata()["epochs"] == "1"
    sd = ck.model.state_dict()
    assert all(torch.equal(sd[k], cb.snapshots[1][k]) for k in sd)
    # The partial epoch 2 did change the in-memory model, so the check above can fail.
    live = trainer.model.state_dict()
    assert not all(torch.equal(live[k], cb.snapshots[1][k]) for k in live)


def test_stop_at_epoch_end_keeps_that_epoch(tmp_path: Path, mnist_train, subset) -> None:
    class StopAfterFirst(Callback):
        def on_epoch_end(self, trainer, info):
            trainer.stop()

    out = tmp_path / "ck"
    m = Trainer(MCFG, tcfg(), subset(mnist_train, 200), out_dir=out,
                callbacks=[StopAfterFirst()]).run()
    assert m["epochs"] == 1 and load_checkpoint(out).metrics["epochs"] == 1


def test_stop_from_another_thread(tmp_path: Path, mnist_train, subset) -> None:
    import threading

    out = tmp_path / "ck"
    saved = threading.Event()

    class Signal(Callback):
        def on_epoch_end(self, trainer, info):
            saved.set()

    trainer = Trainer(MCFG, tcfg(epochs=10_000), subset(mnist_train, 200), out_dir=out,
                      callbacks=[Signal()])
    result: dict = {}
    th = threading.Thread(target=lambda: result.update(trainer.run()))
    th.start()
    try:
        assert saved.wait(60), "no epoch finished"
        time.sleep(0.05)
    finally:
        trainer.stop()
        th.join(60)
    assert not th.is_alive()
    assert 1 <= result["epochs"] < 10_000
    ck = load_checkpoint(out)
    assert ck.metrics["epochs"] == len(ck.metrics["history"]) == result["epochs"]


@pytest.mark.slow
def test_sigkill_mid_epoch_leaves_consistent_checkpoint(tmp_path: Path, mnist_dir: Path,
                                                        repo_root: Path) -> None:
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "vae_core", "train", "--data-dir", str(mnist_dir),
           "--limit", "6000", "--epochs", "50", "--hidden", "256", "128", "--latent-dim", "4",
           "--batch-size", "32", "--device", "cpu", "--out", str(out)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, cwd=repo_root, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        metrics_file = out / "metrics.json"
        deadline = time.monotonic() + 240
        epochs = 0
        while time.monotonic() < deadline and proc.poll() is None:
            if metrics_file.exists():
                try:
                    epochs = json.loads(metrics_file.read_text())["epochs"]
                except (json.JSONDecodeError, KeyError, OSError):
                    epochs = 0  # metrics.json is replaced atomically, so this should not occur
                if epochs >= 1:
                    break
            time.sleep(0.05)
        assert epochs >= 1, "no epoch completed in time"
        m = json.loads(metrics_file.read_text())
        epoch_s = m["history"][-1]["seconds"] / len(m["history"])
        time.sleep(max(0.2, epoch_s / 2))  # about half-way through the next epoch
        assert proc.poll() is None, "training ended before it could be killed"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(30)
    assert proc.returncode == -signal.SIGKILL
    ck = load_checkpoint(out)
    with safe_open(str(out / "model.safetensors"), "pt") as f:
        weights_epochs = int(f.metadata()["epochs"])
    with safe_open(str(out / "optimizer.safetensors"), "pt") as f:
        optim_epochs = int(f.metadata()["epochs"])
    assert ck.metrics["epochs"] >= 1
    assert ck.metrics["epochs"] == weights_epochs == optim_epochs == len(ck.metrics["history"])
    # And it resumes: one more epoch from the killed folder, on the same data (a resume
    # that changes the data is refused).
    resumed = Trainer(ck.model_config, TrainConfig.from_dict(
        {**ck.train_config.to_dict(), "epochs": ck.metrics["epochs"] + 1}),
        load_split("mnist", True, mnist_dir, limit=6000),
        out_dir=out, resume=out)
    assert resumed.run()["epochs"] == weights_epochs + 1
