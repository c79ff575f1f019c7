"""`python -m bench`: run the suite, write bench/results/*.json and plots, print a summary.

    python -m bench --quick --json   # ~1 min: throughput + interactivity; last line is JSON
    python -m bench                  # everything (~20 min): latest.json, per-benchmark JSON, PNGs
    python -m bench --only interactive scaling --data-dir /path/to/mnist
    python -m bench --only defaults   # ~3-6 min: the default train run + time to the example's
                                      # 10-epoch loss (--quick: its 3-epoch loss)
"""

from __future__ import annotations

import argparse
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .common import (
    RESULTS_DIR,
    env_info,
    has_train_split,
    log,
    resolve_data_dir,
    to_json,
    write_json,
)

BENCHMARKS = ("training", "defaults", "probes", "quality", "interactive", "scaling", "gpu")
QUICK = ("training", "interactive", "gpu")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="throughput on 12,800 images + interactivity (no time-to-quality, "
                        "no scaling); writes results/quick.json")
    p.add_argument("--smoke", action="store_true",
                   help="tiny sizes, only to check that the suite runs (numbers meaningless); "
                        "writes results/smoke.json")
    p.add_argument("--json", action="store_true",
                   help="print the summary as one JSON object on the last line of stdout")
    p.add_argument("--data-dir", default=None,
                   help="MNIST folder (the four IDX .gz files); default $VAE_DATA_DIR, else "
                        "the MNIST bundled in data/mnist")
    p.add_argument("--only", nargs="+", choices=BENCHMARKS, default=None,
                   help="run only these benchmarks")
    p.add_argument("--out", type=Path, default=RESULTS_DIR, help="results folder")
    p.add_argument("--threads", default="auto",
                   help="torch threads for the whole run: a number, 'default' (torch's choice, "
                        "one per core) or 'auto' (default): time the core's training step at 1 "
                        "thread and at torch's default, and use the faster for everything. On a "
                        "busy shared machine torch's default can be 10-30x slower than 1 thread")
    p.add_argument("--n-train", type=int, default=None,
                   help="images per throughput epoch (default 12,800 quick, 30,000 full)")
    p.add_argument("--reps", type=int, default=None, help="interleaved reps (default 3)")
    p.add_argument("--target", type=float, default=106.1, help="time-to-quality test loss")
    p.add_argument("--epoch-cap", type=int, default=15, help="time-to-quality epoch cap")
    p.add_argument("--no-cold-start", action="store_true", help="skip the streamlit cold start")
    p.add_argument("--no-compile", action="store_true", help="skip the torch.compile probe")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    return p


def _run(name: str, fn: Callable[[], dict[str, Any]], results: dict[str, Any]) -> None:
    log(f"--- {name}")
    t = time.perf_counter()
    try:
        results[name] = fn()
    except Exception as e:  # noqa: BLE001 - one failing benchmark must not lose the others
        log(f"{name} failed:\n{traceback.format_exc()}")
        results[name] = {"error": f"{type(e).__name__}: {e}"}
    results.setdefault("seconds", {})[name] = round(time.perf_counter() - t, 2)


