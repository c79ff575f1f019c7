"""Training replay: how the posterior of a fixed set of test digits moved during training.

`ReplayRecorder` is a Trainer callback. Every `every` steps and at each epoch end it encodes
the same ~500 test images (a seeded choice) and keeps their posterior means and
log-variances, the training loss / reconstruction / KL averaged over the steps since the
previous snapshot, and the KL per latent dimension of those images. At each epoch end it
writes everything to the run's folder as the sidecar `replay.safetensors` (float16 codes),
so the file always describes complete epochs, like the checkpoint beside it. A resumed run
appends to the file it finds. The file stays under `MAX_REPLAY_BYTES`: past its budget the
recorder keeps only the snapshots on its step grid and doubles the grid's interval as often
as needed, so what is kept stays spread evenly over the whole run.

`load_replay` validates a file (names, dtypes, shapes, finiteness, size) and raises
CheckpointError with one line; the model's own loading never reads it, so a corrupt replay
never stops a model from loading.
"""

from __future__ import annotations

import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError, safe_open

from .checkpoint import REPLAY, write_safetensors
from .errors import CheckpointError
from .losses import kl_per_dim
from .model import batch_labels
from .train import Callback, Trainer

REPLAY_FORMAT = "latent-explorer-replay/1"
REPLAY_DIGITS = 500
REPLAY_SEED = 2024  # which test images are followed; a separate generator: training is untouched
REPLAY_EVERY = 50  # steps between snapshots (doubled each time the budget is reached)
MAX_REPLAY_BYTES = 2_000_000
MAX_REPLAY_FILE = 8_000_000  # what `load_replay` reads at all (an older, larger budget fits)
F16_LIMIT = 6.0e4  # float16's largest finite value is 65504
SERIES = ("loss", "recon", "kl")
SHAPES = {  # tensor -> (dtype, dims in terms of S snapshots, N images, D latent dims)
    "index": ("I64", "N"), "labels": ("I64", "N"), "step": ("I64", "S"),
    "epoch": ("F32", "S"), "epoch_end": ("U8", "S"), "loss": ("F32", "S"),
    "recon": ("F32", "S"), "kl": ("F32", "S"), "kl_dims": ("F32", "SD"),
    "mu": ("F16", "SND"), "logvar": ("F16", "SND"),
}


@dataclass
class Replay:
    """Snapshots of the posterior of `index` (test-set positions, labels `labels`) over time.

    step [S] global training step; epoch [S] epochs done (fractional between epoch ends);
    epoch_end [S] bool; loss / recon / kl [S] mean training values since the previous
    snapshot (NaN for a snapshot taken before any step); kl_dims [S, D] mean KL per
    dimension of the followed images; mu, logvar [S, N, D] float32 (stored as float16).
    """

    index: np.ndarray
    labels: np.ndarray
    step: np.ndarray
    epoch: np.ndarray
    epoch_end: np.ndarray
    loss: np.ndarray
    recon: np.ndarray
    kl: np.ndarray
    kl_dims: np.ndarray
    mu: np.ndarray
    logvar: np.ndarray
    steps_per_epoch: int = 0
    every: int = REPLAY_EVERY
    dataset: str = ""

    def __len__(self) -> int:
        return len(self.step)

    @property
    def latent_dim(self) -> int:
        return int(self.mu.shape[2])

    @property
    def sigma(self) -> np.ndarray:
        return np.exp(0.5 * self.logvar)

    def tensors(self) -> dict[str, torch.Tensor]:
        """The arrays as the file stores them."""
        f16 = {k: torch.from_numpy(np.clip(getattr(self, k), -F16_LIMIT, F16_LIMIT)
                                   .astype(np.float16)) for k in ("mu", "logvar")}
        return {"index": torch.from_numpy(self.index.astype(np.int64)),
                "labels": torch.from_numpy(self.labels.astype(np.int64)),
                "step": torch.from_numpy(self.step.astype(np.int64)),
                "epoch_end": torch.from_numpy(self.epoch_end.astype(np.uint8)),
                **{k: torch.from_numpy(getattr(self, k).astype(np.float32))
                   for k in ("epoch", *SERIES, "kl_dims")}, **f16}

    def metadata(self) -> dict[str, str]:
        return {"format": REPLAY_FORMAT, "steps_per_epoch": str(self.steps_per_epoch),
                "every": str(self.every), "dataset": self.dataset}


