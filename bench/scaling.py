"""Scaling: manifold size, Plotly scatter size, training batch size, MLP vs conv.

Sizes are measured round-robin (every size once per rep), so background load spreads evenly.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go
import torch

from vae_core import count_params, encode_dataset, load_split, manifold, to_png_bytes

from .common import log, median, summary_ms
from .interactive import load_model
from .training import core_model_config, trainer_variants


def manifold_sizes(model: Any, sizes: tuple[int, ...] = (10, 20, 30, 40), reps: int = 7
                   ) -> dict[str, Any]:
    """Median ms of vae_core.manifold(model, n) + to_png_bytes for each n."""
    def one(n: int) -> None:
        grid, _ = manifold(model, n)
        to_png_bytes(grid.numpy())

    times: dict[int, list[float]] = {n: [] for n in sizes}
    for n in sizes:
        one(n)
    for _ in range(reps):
        for n in sizes:
            t = time.perf_counter()
            one(n)
            times[n].append(time.perf_counter() - t)
    return {"sizes": list(sizes),
            "results": {str(n): {**summary_ms(v), "tiles": n * n} for n, v in times.items()}}


def scatter_figure(points: tuple[int, ...] = (1_000, 10_000), reps: int = 5,
                   codes: np.ndarray | None = None, labels: np.ndarray | None = None
                   ) -> dict[str, Any]:
    """go.Figure(go.Scattergl) of n 2-D codes coloured by label: build time, to_json time and
    size (what Streamlit ships to the browser for st.plotly_chart)."""
    rng = np.random.default_rng(0)
    n_max = max(points)
    if codes is None or len(codes) < n_max:
        codes = rng.normal(size=(n_max, 2)).astype(np.float32)
        labels = rng.integers(0, 10, n_max)
    assert labels is not None

    def build(n: int) -> Any:
        fig = go.Figure(go.Scattergl(
            x=codes[:n, 0], y=codes[:n, 1], mode="markers",
            marker={"size": 4, "color": labels[:n], "colorscale": "Turbo", "showscale": True},
            text=[str(int(v)) for v in labels[:n]], hovertemplate="digit %{text}<extra></extra>"))
        fig.update_layout(width=700, height=600, xaxis_title="z1", yaxis_title="z2")
        return fig

    out: dict[str, Any] = {}
    build(min(points)).to_json()  # warm-up: plotly's validators load lazily
    for n in points:
        tb, tj, size = [], [], 0
        for _ in range(reps):
            t = time.perf_counter()
            fig = build(n)
            tb.append(time.perf_counter() - t)
            t = time.perf_counter()
            size = len(fig.to_json())
            tj.append(time.perf_counter() - t)
        out[str(n)] = {"build": summary_ms(tb), "to_json": summary_ms(tj),
                       "total_median_ms": round(
                           median([a + b for a, b in zip(tb, tj, strict=True)]) * 1e3, 3),
                       "json_bytes": size}
    return out


def batch_sizes(data_dir: str | Path | None, sizes: tuple[int, ...] = (64, 128, 256, 512, 1024),
                n_images: int = 12_288, reps: int = 3, chunk: int = 4096) -> dict[str, Any]:
    """Core Trainer images/s per batch size, taking turns slice by slice (a slice is a
    multiple of every batch size, so no partial batches)."""
    split = load_split("mnist", True, data_dir, limit=max(chunk, n_images // chunk * chunk))
    return trainer_variants(split, {str(b): {"batch_size": b} for b in sizes}, reps, chunk,
                            label="batch sizes")


def mlp_vs_conv(data_dir: str | Path | None, n_images: int = 6_400, reps: int = 3,
                chunk: int = 1280) -> dict[str, Any]:
    """Core Trainer images/s: MLP 784-400-20 vs conv (channels [32, 64], latent 20)."""
    split = load_split("mnist", True, data_dir, limit=n_images)
    out = trainer_variants(split, {"mlp": {"arch": "mlp"}, "conv": {"arch": "conv"}}, reps,
                           chunk, label="mlp vs conv")
    out["params"] = {a: count_params(core_model_config(a)) for a in ("mlp", "conv")}
    out["configs"] = {a: core_model_config(a).to_dict() for a in ("mlp", "conv")}
    out["mlp_over_conv"] = out["ratio_to_mlp"]["mlp"] / out["ratio_to_mlp"]["conv"]
    return out


def run_all(data_dir: str | Path | None, train_data: bool = True, n_images: int = 12_800,
            reps: int = 3) -> dict[str, Any]:
    model = load_model()
    out: dict[str, Any] = {"torch_threads": torch.get_num_threads()}
    out["manifold"] = manifold_sizes(model)
    log("manifold sizes: " + ", ".join(f"{n}: {v['median_ms']:.1f} ms"
                                       for n, v in out["manifold"]["results"].items()))
    test = load_split("mnist", False, data_dir)
    mu, _ = encode_dataset(model, test.floats())
    out["scatter"] = scatter_figure(codes=mu.numpy(), labels=test.labels.numpy())
    log("scatter: " + ", ".join(f"{n}: {v['total_median_ms']:.1f} ms, {v['json_bytes']:,} B"
                                for n, v in out["scatter"].items()))
    if train_data:
        out["batch_size"] = batch_sizes(data_dir, n_images=n_images, reps=reps)
        out["mlp_vs_conv"] = mlp_vs_conv(data_dir, n_images=max(n_images // 2, 1280), reps=reps)
    return out
