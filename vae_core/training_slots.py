"""A machine-wide limit on concurrent training runs: lock files in the user-models folder.

Several app servers (replicas behind a proxy, see `python -m deploy`) share one user-models
folder. Each training run holds one of `limit` slots, `<folder>/.locks/train-<i>.lock`, with an
OS file lock (`filelock`: `flock` on Unix). The kernel drops the lock when its process dies,
however it dies, so a killed server never blocks training forever; the sidecar
`train-<i>.json` (who holds the slot, since when) is only believed while the lock is held.
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from filelock import FileLock, Timeout

from .errors import ConfigError, TrainingBusy

ENV_MAX_TRAINING = "VAE_MAX_TRAINING"  # concurrent training runs per machine (default 1)
ENV_TRAINING_CPUS = "VAE_TRAINING_CPUS"  # cores a training run may use: "0,1" (deploy sets it)
LOCK_DIR = ".locks"


def max_training_runs() -> int:
    """The limit from $VAE_MAX_TRAINING (default 1); ConfigError if it is not an int >= 1."""
    raw = os.environ.get(ENV_MAX_TRAINING, "1").strip() or "1"
    try:
        n = int(raw)
    except ValueError:
        n = 0
    if n < 1:
        raise ConfigError(f"{ENV_MAX_TRAINING} must be a whole number >= 1, not {raw!r}")
    return n


def widen_to_training_cpus() -> None:
    """Let the calling thread, a training run's, use the cores listed in $VAE_TRAINING_CPUS
    (and the threads it starts: torch's intra-op pool). `python -m deploy` pins each replica
    to one core and sets it to the launcher's cores, so that training is not confined to
    that core. Nothing without the variable or where the system has no CPU affinity."""
    raw = os.environ.get(ENV_TRAINING_CPUS, "").strip()
    if not raw or not hasattr(os, "sched_setaffinity"):
        return
    try:
        os.sched_setaffinity(0, {int(c) for c in raw.split(",")})
    except (ValueError, OSError):  # a core this machine lacks: stay where the server runs
        pass


@dataclass(frozen=True)
class SlotHolder:
    """Who holds a training slot: process, host, server label, run id and start time."""

    pid: int
    host: str
    server: str
    job: str
    started: float

    def describe(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self.started))
        where = self.server or f"process {self.pid} on {self.host}"
        return f"run {self.job} on {where} (pid {self.pid}), started {when}"


class TrainingSlot:
    """One held slot; `release()` frees it (also safe to call twice, from any thread)."""

    def __init__(self, lock: FileLock, info: Path, holder: SlotHolder) -> None:
        self._lock, self.info_path, self.holder = lock, info, holder

    def release(self) -> None:
        if self._lock.is_locked:
            self.info_path.unlink(missing_ok=True)
            self._lock.release(force=True)


def _slot_paths(folder: Path, i: int) -> tuple[Path, Path]:
    base = Path(folder) / LOCK_DIR / f"train-{i}"
    return base.with_suffix(".lock"), base.with_suffix(".json")


def _file_lock(path: Path) -> FileLock:
    # A fresh fd per attempt (flock conflicts between fds, even in one process); released from
    # the training thread, so not thread-local; the pathname stays (unlinking a flock file
    # races) and no soft-lock fallback, whose marker would outlive a killed process.
    return FileLock(path, timeout=0, thread_local=False, preserve_lock_file=True)


def _read_holder(path: Path) -> SlotHolder | None:
    try:
        return SlotHolder(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None  # not written yet, or being replaced


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)  # a reader sees the old file or the new one, never half of one


def acquire_training_slot(folder: Path | str, job: str, server: str = "",
                          limit: int | None = None) -> TrainingSlot:
    """Take a free slot of `limit` (default: `max_training_runs()`) for run `job`, or raise
    TrainingBusy naming every holder and when its run started. Never waits."""
    limit = max_training_runs() if limit is None else limit
    (Path(folder) / LOCK_DIR).mkdir(parents=True, exist_ok=True)
    for i in range(limit):
        lock_path, info_path = _slot_paths(Path(folder), i)
        lock = _file_lock(lock_path)
        try:
            lock.acquire()
        except Timeout:
            continue
        holder = SlotHolder(os.getpid(), socket.gethostname(), server, job, time.time())
        try:
            _write_atomic(info_path, json.dumps(asdict(holder)))
        except BaseException:
            lock.release(force=True)
            raise
        return TrainingSlot(lock, info_path, holder)
    who = "; ".join(h.describe() for h in slot_holders(folder, limit)) or "another server"
    runs = "run" if limit == 1 else "runs"
    raise TrainingBusy(f"the machine's limit of {limit} concurrent training {runs} is reached "
                       f"(held by {who}); wait for it to finish or stop it first")


def slot_holders(folder: Path | str, limit: int | None = None) -> list[SlotHolder]:
    """The holders of slots whose lock is held right now (stale sidecars are ignored)."""
    limit = max_training_runs() if limit is None else limit
    out = []
    for i in range(limit):
        lock_path, info_path = _slot_paths(Path(folder), i)
        if not lock_path.exists():
            continue
        probe = _file_lock(lock_path)
        try:
            probe.acquire()
        except Timeout:  # held: believe its sidecar
            holder = _read_holder(info_path)
            if holder is not None:
                out.append(holder)
            continue
        probe.release(force=True)  # free: a sidecar left by a dead process means nothing
    return out
