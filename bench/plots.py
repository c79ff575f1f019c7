"""PNG plots of a full run (matplotlib, Agg backend), written beside the JSON results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .common import log


def _plt() -> Any:
    # deferred: matplotlib (~1 s) loads only when a full run draws its plots
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # only after use("Agg"): no display is needed

    return plt


def _save(fig: Any, path: Path) -> str:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    _plt().close(fig)
    return path.name


def throughput(res: dict[str, Any], probes: dict[str, Any] | None, out: Path) -> str:
    plt = _plt()
    names = ["baseline (example loop)", "core Trainer"]
    vals = [res["baseline_images_per_s"], res["core_images_per_s"]]
    if probes:
        for k, v in probes["variants"].items():
            names.append(f"probe: {k}")
            vals.append(v["ratio_to_trainer"] * res["core_images_per_s"])
    fig, ax = plt.subplots(figsize=(8, 0.5 * len(names) + 1.8))
    bars = ax.barh(names[::-1], vals[::-1], color=["C1" if n.startswith("probe") else "C0"
                                                    for n in names[::-1]])
    for b, v in zip(bars, vals[::-1], strict=False):
        ax.text(v, b.get_y() + b.get_height() / 2, f" {v:,.0f}", va="center", fontsize=8)
    ax.set_xlabel("training images / s (MLP 784-400-20, batch 128, CPU)")
    ax.set_title(f"Core {res['speedup']:.2f}x the PyTorch example; "
                 f"{res['percent_of_peak']:.0f}% of fp32 matmul peak"
                 + ("\n(probes scaled to the core's rate; measured as ratios)" if probes else ""),
                 fontsize=10)
    return _save(fig, out / "throughput.png")


def quality(res: dict[str, Any], out: Path) -> str:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for key, label, c in (("baseline", "PyTorch example loop", "C1"), ("core", "core Trainer",
                                                                        "C0")):
        h = res[key]["history"]
        ax.plot([r["wall_s"] for r in h], [r["test_loss"] for r in h], "o-", color=c, label=label)
    ax.axhline(res["target_test_loss"], color="grey", ls="--",
               label=f"target {res['target_test_loss']}")
    ax.set_xlabel("wall seconds (training + per-epoch evaluation)")
    ax.set_ylabel("test -ELBO (nats)")
    ratio = res.get("ratio_core_to_baseline")
    ax.set_title("Time to quality" + (f": core takes {ratio:.2f} of the baseline's time"
                                      if ratio else ""), fontsize=10)
    lo = min(r["test_loss"] for k in ("core", "baseline") for r in res[k]["history"])
    ax.set_ylim(lo - 1, min(140, max(r["test_loss"] for r in res["baseline"]["history"]) + 2))
    ax.legend()
    return _save(fig, out / "time_to_quality.png")


def interactivity(res: dict[str, Any], out: Path) -> str:
    plt = _plt()
    rows = [("slider p95", res["slider_decode"]["p95_ms"], res["goals_ms"]["slider_p95"]),
            ("manifold 40x40 median", res["manifold_40"]["median_ms"],
             res["goals_ms"]["manifold_40_median"]),
            ("encode 10k median", res["encode_test_set"]["median_ms"],
             res["goals_ms"]["encode_test_set_median"]),
            ("upload reconstruct median", res["reconstruct_upload"]["median_ms"],
             res["goals_ms"]["reconstruct_upload_median"])]
    fig, ax = plt.subplots(figsize=(7, 3.2))
    names = [r[0] for r in rows]
    ax.barh(names, [r[2] for r in rows], color="lightgrey", label="goal")
    ax.barh(names, [r[1] for r in rows], height=0.5, color="C2", label="measured")
    for i, r in enumerate(rows):
        ax.text(r[1], i, f" {r[1]:.1f} ms", va="center", fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("milliseconds (log scale)")
    ax.set_title("Server-side interaction latency vs goals", fontsize=10)
    ax.legend(loc="lower right", fontsize=8)
    return _save(fig, out / "interactivity.png")


def scaling(res: dict[str, Any], out: Path) -> list[str]:
    plt = _plt()
    files = []
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    m = res["manifold"]["results"]
    ns = [int(n) for n in m]
    axes[0].plot(ns, [m[str(n)]["median_ms"] for n in ns], "o-")
    axes[0].axhline(150, color="grey", ls="--", label="goal at 40x40: 150 ms")
    axes[0].set_xlabel("manifold N (N x N decoded tiles)")
    axes[0].set_ylabel("median ms (decode + tile + PNG)")
    axes[0].set_xticks(ns)
    axes[0].legend(fontsize=8)
    s = res["scatter"]
    pts = [int(n) for n in s]
    axes[1].bar([f"{n:,}" for n in pts], [s[str(n)]["total_median_ms"] for n in pts], color="C4")
    for i, n in enumerate(pts):
        axes[1].text(i, s[str(n)]["total_median_ms"],
                     f"{s[str(n)]['json_bytes'] / 1e3:,.0f} kB JSON", ha="center", va="bottom",
                     fontsize=8)
    axes[1].set_xlabel("points in go.Scattergl")
    axes[1].set_ylabel("median ms (build + to_json)")
    fig.suptitle("Latent-space views: cost vs size", fontsize=10)
    files.append(_save(fig, out / "scaling_views.png"))
    if "batch_size" in res:
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), gridspec_kw={"width_ratios": [2, 1]})
        b = res["batch_size"]["images_per_s"]
        bs = [int(k) for k in b]
        axes[0].plot(bs, [b[str(k)] for k in bs], "o-")
        axes[0].set_xscale("log", base=2)
        axes[0].set_xticks(bs, [str(k) for k in bs])
        axes[0].set_xlabel("batch size")
        axes[0].set_ylabel("core training images / s")
        mc = res["mlp_vs_conv"]
        axes[1].bar(["MLP 784-400-20", "conv [32, 64]"],
                    [mc["images_per_s"]["mlp"], mc["images_per_s"]["conv"]], color=["C0", "C3"])
        axes[1].set_ylabel("training images / s")
        axes[1].set_title(f"MLP {mc['mlp_over_conv']:.1f}x conv", fontsize=9)
        fig.suptitle("Training throughput vs batch size and architecture (CPU)", fontsize=10)
        files.append(_save(fig, out / "scaling_training.png"))
    return files


def make_all(results: dict[str, Any], out: Path) -> list[str]:
    """Every plot whose data is in `results`; returns the file names written."""
    files: list[str] = []
    makers = [("training", lambda r: [throughput(r["training"], r.get("probes"), out)]),
              ("quality", lambda r: [quality(r["quality"], out)]),
              ("interactive", lambda r: [interactivity(r["interactive"], out)]),
              ("scaling", lambda r: scaling(r["scaling"], out))]
    for key, fn in makers:
        if isinstance(results.get(key), dict) and "error" not in results[key] \
                and "skipped" not in results[key]:
            try:
                files += fn(results)
            except Exception as e:  # noqa: BLE001 - a failed plot must not lose the results
                log(f"plot {key} failed: {type(e).__name__}: {e}")
    return files
