"""One background training run per server, and the thread-safe progress record pages poll.

The Train page starts `vae_core.Trainer` in a daemon thread. A `TrainingManager` (one per
server, through `st.cache_resource`) holds a `threading.Lock` for the whole run, so a second
Start from any session gets `TrainingBusy`. The trainer's callback writes every step and epoch
into a `Progress` record under its own small lock; the page reads `Progress.snapshot()` copies,
so a page never waits on the training thread and the thread never touches the cached models.
"""

from __future__ import annotations

import copy
import logging
import os
import shutil
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st
import torch

from vae_core import (Callback, CheckpointError, ModelConfig, Split, TrainConfig, Trainer,
                      TrainingBusy, TrainingDiverged, load_split, safe_name)
from vae_core.checkpoint import CONFIG, METRICS, WEIGHTS
from vae_core.data import ENV_VARS
from vae_core.metrics import eval_targets

from .state import BUNDLED_DIR, user_dir

log = logging.getLogger(__name__)

GRID_DIGITS = 16  # the first 16 test digits, reconstructed after every epoch
MAX_STEP_RECORDS = 20_000  # beyond this the per-step log keeps every 2nd, 4th, ... step
RUNNING, FINISHED, STOPPED, DIVERGED, FAILED = "running", "finished", "stopped", "diverged", \
    "failed"
SAVED_FILES = (CONFIG, WEIGHTS, METRICS)  # the optimizer state stays in the scratch folder


