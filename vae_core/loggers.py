"""Training logs where researchers look: a CSV file and TensorBoard, as Trainer callbacks.

    trainer = Trainer(..., callbacks=make_loggers("runs/mlp-2d"))
    # runs/mlp-2d/metrics.csv and runs/mlp-2d/events.out.tfevents.*  (tensorboard --logdir runs)

A logger is never worth a training run: the first time one cannot write (a full disk, a folder
that is a file, a removed directory) it prints one warning line on stderr, switches itself off
and training goes on. Both loggers append: resuming a run into the same folder continues its
CSV (the header is written once) and adds an event file that TensorBoard merges.
"""

from __future__ import annotations

import csv
import json
import sys
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import torch

from .errors import ConfigError
from .metrics import latent_stats
from .train import Callback, Trainer

CSV_NAME = "metrics.csv"
CSV_COLUMNS = ("epoch", "train_loss", "train_recon", "train_kl", "test_loss", "test_recon",
               "test_kl", "lr", "beta", "seconds")
N_RECON = 16  # test digits shown (with their reconstructions) in TensorBoard's image grid


class _SafeLogger(Callback):
    """Runs each hook's body through `_guard`: the first failure disables the logger with one
    warning line; training never sees the exception."""

    name = "logger"

    def __init__(self, log_dir: str | Path) -> None:
        self.log_dir = Path(log_dir)
        self.enabled = True
        self._lr = self._beta = float("nan")  # of the epoch's last step (set by on_step)

    def _guard(self, fn: Any, *args: Any) -> None:
        if not self.enabled:
            return
        try:
            fn(*args)
        except Exception as e:  # any failure to log: see the module docstring
            self.enabled = False
            reason = " ".join(str(e).split())[:300]  # one line, whatever the error says
            print(f"warning: {self.name} log in {self.log_dir} stopped ({type(e).__name__}: "
                  f"{reason}); training goes on", file=sys.stderr)
            self._close_quietly()

    def _close_quietly(self) -> None: ...

    def _note_step(self, trainer: Trainer, info: dict[str, float]) -> None:
        # The lr and beta this epoch really used: on_epoch_end comes after the lr decay.
        self._lr = float(trainer.optimizer.param_groups[0]["lr"])
        self._beta = float(info["beta"])


