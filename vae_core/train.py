"""Training: a model-agnostic loop over one in-memory tensor, with callbacks and a stop flag.

Per epoch: shuffle indices with a generator seeded by (seed, epoch), so a run is deterministic
on CPU and a resumed run replays exactly the epochs it missed; optionally re-binarize
(dynamic); step; evaluate on the test set; write the checkpoint atomically.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch.nn.parallel import DistributedDataParallel

from .augment import augment_batch
from .checkpoint import REPLAY, OPTIM, check_output_dir, load_checkpoint, load_optimizer_state, \
    save_checkpoint
from .config import ModelConfig, TrainConfig, resume_config
from .data import Split, binarize
from .distributed import any_rank, epoch_indices, init_distributed, local_batch, mean_across, \
    shutdown
from .errors import CheckpointError, ConfigError, TrainingDiverged
from .metrics import EVAL_SEED, eval_targets, evaluate_elbo
from .model import VAE, build_model
from .provenance import data_used, earlier_runs, run_record


def resolve_device(name: str = "auto") -> torch.device:
    """'auto' picks the current accelerator (CUDA, MPS, ...) when present, else the CPU."""
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError("device 'cuda' was asked for but no CUDA GPU is available")
        return torch.device("cuda")
    acc = torch.accelerator.current_accelerator() if torch.accelerator.is_available() else None
    return acc or torch.device("cpu")


def resolve_precision(name: str, device: torch.device) -> str:
    """'auto' is bf16 where `device` computes it natively (a CPU with AMX or AVX512-BF16: 2x
    the fp32 images/s of the default model here, bench/README.md; a CUDA GPU with bf16), else
    fp32 (emulated bf16 is slower than fp32)."""
    if name != "auto":
        return name
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    if device.type == "cpu":
        cpu = torch.cpu
        native = (getattr(cpu, "_is_amx_tile_supported", lambda: False)()
                  or getattr(cpu, "_is_avx512_bf16_supported", lambda: False)())
        return "bf16" if native else "fp32"
    return "fp32"


def make_optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    params = model.parameters()
    # Fused kernels update all parameters in one pass: +18-20% images/s on this CPU (bench/).
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, fused=True)
    if cfg.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=cfg.lr)
    return torch.optim.SGD(params, lr=cfg.lr, momentum=0.0, fused=True)


class Callback:
    """Hooks the Trainer calls; override what you need. Runs on the training thread."""

    def on_train_start(self, trainer: Trainer) -> None: ...
    def on_step(self, trainer: Trainer, info: dict[str, float]) -> None: ...
    def on_epoch_end(self, trainer: Trainer, info: dict[str, Any]) -> None: ...
    def on_train_end(self, trainer: Trainer, metrics: dict[str, Any]) -> None: ...


@dataclass
class Trainer:
    """Train a VAE; `run()` returns the final metrics. Call `stop()` from any thread.

    The run is what the data says: `train_cfg.limit` keeps the first N images of
    `train_data`, and a split that knows its dataset (`Split.dataset`) sets
    `train_cfg.dataset`. `out_dir` must be new or empty unless `overwrite` or it is the
    `resume` folder (CheckpointError before any work). On resume only the config's
    `RESUMABLE` fields may differ from the checkpoint's (ConfigError naming the others).
    `command` is recorded in config.json (default: sys.argv; the app says "Train page").
    A training replay is recorded like any other callback: pass a `ReplayRecorder` (the CLI
    and the Train page do); a run over an old model without one drops that model's replay.
    """

    model_cfg: ModelConfig
    train_cfg: TrainConfig
    train_data: Split
    test_data: Split | None = None
    out_dir: str | Path | None = None
    callbacks: list[Callback] = field(default_factory=list)
    resume: str | Path | None = None
    extra_config: dict[str, Any] = field(default_factory=dict)
    overwrite: bool = False  # allow an out_dir that already holds a model or other files
    command: str | list[str] | None = None  # what started the run, for config.json

    def __post_init__(self) -> None:
        if self.out_dir is not None:  # before any work: never write over a model unasked
            try:
                check_output_dir(self.out_dir, force=self.overwrite, resume=self.resume)
            except CheckpointError as e:  # the library's word for the CLI's --force
                raise CheckpointError(str(e).replace("--force", "overwrite=True")) from None
        self.train_cfg, self.train_data = data_used(self.train_cfg, self.train_data,
                                                    self.test_data)
        if self.model_cfg.conditional:
            self.model_cfg = conditional_config(self.model_cfg, self.train_data, self.test_data)
        self._stop = threading.Event()
        self.device = resolve_device(self.train_cfg.device)
        self.dist = init_distributed(self.device)
        if self.dist.enabled and self.device.type == "cuda":
            self.device = torch.device("cuda", self.dist.local_rank)
        self.precision = resolve_precision(self.train_cfg.precision, self.device)
        if not self.dist.is_main:  # only rank 0 logs and writes checkpoints
            self.callbacks, self.out_dir = [], None
        torch.manual_seed(self.train_cfg.seed)
        self.history: list[dict[str, Any]] = []
        self.start_epoch = 0
        self.train_seconds = 0.0
        self.optimizer_restored = False  # True once a resume has loaded the optimizer state
        self.run_info = run_record(dataset=self.train_cfg.dataset,
                                   train_images=len(self.train_data), device=self.device,
                                   command=self.command)
        self.run_info["precision"] = self.precision  # what "auto" came to on this machine
        if self.resume:
            ck = load_checkpoint(self.resume)
            if ck.model_config != self.model_cfg:
                if ck.model_config == dataclasses.replace(self.model_cfg,
                                                          n_classes=ck.model_config.n_classes):
                    raise ConfigError(f"--resume checkpoint's model has "
                                      f"{ck.model_config.n_classes} classes, the training "
                                      f"data {self.model_cfg.n_classes}")
                raise ConfigError("--resume checkpoint has a different model config")
            self.train_cfg = resume_config(ck.train_config, self.train_cfg)
            n_before = ck.metrics.get("train_images")
            if isinstance(n_before, int) and n_before != len(self.train_data):
                raise ConfigError(f"the resumed model was trained on {n_before:,} images, this "
                                  f"data has {len(self.train_data):,}; resume on the same data")
            self.model: VAE = ck.model.requires_grad_(True)
            self.history = list(ck.metrics.get("history", []))
            self.start_epoch = int(ck.metrics.get("epochs", len(self.history)))
            self.run_info["earlier_runs"] = earlier_runs(ck.info, self.start_epoch)
            self.train_seconds = float(ck.metrics.get("train_seconds", 0.0))
        else:
            self.model = build_model(self.model_cfg)
        self.model.to(self.device)
        if self.device.type == "cuda" and self.model_cfg.arch == "conv":
            self.model.to(memory_format=torch.channels_last)
        self.net: torch.nn.Module = self.model
        if self.dist.enabled:
            self.net = DistributedDataParallel(self.model)
        self.optimizer = make_optimizer(self.model, self.train_cfg)
        if self.resume and (Path(self.resume) / OPTIM).exists():
            load_optimizer_state(self.optimizer, self.resume)
            self.optimizer_restored = True
        x = self.train_data.floats()
        if self.train_cfg.binarize == "static":
            x = binarize(x, self.train_cfg.seed)
        self.x_train = x.to(self.device)
        self.x_test = None
        if self.test_data is not None:
            self.x_test = eval_targets(self.test_data.floats(), self.train_cfg.binarize)
        # A conditional model trains and is scored on (image, label) pairs.
        cond = self.model_cfg.conditional
        self.y_train = self.train_data.labels.to(self.device) if cond else None
        self.y_test = self.test_data.labels if cond and self.test_data is not None else None
        self.batch = local_batch(self.train_cfg.batch_size, self.dist)
        shard = math.ceil(len(self.x_train) / self.dist.world_size)
        self.steps_per_epoch = math.ceil(shard / self.batch)
        self._set_lr(self.lr_at(self.start_epoch, 0))

    def stop(self) -> None:
        """Ask training to stop; the current partial epoch is discarded, saved epochs stay."""
        self._stop.set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def lr_at(self, epoch: int, step: int) -> float:
        """The learning rate of step `step` of epoch `epoch` (both from 0): the schedule over
        the run's `epochs`, times lr_decay per finished epoch."""
        c = self.train_cfg
        progress = (epoch * self.steps_per_epoch + step) / (c.epochs * self.steps_per_epoch)
        return c.lr * c.lr_decay ** epoch * schedule_factor(c.lr_schedule, progress)

    def _set_lr(self, lr: float) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    def beta_at(self, epoch_progress: float) -> float:
        c = self.train_cfg
        if c.warmup_epochs <= 0:
            return c.beta
        return c.beta * min(1.0, epoch_progress / c.warmup_epochs)

    def _emit(self, name: str, *args: Any) -> None:
        for cb in self.callbacks:
            getattr(cb, name)(self, *args)

    def run(self) -> dict[str, Any]:
        """Train up to `train_cfg.epochs`; raises TrainingDiverged on a NaN/Inf loss."""
        try:
            metrics = self._run_epochs()
        finally:  # also after a divergence: leave the model usable and the process group closed
            self.model.eval()
            shutdown(self.dist)
        self._emit("on_train_end", metrics)
        return metrics

    def _run_epochs(self) -> dict[str, Any]:
        c, model = self.train_cfg, self.model
        self._emit("on_train_start")
        metrics = self._metrics()
        for epoch in range(self.start_epoch, c.epochs):
            t0 = time.perf_counter()
            sums = self._train_epoch(epoch)
            if sums is None:  # stopped mid-epoch: keep the last complete epoch
                break
            sums = mean_across(sums, self.dist, self.device)
            self.train_seconds += time.perf_counter() - t0
            if c.lr_schedule == "constant":  # (a callback may have set the rate: decay it)
                for group in self.optimizer.param_groups:
                    group["lr"] *= c.lr_decay
            record = {"epoch": epoch + 1, **sums, "seconds": round(self.train_seconds, 3)}
            # The last step of an epoch can leave NaN/Inf weights behind a finite loss: never
            # overwrite the previous good checkpoint with them.
            if any_rank(not all(bool(torch.isfinite(p).all()) for p in model.parameters()),
                        self.dist, self.device):
                raise TrainingDiverged(
                    f"the weights became NaN or infinite at the end of epoch {epoch + 1}; "
                    f"training stopped. The last complete epoch ({epoch}) is kept. Try a lower "
                    "learning rate or gradient clipping.")
            if self.x_test is not None and self.dist.is_main:
                ev = evaluate_elbo(model, self.x_test, y=self.y_test)
                if not all(map(math.isfinite, ev.values())):
                    raise TrainingDiverged(
                        f"the test loss became {ev['test_neg_elbo']} after epoch {epoch + 1}; "
                        f"training stopped. The last complete epoch ({epoch}) is kept. Try a "
                        "lower learning rate or gradient clipping.")
                record.update({"test_loss": ev["test_neg_elbo"], "test_recon": ev["test_recon"],
                               "test_kl": ev["test_kl"]})
            self.history.append(record)
            metrics = self._metrics()
            if self.out_dir:
                if epoch == self.start_epoch and not self.resume:  # an overwritten model's
                    (Path(self.out_dir) / REPLAY).unlink(missing_ok=True)  # replay is not ours
                extra = {"world_size": self.dist.world_size, **self.extra_config,
                         **self.run_info, "epochs_trained": len(self.history)}
                save_checkpoint(self.out_dir, model, c, metrics, self.optimizer, extra)
            self._emit("on_epoch_end", record)
            if self.stopped:
                break
        return metrics

    def _train_epoch(self, epoch: int) -> dict[str, float] | None:
        c, model, opt, bs = self.train_cfg, self.net, self.optimizer, self.batch
        model.train()
        # Seeding per epoch makes each epoch reproducible on its own, so resume is exact.
        torch.manual_seed(c.seed * 100_003 + epoch + 7919 * self.dist.rank)
        if self.dist.enabled:
            perm = epoch_indices(len(self.x_train), epoch, c.seed, self.dist).to(self.device)
        else:
            g = torch.Generator().manual_seed(c.seed * 100_003 + epoch)
            perm = torch.randperm(len(self.x_train), generator=g).to(self.device)
        amp = torch.autocast(self.device.type, dtype=torch.bfloat16,
                             enabled=self.precision == "bf16")
        tot = {"train_loss": 0.0, "train_recon": 0.0, "train_kl": 0.0}
        n_seen = 0
        # Its own stream, seeded per epoch and rank like the shuffle, so resume stays exact.
        aug_gen = torch.Generator().manual_seed(c.seed * 100_003 + epoch + 7919 * self.dist.rank
                                                + 1_000_003)
        for step in range(self.steps_per_epoch):
            if self.stopped:
                return None
            idx = perm[step * bs:(step + 1) * bs]
            xb = self.x_train.index_select(0, idx)
            if c.augment:
                xb = augment_batch(xb, c.augment, aug_gen)
            yb = None if self.y_train is None else self.y_train.index_select(0, idx)
            if c.binarize == "dynamic":
                xb = torch.bernoulli(xb)
            beta = self.beta_at(epoch + step / self.steps_per_epoch)
            if c.lr_schedule != "constant":  # a constant rate changes per epoch only
                self._set_lr(self.lr_at(epoch, step))
            lr = float(opt.param_groups[0]["lr"])
            if self.device.type == "cuda" and self.model_cfg.arch == "conv":
                xb = xb.contiguous(memory_format=torch.channels_last)
            with amp:
                out = model(xb, yb, beta=beta, iw_samples=c.iw_samples)
            opt.zero_grad(set_to_none=True)
            out.loss.backward()
            if c.grad_clip:
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), c.grad_clip)
            loss, rec, kl = out.loss.item(), out.recon.item(), out.kl.item()
            if any_rank(not all(map(math.isfinite, (loss, rec, kl))), self.dist, self.device):
                raise TrainingDiverged(
                    f"loss became {loss} at epoch {epoch + 1}, step {step + 1}; training "
                    f"stopped. The last complete epoch ({epoch}) is kept. Try a lower learning "
                    "rate or gradient clipping.")
            opt.step()
            b = len(idx)
            n_seen += b
            tot["train_loss"] += loss * b
            tot["train_recon"] += rec * b
            tot["train_kl"] += kl * b
            self._emit("on_step", {"epoch": epoch + 1, "step": step + 1,
                                   "global_step": epoch * self.steps_per_epoch + step + 1,
                                   "loss": loss, "recon": rec, "kl": kl, "beta": beta,
                                   "lr": lr})
        return {k: v / max(n_seen, 1) for k, v in tot.items()}

    def _metrics(self) -> dict[str, Any]:
        last = self.history[-1] if self.history else {}
        return {"test_neg_elbo": last.get("test_loss"), "test_recon": last.get("test_recon"),
                "test_kl": last.get("test_kl"), "epochs": len(self.history),
                "train_seconds": round(self.train_seconds, 3),
                "train_images": len(self.x_train), "dataset": self.train_cfg.dataset,
                "binarization": self.train_cfg.binarize,
                "world_size": self.dist.world_size,
                "likelihood": self.model_cfg.likelihood, "eval_seed": EVAL_SEED,
                "history": self.history}