def save_replay(folder: str | Path, replay: Replay) -> Path:
    """Write `replay` to folder/replay.safetensors atomically (readers see old or new), with
    the folder's usual permissions."""
    path = Path(folder) / REPLAY
    write_safetensors(path, replay.tensors(), replay.metadata())
    return path


def has_replay(folder: str | Path) -> bool:
    return (Path(folder) / REPLAY).is_file()


def load_replay(folder: str | Path, latent_dim: int | None = None) -> Replay:
    """Read and validate folder/replay.safetensors; CheckpointError says what is wrong.

    `latent_dim`, when given, must match the replay's (a replay copied beside another model
    would otherwise draw that model's training as if it were this one's)."""
    path = Path(folder) / REPLAY
    if not path.is_file():
        raise CheckpointError(f"{REPLAY} is missing in {Path(folder)}")
    size = path.stat().st_size
    if size > MAX_REPLAY_FILE:
        raise CheckpointError(f"{REPLAY} is too large ({size:,} bytes; at most "
                              f"{MAX_REPLAY_FILE:,})")
    try:
        with safe_open(str(path), "pt") as f:
            meta = f.metadata() or {}
            if meta.get("format") != REPLAY_FORMAT:
                raise CheckpointError(f"{REPLAY} is not a training replay (format "
                                      f"{meta.get('format')!r})")
            if set(f.keys()) != set(SHAPES):
                raise CheckpointError(f"{REPLAY} holds {sorted(f.keys())[:6]}, expected "
                                      f"{sorted(SHAPES)}")
            dims: dict[str, int] = {}
            arrays: dict[str, np.ndarray] = {}
            for name, (dtype, letters) in SHAPES.items():
                sl = f.get_slice(name)
                shape = tuple(sl.get_shape())
                if sl.get_dtype() != dtype or len(shape) != len(letters):
                    raise CheckpointError(f"{REPLAY}: {name} is {sl.get_dtype()}{list(shape)}, "
                                          f"expected {dtype} with {len(letters)} dimension(s)")
                for letter, n in zip(letters, shape, strict=True):
                    if dims.setdefault(letter, n) != n:
                        raise CheckpointError(f"{REPLAY}: {name} has {n} along {letter}, "
                                              f"other tensors {dims[letter]}")
                arrays[name] = f.get_tensor(name).numpy()
    except SafetensorError as e:
        raise CheckpointError(f"{REPLAY} is corrupt: {e}") from e
    except OSError as e:
        raise CheckpointError(f"cannot read {path}: {e}") from e
    _check_values(arrays, dims, latent_dim)
    try:
        spe, every = int(meta.get("steps_per_epoch", 0)), int(meta.get("every", REPLAY_EVERY))
    except ValueError as e:
        raise CheckpointError(f"{REPLAY} metadata is invalid: {e}") from e
    return Replay(**{k: arrays[k].astype(np.float32) if arrays[k].dtype == np.float16
                     else arrays[k] for k in SHAPES if k != "epoch_end"},
                  epoch_end=arrays["epoch_end"].astype(bool), steps_per_epoch=spe,
                  every=every, dataset=str(meta.get("dataset", "")))


def _check_values(a: dict[str, np.ndarray], dims: dict[str, int], latent_dim: int | None
                  ) -> None:
    if min(dims.values()) < 1:
        raise CheckpointError(f"{REPLAY} is empty")
    if latent_dim is not None and dims["D"] != latent_dim:
        raise CheckpointError(f"{REPLAY} follows a {dims['D']}-D latent space, this model's "
                              f"is {latent_dim}-D: it belongs to another model")
    if not (np.isfinite(a["mu"]).all() and np.isfinite(a["logvar"]).all()
            and np.isfinite(a["kl_dims"]).all() and np.isfinite(a["epoch"]).all()):
        raise CheckpointError(f"{REPLAY} holds NaN or infinite codes")
    if (a["index"] < 0).any() or (a["labels"] < 0).any() or (a["labels"] >= 1000).any():
        raise CheckpointError(f"{REPLAY} holds negative indices or labels out of range")
    if (np.diff(a["step"]) < 0).any():
        raise CheckpointError(f"{REPLAY}: its steps are not in order")