class CSVLogger(_SafeLogger):
    """One row per epoch in `log_dir/metrics.csv` (columns CSV_COLUMNS; test_* empty without a
    test set). Floats are written at full precision, so they read back equal to the history."""

    name = "CSV"

    @property
    def path(self) -> Path:
        return self.log_dir / CSV_NAME

    def on_train_start(self, trainer: Trainer) -> None:
        self._guard(self._start)

    def on_step(self, trainer: Trainer, info: dict[str, float]) -> None:
        if self.enabled:
            self._note_step(trainer, info)

    def on_epoch_end(self, trainer: Trainer, info: dict[str, Any]) -> None:
        self._guard(self._write_row, info)

    def _start(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        if self.path.exists() and self.path.stat().st_size:
            with open(self.path, newline="", encoding="utf-8") as f:
                header = next(csv.reader(f), [])
            if tuple(header) != CSV_COLUMNS:  # someone else's file: never append to it
                raise ValueError(f"{self.path} exists with other columns")
        else:
            with open(self.path, "w", newline="", encoding="utf-8") as f:
                csv.writer(f).writerow(CSV_COLUMNS)

    def _write_row(self, info: dict[str, Any]) -> None:
        row = {**info, "lr": self._lr, "beta": self._beta}
        # Opened per row: each epoch is on disk at once, even if training dies later.
        with open(self.path, "a", newline="", encoding="utf-8") as f:
            csv.writer(f).writerow([row.get(c, "") for c in CSV_COLUMNS])


class TensorBoardLogger(_SafeLogger):
    """TensorBoard's own event files in `log_dir`: per-step loss/recon/kl (`step/...`),
    per-epoch train and test losses, lr and beta (`epoch/...`), the test set's KL per latent
    dimension (`kl_per_dim/z0`, ...) and active units, the run's config (text) and a grid of
    test digits over their reconstructions (`reconstructions`) after every epoch."""

    name = "TensorBoard"

    def __init__(self, log_dir: str | Path) -> None:
        if find_spec("tensorboard") is None:  # say so before training, not after an epoch
            raise ConfigError("TensorBoard logging needs the tensorboard package: "
                              "pip install tensorboard")
        super().__init__(log_dir)
        self.writer: Any = None

    def on_train_start(self, trainer: Trainer) -> None:
        self._guard(self._start, trainer)

    def on_step(self, trainer: Trainer, info: dict[str, float]) -> None:
        self._guard(self._step, trainer, info)

    def on_epoch_end(self, trainer: Trainer, info: dict[str, Any]) -> None:
        self._guard(self._epoch, trainer, info)

    def on_train_end(self, trainer: Trainer, metrics: dict[str, Any]) -> None:
        self._guard(self._close)

    def _start(self, trainer: Trainer) -> None:
        # Deferred: TensorBoard's writer takes over a second to import; most runs log nothing.
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(str(self.log_dir))
        config = {"model": trainer.model_cfg.to_dict(), "train": trainer.train_cfg.to_dict(),
                  "train_images": len(trainer.x_train), "start_epoch": trainer.start_epoch}
        # Indented 4 spaces: TensorBoard renders text as Markdown, this makes it a code block.
        text = "\n".join("    " + line for line in json.dumps(config, indent=2).splitlines())
        self.writer.add_text("config", text, trainer.start_epoch)

    def _step(self, trainer: Trainer, info: dict[str, float]) -> None:
        self._note_step(trainer, info)
        step = int(info["global_step"])
        for key in ("loss", "recon", "kl"):
            self.writer.add_scalar(f"step/{key}", info[key], step)

    def _epoch(self, trainer: Trainer, info: dict[str, Any]) -> None:
        w, epoch = self.writer, int(info["epoch"])
        for key, value in info.items():
            if key != "epoch":
                w.add_scalar(f"epoch/{key}", value, epoch)
        w.add_scalar("epoch/lr", self._lr, epoch)
        w.add_scalar("epoch/beta", self._beta, epoch)
        if trainer.x_test is not None:
            model, was_training = trainer.model, trainer.model.training
            try:
                stats = latent_stats(model, trainer.x_test, y=trainer.y_test)
                for j, kl in enumerate(stats["kl_per_dim"]):
                    w.add_scalar(f"kl_per_dim/z{j}", kl, epoch)
                w.add_scalar("epoch/active_units", stats["active_units"], epoch)
                w.add_image("reconstructions", recon_grid(trainer), epoch)
            finally:
                model.train(was_training)  # latent_stats leaves the model in eval mode
        w.flush()  # an epoch is on disk even if training dies before on_train_end

    def _close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def _close_quietly(self) -> None:
        try:
            self._close()
        except Exception:  # already warned once; the writer may be what failed
            self.writer = None


@torch.no_grad()
def recon_grid(trainer: Trainer, n: int = N_RECON) -> torch.Tensor:
    """[3, H, W] image: the first n test digits (top row) over their reconstructions from the
    posterior mean (bottom row), under their labels for a conditional model."""
    from torchvision.utils import make_grid  # torchvision is heavy; only TensorBoard needs it

    model = trainer.model.eval()
    dev = next(model.parameters()).device
    x = trainer.x_test[:n].to(dev)
    y = None if trainer.y_test is None else trainer.y_test[:n].to(dev)
    rec = model.reconstruct(x, y).float()
    return make_grid(torch.cat([x.float(), rec]).cpu(), nrow=len(x), padding=2, pad_value=0.5)


def make_loggers(log_dir: str | Path) -> list[Callback]:
    """Both loggers writing into `log_dir`: [CSVLogger, TensorBoardLogger]."""
    return [CSVLogger(log_dir), TensorBoardLogger(log_dir)]
