"""The benchmark suite runs and reports well-formed numbers (tiny sizes; timings not checked)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from bench import report

SUMMARY_KEYS = ("train_speedup_vs_baseline", "train_images_per_s", "baseline_images_per_s",
                "slider_decode_p95_ms", "manifold_40_ms", "encode_test_set_s")


def _positive(v: object) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v) and v > 0


def test_baseline_loop_on_512_images(mnist_dir: Path) -> None:
    from bench import baseline
    from bench.training import baseline_epoch

    loader, test_loader = baseline.make_loaders(mnist_dir, 512, with_test=False)
    assert test_loader is None and len(loader.dataset) == 512
    x, _ = next(iter(loader))
    assert x.shape == (128, 1, 28, 28) and 0 <= x.min() and x.max() <= 1
    res = baseline_epoch(loader)
    assert res["images"] == 512
    assert all(_positive(res[k]) for k in ("seconds", "images_per_s", "train_loss"))
    assert 200 < res["train_loss"] < 600  # nats per image after a few steps from scratch


def test_baseline_matches_core_objective() -> None:
    """Same math: the example's summed loss / B equals the core's mean -ELBO for one z."""
    from bench import baseline
    from bench.training import core_model_config
    from vae_core import build_model

    torch.manual_seed(0)
    core = build_model(core_model_config())
    x = torch.rand(16, 1, 28, 28)
    torch.manual_seed(1)
    out = core(x)
    torch.manual_seed(1)
    mu, lv = core.encode(x)
    z = mu + (0.5 * lv).exp() * torch.randn_like(mu)
    ref = baseline.loss_function(core.decode(z).flatten(1), x, mu, lv) / len(x)
    assert torch.allclose(out.loss, ref, rtol=1e-4)


def test_core_epoch_and_flops(mnist_train) -> None:
    from bench.training import core_epoch, core_model_config, matmul_peak, train_flops_per_image
    from vae_core import Split, build_model

    small = Split(mnist_train.images[:512], mnist_train.labels[:512], mnist_train.classes)
    res = core_epoch(small)
    assert res["images"] == 512 and res["epochs"] == 1 and _positive(res["images_per_s"])
    flops = train_flops_per_image(build_model(core_model_config()))
    macs = 784 * 400 + 2 * 400 * 20 + 20 * 400 + 400 * 784
    assert flops["forward"] == 2 * macs and flops["train_convention"] == 6 * macs
    assert flops["forward"] < flops["train_exact"] < flops["train_convention"]
    assert _positive(matmul_peak(128, 2)["median_gflops"])


def test_interactivity_functions_few_reps(mnist_test) -> None:
    from bench import interactive

    ck = interactive.load_model()  # the pages' own ui.derived / ui.figures calls, timed
    s = interactive.slider_decode(ck, reps=5)
    assert s["n"] == 5 and all(_positive(s[k]) for k in ("p50_ms", "p95_ms", "png_bytes"))
    assert s["p50_ms"] <= s["p95_ms"]
    m = interactive.manifold_png(ck, 10, reps=2)
    assert m["tiles"] == 100 and _positive(m["median_ms"]) and _positive(m["png_bytes"])
    e = interactive.encode_test_set(ck.model, mnist_test.floats()[:200], reps=1)
    assert e["images"] == 200 and _positive(e["median_ms"])
    png = interactive.upload_png(mnist_test.floats()[0, 0].numpy())
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    r = interactive.reconstruct_upload(ck, png, reps=2)
    assert _positive(r["median_ms"]) and _positive(r["with_png_output"]["median_ms"])


def test_cli_smoke_prints_json_last(mnist_dir: Path, tmp_path: Path, capsys) -> None:
    from bench.runner import main

    rc = main(["--smoke", "--json", "--only", "training", "interactive", "gpu",
               "--no-cold-start", "--threads", "1", "--data-dir", str(mnist_dir),
               "--out", str(tmp_path)])
    assert rc == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    summary = json.loads(last)
    for k in SUMMARY_KEYS:
        assert _positive(summary[k]), (k, summary[k])
    assert summary["torch_threads"] == 1
    if not torch.cuda.is_available():
        assert summary["gpu"] == "not available on this machine"
    saved = json.loads((tmp_path / "smoke.json").read_text())
    assert saved["training"]["n_images"] == 512
    assert saved["summary"]["train_images_per_s"] == summary["train_images_per_s"]


def test_gpu_code_path_on_cpu(mnist_dir: Path) -> None:
    """The CUDA benchmark's code (fp32 and bf16 autocast, baseline taking turns) runs; here on
    the CPU with tiny sizes, since the GPU is not always there."""
    from bench import gpu

    if not torch.cuda.is_available():
        assert gpu.run_all(mnist_dir) == {"gpu": "not available on this machine"}
    res = gpu.run_all(mnist_dir, n_images=512, reps=1, every=2, device="cpu", peak_n=64)
    for p in ("fp32", "bf16"):
        assert _positive(res[p]["core_images_per_s"]) and _positive(res[p]["speedup"])
        assert len(res[p]["core_images_per_s_all"]) == len(res[p]["baseline_images_per_s_all"])


def test_report_takes_a_results_file_or_says_why_not(tmp_path: Path, capsys) -> None:
    """`python -m bench.report`: --help is help (it was read as a file name), a missing or
    broken file is one line and exit 2, a real results file renders."""
    with pytest.raises(SystemExit) as help_exit:
        report.main(["--help"])
    assert help_exit.value.code == 0 and "results" in capsys.readouterr().out
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    for path in (tmp_path / "missing.json", broken):
        assert report.main([str(path)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: cannot read") and err.count("\n") == 1
    assert report.main([str(Path(report.RESULTS_DIR) / "latest.json")]) == 0
    assert "| benchmark |" in capsys.readouterr().out


def test_latent_pad_checkpoint_must_be_a_folder(tmp_path: Path, capsys) -> None:
    """`python -m bench.latent_pad --checkpoint X`: a missing folder is one line and exit 2,
    before any server or browser starts."""
    from bench import latent_pad

    with pytest.raises(SystemExit) as bad:
        latent_pad.main(["--checkpoint", str(tmp_path / "nope")])
    err = capsys.readouterr().err
    assert bad.value.code == 2 and "--checkpoint" in err and "no such model folder" in err
    assert err.count("error:") == 1 and err.strip().splitlines()[-1].count("error:") == 1
