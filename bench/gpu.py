"""GPU: the same training measurements on CUDA, fp32 and bf16 autocast, where a GPU exists.

On a machine without CUDA this records {"gpu": "not available on this machine"}. With one:
matmul peak (fp32, and bf16), and for each precision a vae_core.Trainer run on CUDA
(TrainConfig(device="cuda", precision=...); "bf16" is the Trainer's bfloat16 autocast) taking
turns with the example's loop on CUDA (with its CUDA loader kwargs num_workers=1,
pin_memory=True), exactly as the CPU throughput benchmark does; plus GFLOP/s and percent of
the fp32 and bf16 peaks. Both loops call .item() every step, which synchronizes the GPU, so
host-side timers measure finished work.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from vae_core import build_model, load_split

from . import baseline
from . import training as tr
from .common import log, median


def available() -> bool:
    return torch.cuda.is_available()


def run_all(data_dir: str | Path | None, n_images: int = 60_000, reps: int = 3,
            precisions: tuple[str, ...] = ("fp32", "bf16"), every: int = 50,
            device: str = "cuda", peak_n: int = 8192) -> dict[str, Any]:
    """`device` other than "cuda" only exercises this code path (tests/bench/test_bench.py)."""
    if device == "cuda" and not available():
        return {"gpu": "not available on this machine"}
    dev = device
    name = torch.cuda.get_device_name(0) if dev == "cuda" else f"{dev} (code-path check)"
    out: dict[str, Any] = {"gpu": name, "n_images": n_images,
                           "epochs": reps, "steps_per_turn": every,
                           "tf32_matmul_allowed": torch.backends.cuda.matmul.allow_tf32}
    peak = {"fp32": tr.matmul_peak(peak_n, 10, dev, torch.float32)["median_gflops"],
            "bf16": tr.matmul_peak(peak_n, 10, dev, torch.bfloat16)["median_gflops"]}
    out["matmul_peak_gflops"] = peak
    split = load_split("mnist", True, data_dir, limit=n_images)
    loader, _ = baseline.make_loaders(data_dir, len(split), dev, with_test=False)
    warm = load_split("mnist", True, data_dir, limit=min(2048, len(split)))
    flops = tr.train_flops_per_image(build_model(tr.core_model_config()))["train_convention"]
    for p in precisions:
        tr.core_epoch(warm, device=dev, precision=p)  # warm-up: CUDA context, cuBLAS handles
        inter = tr.Interleave({"baseline": tr.baseline_steps_fn(loader, dev)}, every,
                           label=f"gpu {p}")
        tr.core_trainer(split, reps, inter, device=dev, precision=p).run()
        core, base = inter.rates["core"], inter.rates["baseline"]
        gflops = median(core) * flops / 1e9
        out[p] = {"core_images_per_s": median(core), "baseline_images_per_s": median(base),
                  "speedup": tr.paired_ratio(core, base), "core_gflops": gflops,
                  "percent_of_peak": 100 * gflops / peak[p if p in peak else "fp32"],
                  "core_images_per_s_all": core, "baseline_images_per_s_all": base}
        log(f"gpu {p}: core {median(core):,.0f} img/s, baseline {median(base):,.0f} img/s")
    out["speedup_vs_baseline"] = {p: out[p]["speedup"] for p in precisions}
    return out
