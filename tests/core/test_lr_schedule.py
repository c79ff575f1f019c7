"""The learning-rate schedules and the precision 'auto' of the Trainer (the fast defaults)."""

from __future__ import annotations

import math

import pytest
import torch

from vae_core import Callback, ModelConfig, TrainConfig, Trainer
from vae_core.config import RESUMABLE
from vae_core.errors import ConfigError
from vae_core.train import ONECYCLE_RISE, ONECYCLE_START, resolve_precision, schedule_factor

pytestmark = pytest.mark.usefixtures("one_torch_thread")

MCFG = ModelConfig(hidden=[32], latent_dim=2)


class Rates(Callback):
    def __init__(self) -> None:
        self.lrs: list[float] = []

    def on_step(self, trainer, info) -> None:
        self.lrs.append(info["lr"])
        assert trainer.optimizer.param_groups[0]["lr"] == info["lr"]  # the one it stepped with


def test_schedule_factor_shapes() -> None:
    assert schedule_factor("constant", 0.7) == 1.0
    assert schedule_factor("cosine", 0.0) == 1.0
    assert schedule_factor("cosine", 0.5) == pytest.approx(0.5)
    assert schedule_factor("cosine", 1.0) == pytest.approx(0.0)
    assert schedule_factor("onecycle", 0.0) == pytest.approx(ONECYCLE_START)
    assert schedule_factor("onecycle", ONECYCLE_RISE) == pytest.approx(1.0)
    mid = ONECYCLE_RISE + (1 - ONECYCLE_RISE) / 2
    assert schedule_factor("onecycle", mid) == pytest.approx(0.5)
    assert schedule_factor("onecycle", 1.0) == pytest.approx(0.0)


def test_trainer_follows_onecycle_step_by_step(subset, mnist_train) -> None:
    rates = Rates()
    cfg = TrainConfig(epochs=2, batch_size=50, lr=4e-3, lr_schedule="onecycle", device="cpu")
    Trainer(MCFG, cfg, subset(mnist_train, 500), callbacks=[rates]).run()
    lrs = rates.lrs
    assert len(lrs) == 20
    peak = max(range(len(lrs)), key=lrs.__getitem__)
    assert peak == 5  # the end of the rise: a quarter of 20 steps
    assert lrs[0] == pytest.approx(4e-3 / 25) and lrs[peak] == pytest.approx(4e-3)
    assert all(a < b for a, b in zip(lrs[:peak], lrs[1:peak + 1], strict=True))
    assert all(a > b for a, b in zip(lrs[peak:], lrs[peak + 1:], strict=False))
    assert lrs[-1] < 4e-3 * 0.02


def test_constant_schedule_keeps_the_per_epoch_decay(subset, mnist_train) -> None:
    rates = Rates()
    cfg = TrainConfig(epochs=3, batch_size=100, lr=1e-3, lr_decay=0.5, lr_schedule="constant",
                      device="cpu")
    Trainer(MCFG, cfg, subset(mnist_train, 200), callbacks=[rates]).run()
    assert rates.lrs == pytest.approx([1e-3, 1e-3, 5e-4, 5e-4, 2.5e-4, 2.5e-4])


def test_bad_schedule_and_old_configs() -> None:
    with pytest.raises(ConfigError, match="lr_schedule must be one of"):
        TrainConfig(lr_schedule="linear")
    # A config.json written before the field existed was trained at a constant rate.
    assert TrainConfig.from_dict({"epochs": 3}).lr_schedule == "constant"
    assert "lr_schedule" in RESUMABLE and "precision" in RESUMABLE


def test_precision_auto() -> None:
    assert resolve_precision("fp32", torch.device("cpu")) == "fp32"
    assert resolve_precision("bf16", torch.device("cpu")) == "bf16"
    native = torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported()
    assert resolve_precision("auto", torch.device("cpu")) == ("bf16" if native else "fp32")
    assert TrainConfig().precision == "auto"


def test_defaults_are_the_fast_recipe(subset, mnist_train, mnist_test) -> None:
    """The defaults train without diverging and record what 'auto' came to."""
    d = TrainConfig()
    assert (d.batch_size, d.lr, d.lr_schedule, d.epochs) == (512, 1e-2, "onecycle", 15)
    tr = Trainer(MCFG, TrainConfig(epochs=3, device="cpu"), subset(mnist_train, 4096),
                 subset(mnist_test, 500))
    m = tr.run()
    losses = [h["test_loss"] for h in m["history"]]
    assert all(map(math.isfinite, losses)) and losses[0] > losses[1] > losses[2]
    assert tr.run_info["precision"] in ("fp32", "bf16")