def summarize(results: dict[str, Any]) -> dict[str, Any]:
    """The flat summary printed last: the headline number of every benchmark that ran."""
    s: dict[str, Any] = {"mode": results.get("mode"),
                         "torch_threads": (results.get("threads") or {}).get("used")}
    tr = results.get("training") or {}
    if "core_images_per_s" in tr:
        s.update(train_speedup_vs_baseline=round(tr["speedup"], 3),
                 train_speedup_of_medians=round(tr["speedup_of_medians"], 3),
                 train_images_per_s=round(tr["core_images_per_s"], 1),
                 baseline_images_per_s=round(tr["baseline_images_per_s"], 1),
                 train_gflops=round(tr["core_gflops"], 2),
                 matmul_peak_gflops=round(tr["matmul_peak_gflops"], 2),
                 train_percent_of_peak=round(tr["percent_of_peak"], 1),
                 train_n_images=tr["n_images"], train_epochs=tr["epochs"],
                 train_chunks=tr["chunks"])
    elif tr:
        s["training"] = tr.get("error") or tr.get("skipped")
    it = results.get("interactive") or {}
    if "slider_decode" in it:
        s.update(slider_decode_p50_ms=it["slider_decode"]["p50_ms"],
                 slider_decode_p95_ms=it["slider_decode"]["p95_ms"],
                 manifold_40_ms=it["manifold_40"]["median_ms"],
                 encode_test_set_s=round(it["encode_test_set"]["median_ms"] / 1e3, 4),
                 reconstruct_upload_ms=it["reconstruct_upload"]["median_ms"])
        cs = it.get("cold_start") or {}
        if cs.get("health_s"):
            s.update(cold_start_health_s=round(cs["health_s"], 3),
                     cold_start_first_html_s=round(cs["first_html_s"], 3))
    elif it:
        s["interactive"] = it.get("error")
    d = results.get("defaults") or {}
    if "default_command" in d:
        dc, tt = d["default_command"], d["time_to_example_loss"]
        s.update(default_run_wall_s=round(dc["wall_s"], 2),
                 default_run_test_neg_elbo=round(dc["test_neg_elbo"], 2),
                 default_run_epochs=dc["epochs"],
                 example_epochs=tt["example"]["epochs"],
                 example_s_to_its_loss=round(tt["example"]["wall_s"], 2),
                 core_s_to_example_loss=tt["core"]["wall_s_at_target"],
                 time_to_example_loss_ratio=tt["ratio_core_to_example"])
    elif d:
        s["defaults"] = d.get("error") or d.get("skipped")
    q = results.get("quality") or {}
    if "core" in q:
        s.update(time_to_quality_core_s=q["core"]["wall_s"],
                 time_to_quality_baseline_s=q["baseline"]["wall_s"],
                 time_to_quality_ratio=q["ratio_core_to_baseline"],
                 time_to_quality_epochs={"core": q["core"]["epochs"],
                                         "baseline": q["baseline"]["epochs"]})
    pr = results.get("probes") or {}
    if "variants" in pr:
        s["probe_ratios_to_trainer"] = {k: round(v["ratio_to_trainer"], 3)
                                        for k, v in pr["variants"].items()}
        s["probe_trainer_bf16_over_fp32"] = round(
            pr["trainer_precision"]["ratio_to_fp32"]["bf16"], 3)
        s["probe_threads_ratio_to_1"] = {k: round(v, 3)
                                         for k, v in pr["threads"]["ratio_to_1"].items()}
        s["example_dataloader_us_per_image"] = round(
            pr["example_dataloader_only"]["us_per_image"], 1)
        s["trainer_us_per_image"] = round(pr["example_dataloader_only"]["trainer_us_per_image"], 1)
    g = results.get("gpu")
    if g is not None:
        s["gpu"] = g.get("gpu") if isinstance(g, dict) else g
        if isinstance(g, dict) and "speedup_vs_baseline" in g:
            s["gpu_speedup_vs_baseline"] = g["speedup_vs_baseline"]
    s["goals"] = goals(results)
    s["seconds_total"] = results.get("seconds_total")
    return s


def goals(results: dict[str, Any]) -> dict[str, bool | None]:
    tr, it, q = (results.get(k) or {} for k in ("training", "interactive", "quality"))
    g: dict[str, bool | None] = {}
    if "speedup" in tr:
        g["train_speedup_ge_4x"] = tr["speedup"] >= 4.0
        g["train_ge_50pct_of_peak"] = tr["percent_of_peak"] >= 50.0
    if "goals_met" in it:
        g.update({f"{k}_ok": v for k, v in it["goals_met"].items()})
    if "core" in q:
        g["time_to_quality_le_quarter"] = q.get("goal_met")
    d = results.get("defaults") or {}
    if "default_command" in d:
        g["default_run_le_142_in_30s"] = d["default_command"]["goal_met"]
        g["time_to_example_loss_le_0.2"] = d["time_to_example_loss"]["goal_met"]
    return g


def _print_table(summary: dict[str, Any]) -> None:
    width = max(len(k) for k in summary)
    for k, v in summary.items():
        print(f"{k:<{width}}  {to_json(v) if isinstance(v, (dict, list)) else v}")


