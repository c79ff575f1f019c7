"""The defaults' speed: the default `train` run end to end, and the time to the example's loss.

Two measurements, in one bench run:

* `default_command`: `python -m vae_core train --out <tmp>` with no model or training flag (the
  TrainConfig/ModelConfig defaults, also the Train page's), timed as a whole process, start-up,
  data loading, per-epoch evaluations and the checkpoint included; its final test -ELBO and the
  first epoch at which the test -ELBO fell to 142 (goal: <= 142 in <= 30 s of wall time).
* `time_to_example_loss`: the canonical PyTorch example (bench.baseline: MLP 784-400-20, Adam
  1e-3, batch 128, 10 epochs) and the core's Trainer with the *default training recipe* (batch,
  one-cycle schedule, precision), also for 10 epochs, on the example's network (784-400-20,
  Bernoulli on grey levels) take turns in one process, as in
  bench.quality: a callback of the core's Trainer pauses the core's clock every 10 of its steps
  and runs the next steps of the example's loop. The core takes fewer, larger steps, so each turn
  gives the example as many steps as keeps both runs ending together (both see the same load).
  The example's test loss after its last epoch is the target; the core's time to it is the wall
  time of its first epoch at or below it (training and evaluations counted on both sides).
  Goal: <= 0.20 of the example's time.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from vae_core import Callback, ModelConfig, TrainConfig, Trainer, load_split

from .common import REPO_ROOT, Stopwatch, load_average, log
from .quality import _BaselineRun
from .training import Interleave

DEFAULT_TARGET = 142.0  # test -ELBO of the default 2-D run
DEFAULT_SECONDS = 30.0
RATIO_GOAL = 0.20
EXAMPLE_EPOCHS = 10


def default_command(data_dir: str | Path | None, threads: int | None = None,
                    target: float = DEFAULT_TARGET) -> dict[str, Any]:
    """Run `python -m vae_core train` with no model or training flag in a subprocess and time
    it whole. `threads` sets OMP_NUM_THREADS (None: torch's default, one per core)."""
    env = dict(os.environ)
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "default-run"
        cmd = [sys.executable, "-m", "vae_core", "train", "--out", str(out)]
        if data_dir:
            cmd += ["--data-dir", str(data_dir)]
        load_before = load_average()
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError(f"train exited {proc.returncode}: {proc.stderr[-500:]}")
        metrics = json.loads((out / "metrics.json").read_text())
        train_cfg = json.loads((out / "config.json").read_text()).get("train", {})
    hist = metrics["history"]
    hit = next((h for h in hist if h["test_loss"] <= target), None)
    final = metrics["test_neg_elbo"]
    log(f"default run: test -ELBO {final:.2f} after {len(hist)} epochs, {wall:.1f} s wall "
        f"({metrics['train_seconds']:.1f} s training)")
    return {
        "command": "python -m vae_core train --out DIR" + (" --data-dir D" if data_dir else ""),
        "omp_num_threads": threads, "train_config": train_cfg,
        "wall_s": wall, "train_seconds": metrics["train_seconds"],
        "startup_and_save_s": wall - metrics["train_seconds"],
        "test_neg_elbo": final, "epochs": metrics["epochs"],
        "target": target, "first_epoch_at_target": hit["epoch"] if hit else None,
        "train_seconds_at_target": hit["seconds"] if hit else None,
        "history": [{k: h[k] for k in ("epoch", "test_loss", "seconds")} for h in hist],
        "load_average_before": load_before, "load_average_after": load_average(),
        "goal": f"test -ELBO <= {target:g} in <= {DEFAULT_SECONDS:g} s wall",
        "goal_met": final <= target and wall <= DEFAULT_SECONDS,
    }


def example_network() -> ModelConfig:
    """The canonical example's network in the core's terms (784-400-20, ReLU, Bernoulli)."""
    return ModelConfig(arch="mlp", hidden=[400], latent_dim=20, likelihood="bernoulli",
                       activation="relu")


def time_to_example_loss(data_dir: str | Path | None, example_epochs: int = EXAMPLE_EPOCHS,
                         core_epochs: int | None = EXAMPLE_EPOCHS, every: int = 10
                         ) -> dict[str, Any]:
    """The core (default recipe over `core_epochs`; None: the default epochs) against the
    example's `example_epochs`, taking turns; see the module docstring."""
    train = load_split("mnist", True, data_dir)
    test = load_split("mnist", False, data_dir)
    tcfg = TrainConfig(device="cpu", **({"epochs": core_epochs} if core_epochs else {}))
    base = _BaselineRun(data_dir, "cpu", -math.inf, example_epochs)  # no target: all epochs
    base_steps = example_epochs * len(base.train_loader)
    core_steps = tcfg.epochs * math.ceil(len(train) / tcfg.batch_size)
    per_core_step = max(1, round(base_steps / core_steps))
    clock = Stopwatch()
    core_hist: list[dict[str, float]] = []

    def example_turn(core_steps: int) -> float:
        clock.pause()
        base.steps(core_steps * per_core_step)
        clock.start()
        return 0.0  # Interleave's rate for this loop: unused here

    class Record(Callback):
        def on_epoch_end(self, trainer: Any, info: dict[str, Any]) -> None:
            core_hist.append({"epoch": info["epoch"], "test_loss": info["test_loss"],
                              "wall_s": clock.elapsed})
            log(f"core epoch {info['epoch']}: test {info['test_loss']:.2f} at "
                f"{clock.elapsed:.1f}s")

    turns = Interleave({"example": example_turn}, every)  # the example's turns, as in throughput
    trainer = Trainer(example_network(), tcfg, train, test, callbacks=[turns.cb, Record()])
    clock.start()
    trainer.run()
    clock.pause()
    base.finish()  # whatever the example has left runs alone
    last = base.history[-1]
    target, base_s = last["test_loss"], last["wall_s"]
    hit = next((h for h in core_hist if h["test_loss"] <= target), None)
    ratio = hit["wall_s"] / base_s if hit else None
    out: dict[str, Any] = {
        "network": "MLP 784-400-20, ReLU, Bernoulli on grey levels (both sides)",
        "example": {"epochs": len(base.history), "batch_size": 128, "lr": 1e-3,
                    "test_loss": target, "wall_s": base_s, "history": base.history},
        "core": {"train_config": tcfg.to_dict(), "epochs_run": len(core_hist),
                 "reached": hit is not None, "epoch_at_target": hit["epoch"] if hit else None,
                 "wall_s_at_target": hit["wall_s"] if hit else None,
                 "final_test_loss": core_hist[-1]["test_loss"] if core_hist else None,
                 "history": core_hist},
        "target": f"the example's test loss after epoch {len(base.history)}",
        "example_steps_per_core_step": per_core_step, "steps_per_turn": every,
        "torch_threads": torch.get_num_threads(),
        "ratio_core_to_example": ratio, "goal_ratio": RATIO_GOAL,
        "goal_met": ratio is not None and ratio <= RATIO_GOAL,
    }
    log(f"time to the example's {len(base.history)}-epoch loss {target:.2f}: example "
        f"{base_s:.1f} s, core " + (f"{hit['wall_s']:.1f} s (epoch {hit['epoch']}), ratio "
                                    f"{ratio:.3f}" if hit else "not reached"))
    return out


def run_all(data_dir: str | Path | None, threads: int | None = None,
            example_epochs: int = EXAMPLE_EPOCHS) -> dict[str, Any]:
    """Both measurements: the default command first (alone), then the side-by-side run."""
    return {"default_command": default_command(data_dir, threads),
            "time_to_example_loss": time_to_example_loss(data_dir, example_epochs,
                                                         example_epochs)}