def training_threads() -> int:
    """Intra-op threads for the training thread: half the cores, so pages stay responsive."""
    return max(1, (os.cpu_count() or 2) // 2)


@st.cache_resource(show_spinner="Loading the training set...", max_entries=2)
def _split(dataset: str, train: bool, data_setting: str | None) -> Split:
    # data_setting (the environment variable's value) is part of the key, so pointing the
    # variable elsewhere reloads; the Split is shared read-only (Trainer copies it to floats).
    return load_split(dataset, train=train, data_dir=None)


def load_data(dataset: str, limit: int = 0) -> tuple[Split, Split]:
    """(training split limited to `limit` images, test split); raises DataNotFoundError."""
    setting = os.environ.get(ENV_VARS.get(dataset, ""), None)
    train = _split(dataset, True, setting)
    test = _split(dataset, False, setting)
    if limit:
        train = Split(train.images[:limit], train.labels[:limit], train.classes)
    return train, test


@dataclass
class Progress:
    """What the training thread reports; read it only through `snapshot()`."""

    epochs: int
    status: str = RUNNING
    error: str = ""
    epoch: int = 0  # current (1-based) epoch
    step: int = 0  # step within the current epoch
    done_steps: int = 0  # steps run by this job
    steps_per_epoch: int = 0
    start_epoch: int = 0
    started: float = field(default_factory=time.time)
    finished: float | None = None
    steps: list[dict[str, float]] = field(default_factory=list)  # thinned past MAX_STEP_RECORDS
    history: list[dict[str, Any]] = field(default_factory=list)
    originals: np.ndarray | None = None  # [16, 28, 28], what the model is fed
    recon: np.ndarray | None = None  # [16, 28, 28] after the last complete epoch
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _stride: int = field(default=1, repr=False)

    def update(self, **kw: Any) -> None:
        with self._lock:
            for k, v in kw.items():
                setattr(self, k, v)

    def add_step(self, info: dict[str, float]) -> None:
        with self._lock:
            self.epoch, self.step = int(info["epoch"]), int(info["step"])
            self.done_steps += 1
            if self.done_steps % self._stride:
                return
            self.steps.append({k: info[k] for k in ("global_step", "loss", "recon", "kl")})
            if len(self.steps) > MAX_STEP_RECORDS:  # bounded memory however long the run
                self.steps, self._stride = self.steps[::2], self._stride * 2

    def add_epoch(self, record: dict[str, Any], recon: np.ndarray) -> None:
        with self._lock:
            self.history.append(dict(record))
            self.recon = recon

    def snapshot(self) -> dict[str, Any]:
        """A consistent copy, with derived progress fraction and ETA (seconds)."""
        with self._lock:
            snap = {k: copy.copy(v) for k, v in vars(self).items() if not k.startswith("_")}
        total = max(1, (snap["epochs"] - snap["start_epoch"]) * max(1, snap["steps_per_epoch"]))
        done = snap["done_steps"]
        end = snap["finished"] or time.time()
        elapsed = end - snap["started"]
        snap["fraction"] = min(1.0, done / total)
        snap["elapsed"] = elapsed
        snap["eta"] = elapsed / done * (total - done) if done and snap["status"] == RUNNING \
            else None
        return snap


class ProgressCallback(Callback):
    """Writes the trainer's steps and epochs into a `Progress`, plus 16 reconstructions."""

    def __init__(self, progress: Progress, digits: torch.Tensor):
        self.progress = progress
        self.digits = digits  # [16,1,28,28], already as the likelihood scores them

    def on_train_start(self, trainer: Trainer) -> None:
        self.progress.update(steps_per_epoch=trainer.steps_per_epoch,
                             start_epoch=trainer.start_epoch,
                             originals=self.digits[:, 0].numpy().copy())

    def on_step(self, trainer: Trainer, info: dict[str, float]) -> None:
        self.progress.add_step(info)

    def on_epoch_end(self, trainer: Trainer, info: dict[str, Any]) -> None:
        model = trainer.model
        was_training = model.training
        model.eval()  # no dropout for the preview; the trainer switches back each epoch
        with torch.no_grad():
            dev = next(model.parameters()).device
            recon = model.reconstruct(self.digits.to(dev)).cpu()[:, 0].numpy()
        model.train(was_training)
        self.progress.add_epoch(info, recon)


@dataclass
class TrainingJob:
    """One run: its configs, scratch checkpoint folder, trainer, thread and progress."""

    id: str
    model_cfg: ModelConfig
    train_cfg: TrainConfig
    run_dir: Path
    trainer: Trainer | None  # dropped when the run ends, with its copy of the data
    progress: Progress
    n_images: int = 0
    thread: threading.Thread | None = None
    saved_as: str | None = None

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def saved_epochs(self) -> int:
        """Epochs in the scratch checkpoint (0 if the first epoch never completed)."""
        return len(self.progress.snapshot()["history"]) if (self.run_dir / WEIGHTS).exists() \
            else 0

    def stop(self) -> None:
        trainer = self.trainer  # read once: the thread clears it when the run ends
        if trainer is not None:
            trainer.stop()


class TrainingManager:
    """Server-wide: at most one training thread; remembers the latest job."""

    def __init__(self) -> None:
        self.lock = threading.Lock()  # held from start() until the thread ends
        self.job: TrainingJob | None = None

    @property
    def busy(self) -> bool:
        return self.lock.locked()

    def start(self, model_cfg: ModelConfig, train_cfg: TrainConfig, train: Split,
              test: Split) -> TrainingJob:
        """Build a Trainer and run it in a daemon thread; TrainingBusy if one already runs.

        ConfigError (e.g. a model above the parameter limit) is raised here, synchronously.
        """
        if not self.lock.acquire(blocking=False):
            raise TrainingBusy("a training run is already in progress on this server; wait for "
                               "it to finish or stop it first")
        try:
            runs = user_dir() / ".runs"
            _clean_scratch(runs, self.job)
            job_id = time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
            run_dir = runs / job_id
            n = min(GRID_DIGITS, len(test))
            digits = eval_targets(test.floats()[:n], train_cfg.binarize)
            progress = Progress(epochs=train_cfg.epochs)
            trainer = Trainer(model_cfg, train_cfg, train, test, out_dir=run_dir,
                              callbacks=[ProgressCallback(progress, digits)],
                              extra_config={"classes": train.classes})
            job = TrainingJob(job_id, model_cfg, train_cfg, run_dir, trainer, progress,
                              n_images=len(train))
            job.thread = threading.Thread(target=self._run, args=(job,), daemon=True,
                                          name=f"vae-train-{job_id}")
            self.job = job
            job.thread.start()
            return job
        except BaseException:
            self.lock.release()
            raise

    def _run(self, job: TrainingJob) -> None:
        # Per thread for running threads, but threads started later inherit it: restore it.
        threads, trainer = torch.get_num_threads(), job.trainer
        torch.set_num_threads(training_threads())
        status, error = FINISHED, ""
        try:
            trainer.run()
            if trainer.stopped:
                status = STOPPED
        except TrainingDiverged as e:
            status, error = DIVERGED, str(e)
        except Exception as e:  # shown on the page; the traceback goes to the server log
            log.exception("training run %s failed", job.id)
            status, error = FAILED, f"{type(e).__name__}: {e}"
        finally:
            job.trainer = None  # frees the model, optimizer and float copy of the data
            torch.set_num_threads(threads)
            job.progress.update(status=status, error=error, finished=time.time())
            self.lock.release()


def _clean_scratch(runs: Path, previous: TrainingJob | None, max_age_s: float = 86_400) -> None:
    """Delete the previous run's scratch folder (saved runs were copied out) and any older
    than a day (left by a server that was stopped); called only while holding the lock."""
    if previous is not None:
        shutil.rmtree(previous.run_dir, ignore_errors=True)
    if runs.is_dir():
        for d in runs.iterdir():
            if time.time() - d.stat().st_mtime > max_age_s:
                shutil.rmtree(d, ignore_errors=True)


@st.cache_resource
def manager() -> TrainingManager:
    """The server's one TrainingManager (shared by every session)."""
    return TrainingManager()


def save_run(job: TrainingJob, name: str) -> Path:
    """Copy the run's checkpoint into user_dir()/<name>; CheckpointError says why not."""
    name = safe_name(name)
    if job.running:
        raise CheckpointError("training is still running; stop it or wait for the end")
    if not job.saved_epochs():
        raise CheckpointError("no complete epoch was saved, so there is nothing to keep")
    if (BUNDLED_DIR / name).exists():
        raise CheckpointError(f"{name!r} is the name of a bundled model; choose another")
    udir = user_dir()
    dest = udir / name
    if dest.exists():
        raise CheckpointError(f"a model named {name!r} already exists; choose another name")
    udir.mkdir(parents=True, exist_ok=True)
    tmp = udir / f".saving-{name}-{uuid.uuid4().hex[:6]}"
    tmp.mkdir()
    try:
        for f in SAVED_FILES:
            if (job.run_dir / f).exists():
                shutil.copy2(job.run_dir / f, tmp / f)
        if dest.exists():  # somebody took the name meanwhile
            raise CheckpointError(f"a model named {name!r} already exists; choose another name")
        os.rename(tmp, dest)  # the model appears in the picker complete, or not at all
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    job.saved_as = name
    return dest