# Sizes per mode. "smoke" only checks that the suite runs (tests/bench/test_bench.py): its numbers
# mean nothing.
SIZES: dict[str, dict[str, Any]] = {
    "full": {"n_train": 30_000, "reps": 3, "peak_n": 2048, "peak_reps": 5, "budget_s": None,
             "slider": 500, "manifold": 30, "encode": 15, "upload": 100, "cold_starts": 3,
             "probe_n": 12_800},
    "quick": {"n_train": 12_800, "reps": 3, "peak_n": 2048, "peak_reps": 3, "budget_s": 15.0,
              "slider": 200, "manifold": 10, "encode": 5, "upload": 30, "cold_starts": 1,
              "probe_n": 12_800},
    "smoke": {"n_train": 512, "reps": 1, "peak_n": 256, "peak_reps": 1, "budget_s": None,
              "slider": 10, "manifold": 2, "encode": 1, "upload": 3, "cold_starts": 1,
              "probe_n": 512},
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    t_total = time.perf_counter()
    # deferred: torch and the benchmarks take seconds to import; --help and a bad flag need none
    import torch

    from . import default_run, gpu, interactive, quality, scaling, training

    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    z = dict(SIZES[mode])
    if args.n_train:
        z["n_train"] = args.n_train
    if args.reps:
        z["reps"] = args.reps
    threads_info: dict[str, Any] = {"mode": args.threads, "default": torch.get_num_threads()}
    if args.threads == "auto":
        threads_info.update(training.calibrate_threads(
            seconds=0.05 if mode == "smoke" else 0.4))
        torch.set_num_threads(threads_info["chosen"])
    elif args.threads != "default":
        torch.set_num_threads(int(args.threads))
    threads_info["used"] = torch.get_num_threads()
    data_dir = resolve_data_dir(args.data_dir)
    train_ok = has_train_split(data_dir)
    selected = args.only or (BENCHMARKS if mode == "full" else QUICK)
    results: dict[str, Any] = {"mode": mode, "env": env_info(), "data_dir": data_dir,
                               "selected": list(selected), "threads": threads_info, "sizes": z}
    log(f"{mode} run: {', '.join(selected)}; data {data_dir}; torch threads "
        f"{torch.get_num_threads()} ({args.threads}: {threads_info}); load average "
        f"{results['env']['load_average']}")
    no_train = {"skipped": f"no MNIST training split found (data dir {data_dir}); pass "
                           "--data-dir or set VAE_DATA_DIR"}
    needs_train = {"training", "defaults", "probes", "quality"}

    for name in selected:
        if name in needs_train and not train_ok:
            results[name] = no_train
            log(f"--- {name}: skipped, {no_train['skipped']}")
            continue
        if name == "training":
            _run(name, lambda: training.throughput(
                data_dir, z["n_train"], z["reps"], peak_n=z["peak_n"], peak_reps=z["peak_reps"],
                budget_s=z["budget_s"]), results)
        elif name == "defaults":
            # The default command runs as a user types it: torch's own thread count (one per
            # core), not the suite's choice; the side-by-side run uses the suite's.
            _run(name, lambda: default_run.run_all(
                data_dir, None, 3 if mode == "quick" else
                1 if mode == "smoke" else default_run.EXAMPLE_EPOCHS), results)
        elif name == "probes":
            _run(name, lambda: training.probes(
                data_dir, min(z["n_train"], z["probe_n"]), z["reps"],
                try_compile=not args.no_compile and mode != "smoke"), results)
        elif name == "quality":
            _run(name, lambda: quality.time_to_quality(data_dir, args.target, args.epoch_cap),
                 results)
        elif name == "interactive":
            _run(name, lambda: interactive.run_all(
                data_dir, reps_slider=z["slider"], reps_manifold=z["manifold"],
                reps_encode=z["encode"], reps_upload=z["upload"],
                with_cold_start=not args.no_cold_start, cold_start_runs=z["cold_starts"]),
                 results)
        elif name == "scaling":
            _run(name, lambda: scaling.run_all(data_dir, train_ok, min(z["n_train"], 12_800),
                                               z["reps"]), results)
        elif name == "gpu":
            _run(name, lambda: gpu.run_all(data_dir, reps=z["reps"])
                 if train_ok or not gpu.available() else no_train, results)
    results["seconds_total"] = round(time.perf_counter() - t_total, 2)
    results["summary"] = summarize(results)

    out: Path = args.out
    if mode != "full":
        write_json(out / f"{mode}.json", results)
    else:
        if not args.only:  # a partial run must not overwrite the full run's latest.json
            write_json(out / "latest.json", results)
        for name in selected:
            if name in results:
                write_json(out / f"{name}.json", {"env": results["env"], name: results[name]})
        if not args.no_plots:
            from .plots import make_all  # deferred: matplotlib, only for a full run's PNGs

            results["plots"] = make_all(results, out)
            if results["plots"]:
                log("plots: " + ", ".join(str(out / f) for f in results["plots"]))
            if not args.only:
                write_json(out / "latest.json", results)
    results["summary"]["seconds_total"] = round(time.perf_counter() - t_total, 2)
    if args.json:
        print(to_json(results["summary"]))
    else:
        _print_table(results["summary"])
    return 0
