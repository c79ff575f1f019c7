"""Shared helpers: where the data is, timing statistics, machine description, result files.

Timing on a shared, noisy machine: every comparison in this suite is measured *within one run*,
baseline and candidate interleaved (A, B, A, B, ...), and reported as medians; ratios are also
given per pair (median of the per-pair ratios), which cancels slow drifts in background load.
"""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"
ENV_DATA_DIR = "VAE_DATA_DIR"
CHECKPOINT_2D = REPO_ROOT / "checkpoints" / "mnist-mlp-2d"


def log(msg: str) -> None:
    """Progress goes to stderr so that stdout's last line stays the JSON summary."""
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def resolve_data_dir(arg: str | Path | None = None) -> Path | None:
    """--data-dir, else $VAE_DATA_DIR, else the MNIST bundled in data/mnist."""
    if arg:
        return Path(arg).expanduser()
    env = os.environ.get(ENV_DATA_DIR)
    if env:
        return Path(env).expanduser()
    bundled = REPO_ROOT / "data" / "mnist"
    return bundled if bundled.is_dir() else None


def has_train_split(data_dir: Path | None) -> bool:
    if data_dir is None or not data_dir.is_dir():
        return False
    names = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte")
    places = (data_dir, data_dir / "MNIST" / "raw")
    return all(any((p / n).is_file() or (p / f"{n}.gz").is_file() for p in places) for n in names)


# --- statistics ---------------------------------------------------------------------------
def median(xs: Sequence[float]) -> float:
    return float(statistics.median(xs))


def percentile(xs: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile, q in [0, 100] (numpy's default method)."""
    s = sorted(xs)
    if not s:
        return math.nan
    pos = (len(s) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return float(s[lo] + (s[hi] - s[lo]) * (pos - lo))


def time_reps(fn: Callable[[], Any], reps: int, warmup: int = 1) -> list[float]:
    """Wall seconds of `reps` calls of fn, after `warmup` untimed calls."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def summary_ms(seconds: Sequence[float]) -> dict[str, float]:
    ms = [s * 1e3 for s in seconds]
    return {"n": len(ms), "median_ms": round(median(ms), 3), "p50_ms": round(percentile(ms, 50), 3),
            "p95_ms": round(percentile(ms, 95), 3), "min_ms": round(min(ms), 3),
            "max_ms": round(max(ms), 3)}


class Stopwatch:
    """Accumulates wall time between start()/pause() pairs (for interleaved measurements)."""

    def __init__(self) -> None:
        self.total = 0.0
        self._t0: float | None = None

    def start(self) -> None:
        if self._t0 is None:
            self._t0 = time.perf_counter()

    def pause(self) -> None:
        if self._t0 is not None:
            self.total += time.perf_counter() - self._t0
            self._t0 = None

    @property
    def elapsed(self) -> float:
        extra = time.perf_counter() - self._t0 if self._t0 is not None else 0.0
        return self.total + extra


# --- machine ----------------------------------------------------------------------------
def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (OSError, AttributeError):
        return None


def env_info() -> dict[str, Any]:
    # deferred: torch and torchvision take seconds, and `python -m bench --help` needs neither
    import torch
    import torchvision

    return {"python": platform.python_version(), "torch": torch.__version__,
            "torchvision": torchvision.__version__, "platform": platform.platform(),
            "cpu": cpu_model(), "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "cuda_available": torch.cuda.is_available(), "load_average": load_average(),
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


# --- result files -----------------------------------------------------------------------
def _clean(obj: Any) -> Any:
    """JSON-safe: NaN/inf become None, tuples become lists, paths become strings."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    return obj


def to_json(obj: Any, indent: int | None = None) -> str:
    return json.dumps(_clean(obj), indent=indent, allow_nan=False)


def write_json(path: Path, obj: Any) -> Path:
    """Atomic write (temporary `*.tmp` beside it, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(to_json(obj, indent=2) + "\n")
    os.replace(tmp, path)
    return path
