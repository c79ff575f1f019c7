"""One background training run per server, and the thread-safe progress record pages poll.

The Train page starts `vae_core.Trainer` in a daemon thread. A `TrainingManager` (one per
server, through `ui.state.server_object`) holds a `threading.Lock` for the whole run, so a second
Start from any session gets `TrainingBusy`; each run also holds a machine-wide slot in the
user-models folder (`vae_core.acquire_training_slot`), so replicas behind a proxy share the
limit ($VAE_MAX_TRAINING, default 1). Every run keeps its scratch folder until its owner
saves or discards it: nothing finished is deleted unasked, and no session can discard another
session's run. Runs left by an earlier server are listed for anyone to save or discard. The
trainer's callback writes every step and epoch into a `Progress` record under its own small
lock; the page reads `Progress.snapshot()` copies, so a page never waits on the training thread
and the thread never touches the cached models.
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
import torch

from vae_core import (ENV_VARS, Callback, CheckpointError, ModelConfig, ReplayRecorder, Split,
                      TrainConfig, Trainer, TrainingBusy, TrainingDiverged, TrainingSlot,
                      VAEError, acquire_training_slot, copy_checkpoint, eval_targets,
                      is_checkpoint, load_checkpoint, safe_name, slot_holders, weights_mtime,
                      widen_to_training_cpus)

from ui.state import BUNDLED_DIR, server_object, training_split, user_dir

log = logging.getLogger(__name__)

GRID_DIGITS = 16  # the first 16 test digits, reconstructed after every epoch
MAX_STEP_RECORDS = 20_000  # beyond this the per-step log keeps every 2nd, 4th, ... step
RUNNING, FINISHED, STOPPED, DIVERGED, FAILED = "running", "finished", "stopped", "diverged", \
    "failed"
RUNS_DIR = ".runs"  # scratch folders of runs, inside user_dir()
ENV_SERVER_NAME = "VAE_SERVER_NAME"  # how this server names itself to others ("replica 2")


def training_threads() -> int:
    """Intra-op threads for the training thread: half the cores, so pages stay responsive."""
    return max(1, (os.cpu_count() or 2) // 2)


def load_data(dataset: str, limit: int = 0) -> tuple[Split, Split]:
    """(training split limited to `limit` images, test split); raises DataNotFoundError."""
    setting = os.environ.get(ENV_VARS.get(dataset, ""), None)
    train = training_split(dataset, True, setting)
    test = training_split(dataset, False, setting)
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
            # Wall time since Start, set-up and evaluations included: the page's time to quality.
            self.history.append({**record, "wall_s": time.time() - self.started})
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
    owner: str = ""  # the session that started it; "" for a run left by an earlier server
    slot: TrainingSlot | None = None  # the machine-wide training slot, held while it runs
    replay: ReplayRecorder | None = None  # the run's training replay, readable while it runs

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def saved_epochs(self) -> int:
        """Epochs in the scratch checkpoint, or copied out by Save (0 if the first epoch never
        completed)."""
        done = self.saved_as or is_checkpoint(self.run_dir)
        return len(self.progress.snapshot()["history"]) if done else 0

    @property
    def unsaved(self) -> bool:
        """Over, not saved, and holding at least one complete epoch: work that can be lost."""
        return not self.running and not self.saved_as and self.saved_epochs() > 0

    def stop(self) -> None:
        trainer = self.trainer  # read once: the thread clears it when the run ends
        if trainer is not None:
            trainer.stop()


class TrainingManager:
    """Server-wide: at most one training thread; every job it started, until discarded."""

    def __init__(self) -> None:
        self.lock = threading.Lock()  # held from start() until the thread ends
        self.jobs: dict[str, TrainingJob] = {}  # insertion order = start order
        self._recovered = False

    @property
    def busy(self) -> bool:
        return self.lock.locked()

    @property
    def job(self) -> TrainingJob | None:
        """The most recently started job, whoever started it."""
        started = [j for j in self.jobs.values() if j.owner]
        return started[-1] if started else None

    def running_job(self) -> TrainingJob | None:
        return next((j for j in self.jobs.values() if j.running), None)

    def latest(self, owner: str) -> TrainingJob | None:
        """The newest job this session started."""
        mine = [j for j in self.jobs.values() if j.owner == owner]
        return mine[-1] if mine else None

    def unsaved(self) -> list[TrainingJob]:
        """Finished, unsaved runs on this server, newest first. Anyone may save (copy) one;
        only its owner may discard it (see `may_discard`)."""
        self._recover()
        return [j for j in reversed(self.jobs.values()) if j.unsaved]

    @staticmethod
    def may_discard(job: TrainingJob, owner: str) -> bool:
        return job.owner in (owner, "")

    def discard(self, job: TrainingJob, owner: str) -> None:
        """Delete a finished run's scratch folder; only its own session (or anyone, for a run
        left by an earlier server) may, and never while it runs."""
        if not self.may_discard(job, owner):
            raise CheckpointError("this run belongs to another session")
        if job.running:
            raise CheckpointError("training is still running; stop it first")
        shutil.rmtree(job.run_dir, ignore_errors=True)
        self.jobs.pop(job.id, None)

    def _recover(self) -> None:
        """Once per server: list the unsaved runs an earlier server left in the scratch
        folder (it was stopped; their checkpoints are complete epochs)."""
        if self._recovered:
            return
        self._recovered = True
        runs = user_dir() / RUNS_DIR
        if not runs.is_dir():
            return
        running = {h.job for h in slot_holders(user_dir())}  # another replica's live runs
        for d in sorted(runs.iterdir()):
            if d.name in self.jobs or d.name in running or not is_checkpoint(d):
                continue
            try:
                ck = load_checkpoint(d)
            except VAEError:
                continue
            hist = list(ck.metrics.get("history", []))
            progress = Progress(epochs=ck.train_config.epochs, status=STOPPED,
                                history=hist, finished=weights_mtime(d))
            self.jobs.setdefault(d.name, TrainingJob(
                d.name, ck.model_config, ck.train_config, d, None, progress,
                n_images=int(ck.metrics.get("train_images", 0) or 0)))

    def start(self, model_cfg: ModelConfig, train_cfg: TrainConfig, train: Split,
              test: Split, owner: str) -> TrainingJob:
        """Build a Trainer and run it in a daemon thread; TrainingBusy if one already runs.

        ConfigError (e.g. a model above the parameter limit) is raised here, synchronously.
        Earlier runs are left alone: their owners save or discard them. Besides this
        server's one run, the machine-wide limit (`vae_core.acquire_training_slot`, a lock in
        user_dir() shared by every replica) must have a free slot.
        """
        if not self.lock.acquire(blocking=False):
            raise TrainingBusy("a training run is already in progress on this server; wait for "
                               "it to finish or stop it first")
        slot = None
        try:
            self._recover()
            job_id = time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
            slot = acquire_training_slot(user_dir(), job_id,
                                         server=os.environ.get(ENV_SERVER_NAME, ""))
            run_dir = user_dir() / RUNS_DIR / job_id
            n = min(GRID_DIGITS, len(test))
            digits = eval_targets(test.floats()[:n], train_cfg.binarize)
            progress = Progress(epochs=train_cfg.epochs)
            replay = ReplayRecorder()
            trainer = Trainer(model_cfg, train_cfg, train, test, out_dir=run_dir,
                              callbacks=[ProgressCallback(progress, digits), replay],
                              extra_config={"classes": train.classes}, command="Train page")
            job = TrainingJob(job_id, model_cfg, train_cfg, run_dir, trainer, progress,
                              n_images=len(train), owner=owner, slot=slot, replay=replay)
            job.thread = threading.Thread(target=self._run, args=(job,), daemon=True,
                                          name=f"vae-train-{job_id}")
            self.jobs[job_id] = job
            job.thread.start()
            return job
        except BaseException:
            if slot is not None:
                slot.release()
            self.lock.release()
            raise

    def _run(self, job: TrainingJob) -> None:
        # Per thread for running threads, but threads started later inherit it: restore it.
        threads, trainer = torch.get_num_threads(), job.trainer
        widen_to_training_cpus()  # a replica pinned to one core (deploy) trains on them all
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
            if not is_checkpoint(job.run_dir):  # not one complete epoch: nothing to keep
                shutil.rmtree(job.run_dir, ignore_errors=True)
            torch.set_num_threads(threads)
            job.progress.update(status=status, error=error, finished=time.time())
            if job.slot is not None:
                job.slot.release()
            self.lock.release()


def manager() -> TrainingManager:
    """The server's one TrainingManager (shared by every session)."""
    return server_object("training manager", TrainingManager)


def save_run(job: TrainingJob, name: str) -> Path:
    """Copy the run's checkpoint into user_dir()/<name>, then drop its scratch folder;
    CheckpointError says why not."""
    name = safe_name(name)
    if job.running:
        raise CheckpointError("training is still running; stop it or wait for the end")
    if not job.saved_epochs():
        raise CheckpointError("no complete epoch was saved, so there is nothing to keep")
    if (BUNDLED_DIR / name).exists():
        raise CheckpointError(f"{name!r} is the name of a bundled model; choose another")
    dest = copy_checkpoint(job.run_dir, user_dir() / name)
    job.saved_as = name
    shutil.rmtree(job.run_dir, ignore_errors=True)  # the saved copy is complete
    return dest