ONECYCLE_RISE = 0.25  # fraction of the run over which "onecycle" rises from lr/25 to lr
ONECYCLE_START = 1 / 25


def schedule_factor(schedule: str, progress: float) -> float:
    """The learning rate's multiplier at `progress` (0 = first step, 1 = end of the run)."""
    t = min(max(progress, 0.0), 1.0)
    if schedule == "constant":
        return 1.0
    if schedule == "onecycle":
        if t < ONECYCLE_RISE:
            return ONECYCLE_START + (1 - ONECYCLE_START) * t / ONECYCLE_RISE
        t = (t - ONECYCLE_RISE) / (1 - ONECYCLE_RISE)
    return 0.5 * (1 + math.cos(math.pi * t))


def conditional_config(cfg: ModelConfig, train: Split, test: Split | None = None
                       ) -> ModelConfig:
    """`cfg` with n_classes set from the training data's classes (a conditional model's
    one-hot label has one entry per class); ConfigError if the data cannot condition it."""
    n = len(train.classes)
    if n < 2:
        raise ConfigError(f"a conditional model needs at least 2 classes; the training data "
                          f"has {n} ({', '.join(train.classes)[:80]})")
    if test is not None and list(test.classes) != list(train.classes):
        raise ConfigError("the test split's classes differ from the training split's; a "
                          "conditional model needs the same classes in both")
    return dataclasses.replace(cfg, n_classes=n)

