"""Model quality of the bundled 2-D models against a plain baseline, measured in one run.

The baseline is the canonical PyTorch example's model with a 2-D latent: MLP 784-400-2, ReLU,
Bernoulli decoder on grey levels (BCE summed), Adam 1e-3, batch 128, trained here for the same
number of epochs as each bundled model. For every model we report the test -ELBO under grey-scale
BCE and the importance-sampled NLL under binarization (one fixed Bernoulli draw of the test set,
a true likelihood for a Bernoulli decoder).

    python -m bench.quality_2d [--data-dir D] [--is-samples 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from vae_core import ModelConfig, TrainConfig, Trainer, load_checkpoint, load_split
from vae_core.metrics import eval_targets, evaluate_elbo, importance_sampled_nll
from vae_core.train import Callback

ROOT = Path(__file__).resolve().parent.parent
BUNDLED_2D = ("mnist-mlp-2d", "mnist-conv-2d")


def _default_data_dir() -> str | None:
    env = os.environ.get("VAE_DATA_DIR")
    if env:
        return env
    bundled = ROOT / "data" / "mnist"
    return str(bundled) if bundled.is_dir() else None


def scores(model, x_test, k: int) -> dict[str, float]:
    """Grey-level -ELBO and IS-NLL on the fixed binarized test set."""
    grey = evaluate_elbo(model, x_test)
    binar = eval_targets(x_test, "dynamic")
    return {"test_neg_elbo_grey": grey["test_neg_elbo"],
            "test_nll_is_binarized": importance_sampled_nll(model, binar, k=k),
            "is_samples": k}


class _Snapshot(Callback):
    """Score the baseline at the epoch counts of the bundled models."""

    def __init__(self, at: set[int], x_test, k: int):
        self.at, self.x_test, self.k, self.rows = at, x_test, k, {}

    def on_epoch_end(self, trainer, info):
        if info["epoch"] in self.at:
            trainer.model.eval()
            self.rows[info["epoch"]] = scores(trainer.model, self.x_test, self.k)
            trainer.model.train()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="2-D model quality vs a plain 784-400-2 baseline",
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data-dir", default=_default_data_dir())
    p.add_argument("--is-samples", type=int, default=1000)
    p.add_argument("--out", default=str(ROOT / "bench" / "results" / "quality_2d.json"))
    a = p.parse_args(argv)
    x_test = load_split("mnist", False, a.data_dir).floats()
    results, epochs_at = {}, set()
    for name in BUNDLED_2D:
        path = ROOT / "checkpoints" / name
        if not path.is_dir():
            continue
        ck = load_checkpoint(path)
        epochs_at.add(int(ck.metrics["epochs"]))
        results[name] = {"epochs": ck.metrics["epochs"], **scores(ck.model, x_test, a.is_samples)}
        print(name, results[name], flush=True)
    snap = _Snapshot(epochs_at, x_test, a.is_samples)
    t0 = time.perf_counter()
    Trainer(ModelConfig(arch="mlp", hidden=[400], latent_dim=2, activation="relu"),
            TrainConfig(epochs=max(epochs_at), batch_size=128, optimizer="adam", lr=1e-3,
                        lr_schedule="constant", precision="fp32"),
            load_split("mnist", True, a.data_dir), None, callbacks=[snap]).run()
    for ep, row in sorted(snap.rows.items()):
        results[f"baseline-784-400-2@{ep}ep"] = {"epochs": ep, **row}
        print(f"baseline @{ep}", row, flush=True)
    out = {"results": results, "baseline_train_seconds": round(time.perf_counter() - t0, 1),
           "protocol": "grey BCE -ELBO (1 sample, closed-form KL); IS-NLL on one fixed "
                       "Bernoulli draw of the test set (seed 1234)"}
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(out, indent=2))
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