def follow_set(n_test: int, n: int = REPLAY_DIGITS, seed: int = REPLAY_SEED) -> torch.Tensor:
    """The test-set positions a replay follows: `n` of them, seeded, in ascending order."""
    g = torch.Generator().manual_seed(seed)
    return torch.randperm(n_test, generator=g)[:min(n, n_test)].sort().values


def capacity(n_images: int, latent_dim: int, budget: int = MAX_REPLAY_BYTES) -> int:
    """How many snapshots fit in `budget` bytes (codes in float16, 5% left for the header)."""
    per = n_images * latent_dim * 4 + 4 * (len(SERIES) + 2 + latent_dim) + 1
    return max(4, int(budget * 0.95 - n_images * 16) // per)


class ReplayRecorder(Callback):
    """Trainer callback that records a `Replay` and writes it at every epoch end.

    Read-only towards training: it uses no global random state and puts the model back in
    the mode it found it in, so a run with or without it trains the same weights.
    `snapshot()` may be called from another thread (the app's page) at any time.
    """

    def __init__(self, every: int = REPLAY_EVERY, n_images: int = REPLAY_DIGITS,
                 budget: int = MAX_REPLAY_BYTES) -> None:
        self.every, self.n_images, self.budget = every, n_images, budget
        self._lock = threading.Lock()
        self._rows: list[dict[str, Any]] = []
        self._saved_rows = 0  # rows that are in the file (complete epochs)
        self._sums = np.zeros(len(SERIES))
        self._count = 0
        self.index: torch.Tensor | None = None
        self.labels: torch.Tensor | None = None
        self._x: torch.Tensor | None = None
        self._y: torch.Tensor | None = None
        self._capacity = 4
        self.steps_per_epoch = 0
        self.dataset = ""

    # --- trainer hooks ---------------------------------------------------------------------
    def on_train_start(self, trainer: Trainer) -> None:
        if trainer.x_test is None or trainer.test_data is None:
            return  # nothing to follow: no replay for a run without a test set
        self.steps_per_epoch = trainer.steps_per_epoch
        self.dataset = trainer.train_cfg.dataset
        self.index = follow_set(len(trainer.x_test), self.n_images)
        start = trainer.start_epoch * trainer.steps_per_epoch
        if trainer.resume:
            self._continue_from(Path(trainer.resume), start, trainer.model_cfg.latent_dim)
        self.labels = trainer.test_data.labels[self.index].long()
        self._x = trainer.x_test[self.index]
        self._y = self.labels if trainer.model_cfg.conditional else None
        self._capacity = capacity(len(self.index), trainer.model_cfg.latent_dim, self.budget)
        if not self._rows or self._rows[-1]["step"] < start:
            self._snapshot(trainer, start, trainer.start_epoch, epoch_end=bool(start))

    def on_step(self, trainer: Trainer, info: dict[str, float]) -> None:
        if self._x is None:
            return
        self._sums += [info[k] for k in SERIES]
        self._count += 1
        step = int(info["global_step"])
        if step % self.every == 0:
            self._snapshot(trainer, step, step / self.steps_per_epoch)

    def on_epoch_end(self, trainer: Trainer, info: dict[str, Any]) -> None:
        if self._x is None:
            return
        step = int(info["epoch"]) * self.steps_per_epoch
        with self._lock:
            last = self._rows[-1] if self._rows else None
            if last is not None and last["step"] == step:
                last["epoch_end"] = True  # the step snapshot was this epoch's last step
        if last is None or last["step"] != step:
            self._snapshot(trainer, step, float(info["epoch"]), epoch_end=True)
        if trainer.out_dir:
            with self._lock:
                self._saved_rows = len(self._rows)
            save_replay(trainer.out_dir, self.snapshot(complete=True))

    # --- recording -------------------------------------------------------------------------
    def _continue_from(self, folder: Path, start: int, latent_dim: int) -> None:
        """Take over the replay of the run being resumed, up to its last saved epoch."""
        if not has_replay(folder):
            return
        try:
            old = load_replay(folder, latent_dim)
        except CheckpointError as e:
            warnings.warn(f"the replay of the resumed run is not continued: {e}", stacklevel=2)
            return
        if len(old.index) != len(self.index) or not np.array_equal(old.index,
                                                                   self.index.numpy()):
            warnings.warn("the resumed run's replay follows other test images (another test "
                          "set?); a new replay starts", stacklevel=2)
            return
        self.every = max(self.every, old.every)
        keep = old.step <= start
        for i in np.flatnonzero(keep):
            self._rows.append({"step": int(old.step[i]), "epoch": float(old.epoch[i]),
                               "epoch_end": bool(old.epoch_end[i]),
                               **{k: float(getattr(old, k)[i]) for k in SERIES},
                               "kl_dims": old.kl_dims[i], "mu": old.mu[i].astype(np.float16),
                               "logvar": old.logvar[i].astype(np.float16)})
        self._saved_rows = len(self._rows)

    @torch.no_grad()
    def _snapshot(self, trainer: Trainer, step: int, epoch: float,
                  epoch_end: bool = False) -> None:
        model = trainer.model
        was_training = model.training
        model.eval()  # dropout off: the posterior as the saved model would give it
        try:
            dev = next(model.parameters()).device
            x = self._x.to(dev)
            mu, logvar = model.encode(x) if self._y is None else \
                model.encode(x, batch_labels(self._y, 0, len(x), dev))
            mu, logvar = mu.float().cpu(), logvar.float().cpu()
        finally:
            model.train(was_training)
        means = self._sums / self._count if self._count else np.full(len(SERIES), np.nan)
        self._sums[:], self._count = 0.0, 0
        row = {"step": step, "epoch": float(epoch), "epoch_end": epoch_end,
               **dict(zip(SERIES, map(float, means), strict=True)),
               "kl_dims": kl_per_dim(mu, logvar).mean(0).numpy(),
               "mu": mu.numpy().clip(-F16_LIMIT, F16_LIMIT).astype(np.float16),
               "logvar": logvar.numpy().clip(-F16_LIMIT, F16_LIMIT).astype(np.float16)}
        with self._lock:
            self._rows.append(row)
            if len(self._rows) > self._capacity:
                self._thin()

    def _thin(self) -> None:
        """Back under capacity, evenly over the steps: keep the snapshots on the `every`
        grid (epoch ends between grid points go first), doubling `every` while that is
        still too many. The first (step 0) and the newest always stay.

        Dropping every second row instead left a long run's early epochs out: once `every`
        outgrows an epoch, each epoch end adds a row, and halving over and over kept only
        the last few epochs (a 130-epoch run kept epochs 0 and 101-130)."""
        rows, last = self._rows, len(self._rows) - 1

        def on_grid() -> list[int]:
            return [i for i, r in enumerate(rows) if r["step"] % self.every == 0 or i == last]

        keep = on_grid()
        while len(keep) > self._capacity:
            self.every *= 2
            keep = on_grid()
        saved = self._saved_rows
        self._saved_rows = sum(1 for i in keep if i < saved)
        self._rows = [rows[i] for i in keep]

    def snapshot(self, complete: bool = False) -> Replay | None:
        """The replay so far (None before the first snapshot); `complete` leaves out the
        snapshots of an epoch that has not ended yet."""
        with self._lock:
            rows = self._rows[:self._saved_rows] if complete else list(self._rows)
        if not rows or self.index is None:
            return None
        col = {k: np.array([r[k] for r in rows]) for k in ("step", "epoch", "epoch_end",
                                                           *SERIES)}
        return Replay(index=self.index.numpy().copy(), labels=self.labels.numpy().copy(),
                      step=col["step"].astype(np.int64), epoch=col["epoch"],
                      epoch_end=col["epoch_end"].astype(bool), loss=col["loss"],
                      recon=col["recon"], kl=col["kl"],
                      kl_dims=np.stack([r["kl_dims"] for r in rows]).astype(np.float32),
                      mu=np.stack([r["mu"] for r in rows]).astype(np.float32),
                      logvar=np.stack([r["logvar"] for r in rows]).astype(np.float32),
                      steps_per_epoch=self.steps_per_epoch, every=self.every,
                      dataset=self.dataset)

