"""`python -m bench.report [results.json]`: a full run's results as the Markdown table of
bench/README.md (default bench/results/latest.json)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .common import RESULTS_DIR


def _ok(v: bool | None) -> str:
    return "n/a" if v is None else ("yes" if v else "**no**")


def _rates(d: dict[str, float] | None) -> str:
    return ", ".join(f"{k} thread(s): {v:,.0f}" for k, v in (d or {}).items()) or "n/a"


def render(r: dict[str, Any]) -> str:
    env, th = r.get("env", {}), r.get("threads", {})
    lines = [(f"Run of {env.get('time')}: {env.get('cpu')} x {env.get('cpu_count')} cores, torch "
             f"{env.get('torch')}, torch threads used {th.get('used')} (`--threads "
             f"{th.get('mode')}`; calibration step images/s "
             f"{_rates(th.get('step_images_per_s'))}), load "
             f"average at start {env.get('load_average')}, total {r.get('seconds_total')} s."), "",
             "| benchmark | measured | goal | met |", "| --- | --- | --- | --- |"]
    t = r.get("training") or {}
    if "speedup" in t:
        lines += [
            (f"| training images/s, core Trainer (median of {t['chunks']} 10-step turns) | "
            f"{t['core_images_per_s']:,.0f} | | |"),
            f"| training images/s, PyTorch example loop | {t['baseline_images_per_s']:,.0f} | | |",
            (f"| speedup core / example (median of paired ratios) | {t['speedup']:.2f}x | >= 4x | "
            f"{_ok(t['speedup'] >= 4)} |"),
            (f"| core GFLOP/s (3x forward convention; exact backward count) | "
            f"{t['core_gflops']:.1f} ({t['core_gflops_exact_backward']:.1f}) | | |"),
            (f"| fp32 matmul peak, 2048x2048 torch.mm (median) | "
            f"{t['matmul_peak_gflops']:.1f} GFLOP/s | | |"),
            (f"| core percent of peak (exact backward count) | {t['percent_of_peak']:.1f}% "
            f"({t['percent_of_peak_exact_backward']:.1f}%) | >= 50% | "
            f"{_ok(t['percent_of_peak'] >= 50)} |")]
        if "speedup_bound_at_fp32_peak" in t:
            b = t["speedup_bound_at_fp32_peak"]
            lines.append(f"| speedup bound if the core ran at 100% of fp32 peak | "
                         f"{b['convention_flops']:.2f}x ({b['exact_flops']:.2f}x exact count) "
                         "| | |")
    q = r.get("quality") or {}
    if "core" in q:
        c, b = q["core"], q["baseline"]

        def _at(side: dict[str, Any]) -> str:
            if not side["reached"]:
                return f"not reached in {q['epoch_cap']} epochs"
            return f"{side['wall_s']:.1f} s ({side['epochs']} epochs)"

        ratio = q.get("ratio_core_to_baseline")
        lines += [f"| time to test -ELBO <= {q['target_test_loss']}: core | {_at(c)} | | |",
                  (f"| time to test -ELBO <= {q['target_test_loss']}: example loop | {_at(b)} "
                  "| | |"),
                  (f"| time-to-quality ratio core / example | "
                  f"{'n/a' if ratio is None else f'{ratio:.2f}'} | <= 0.25 | "
                  f"{_ok(q.get('goal_met'))} |")]
    i = r.get("interactive") or {}
    if "slider_decode" in i:
        s, m, e, u = (i[k] for k in ("slider_decode", "manifold_40", "encode_test_set",
                                     "reconstruct_upload"))
        g = i["goals_met"]
        lines += [
            (f"| slider change -> decode -> PNG (x8), p50 / p95 over {s['n']} | "
            f"{s['p50_ms']:.2f} / {s['p95_ms']:.2f} ms | p95 <= 30 ms | {_ok(g['slider_p95'])} |"),
            (f"| 40x40 manifold decode + tile + PNG, median of {m['n']} | {m['median_ms']:.1f} ms "
            f"| <= 150 ms | {_ok(g['manifold_40_median'])} |"),
            (f"| encode the 10,000 test digits, median of {e['n']} | {e['median_ms']:.0f} ms "
            f"| <= 1 s | {_ok(g['encode_test_set_median'])} |"),
            (f"| uploaded PNG -> preprocess -> reconstruct, median of {u['n']} | "
            f"{u['median_ms']:.1f} ms (+ PNG out: {u['with_png_output']['median_ms']:.1f} ms) | "
            f"<= 100 ms | {_ok(g['reconstruct_upload_median'])} |")]
        cs = i.get("cold_start") or {}
        if cs.get("health_s"):
            lines.append(f"| app cold start: /_stcore/health ok / first HTML (median of "
                         f"{len(cs['runs'])}) | {cs['health_s']:.2f} s / "
                         f"{cs['first_html_s']:.2f} s "
                         "| | |")
    sc = r.get("scaling") or {}
    if "manifold" in sc:
        mm = sc["manifold"]["results"]
        lines.append("| manifold N = " + ", ".join(mm) + " (median) | " + ", ".join(
            f"{v['median_ms']:.1f}" for v in mm.values()) + " ms | | |")
        for n, v in sc["scatter"].items():
            lines.append(f"| go.Scattergl {int(n):,} points: build + to_json | "
                         f"{v['total_median_ms']:.1f} ms, {v['json_bytes'] / 1e3:,.0f} kB | | |")
    if "batch_size" in sc:
        bs = sc["batch_size"]["images_per_s"]
        lines.append("| core images/s at batch " + ", ".join(bs) + " | " + ", ".join(
            f"{v:,.0f}" for v in bs.values()) + " | | |")
        mc = sc["mlp_vs_conv"]
        lines.append(f"| core images/s MLP vs conv [32, 64] | {mc['images_per_s']['mlp']:,.0f} vs "
                     f"{mc['images_per_s']['conv']:,.0f} ({mc['mlp_over_conv']:.1f}x) | | |")
    g = r.get("gpu")
    if isinstance(g, dict):
        lines.append(f"| GPU | {g.get('gpu')} "
                     + (f"speedups {json.dumps(g['speedup_vs_baseline'])}"
                        if "speedup_vs_baseline" in g else "") + " | | |")
    p = r.get("probes") or {}
    if "variants" in p:
        lines += ["", ("Probes (ratios to the core's Trainer, median of paired 10-step turns; "
                  f"{p['torch_threads']} torch thread(s)):"), "",
                  "| variant | ratio to Trainer |", "| --- | --- |"]
        for k, v in p["variants"].items():
            lines.append(f"| {k} | {v['ratio_to_trainer']:.3f} |")
        lines.append(f"| Trainer with `precision='bf16'` vs fp32 (fresh Trainers, paired) | "
                     f"{p['trainer_precision']['ratio_to_fp32']['bf16']:.3f} |")
        for k, v in p["threads"]["ratio_to_1"].items():
            if k != "1":
                lines.append(f"| Trainer at {k} threads vs 1 thread | {v:.3f} |")
        d = p["example_dataloader_only"]
        lines += ["", (f"The example's DataLoader alone (PIL -> ToTensor -> collate, no training): "
                      f"{d['us_per_image']:.0f} us/image; the core Trainer's whole step: "
                      f"{d['trainer_us_per_image']:.0f} us/image. Matmul peak at 2048: fp32 "
                      f"{p['matmul_peak_gflops']['fp32']:.1f}, bf16 "
                      f"{p['matmul_peak_gflops']['bf16']:.1f} GFLOP/s. torch.compile: "
                      + (f"compiled in {p['compile']['compile_seconds']:.1f} s (the inductor "
                         "cache may have been warm)." if p["compile"].get("ok")
                         else f"{p['compile']}."))]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.report", description=__doc__)
    parser.add_argument("results", nargs="?", type=Path, default=RESULTS_DIR / "latest.json",
                        help="a results file of `python -m bench` (default: %(default)s)")
    path = parser.parse_args(argv).results
    try:
        results = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        print(f"error: cannot read {path}: {e}", file=sys.stderr)
        return 2
    print(render(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
