"""The command line, as a user runs it: `python -m vae_core ...` in a subprocess.

A full pipeline (train -> evaluate -> sample -> reconstruct -> info) on real MNIST, and user
errors: each must exit 2 with exactly one line on stderr and no traceback.

Each subprocess pays seconds of torch import, so after the one training run every other
command is started at once (a few at a time) by the module fixture `runs`; each test then
checks its own command's result.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vae_core import load_checkpoint
from vae_core.__main__ import COMMANDS, main

REPO_ROOT = Path(__file__).resolve().parents[2]


def cli(*args, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    return subprocess.run([sys.executable, "-m", "vae_core", *map(str, args)], cwd=REPO_ROOT,
                          env=env, capture_output=True, text=True, timeout=timeout,
                          check=False)


def assert_user_error(r: subprocess.CompletedProcess, *needles: str) -> None:
    lines = r.stderr.splitlines()
    assert r.returncode == 2, (r.returncode, r.stderr[-2000:])
    assert "Traceback" not in r.stderr
    assert len(lines) == 1, r.stderr
    for n in needles:
        assert n.lower() in lines[0].lower(), lines[0]


@pytest.fixture(scope="module")
def train_run(tmp_path_factory: pytest.TempPathFactory, mnist_dir: Path
              ) -> tuple[Path, subprocess.CompletedProcess]:
    out = tmp_path_factory.mktemp("cli") / "tiny"
    r = cli("train", "--data-dir", mnist_dir, "--limit", 500, "--epochs", 2, "--hidden", 64,
            "--latent-dim", 2, "--batch-size", 100, "--device", "cpu", "--out", out)
    return out, r


@pytest.fixture(scope="module")
def trained(train_run: tuple[Path, subprocess.CompletedProcess]) -> Path:
    out, r = train_run
    assert r.returncode == 0, r.stderr[-3000:]
    assert "Traceback" not in r.stderr
    assert f"saved {out}" in r.stdout
    return out


@pytest.fixture(scope="module")
def digit_png(tmp_path_factory: pytest.TempPathFactory, mnist_test) -> Path:
    img = 255 - mnist_test.images[0, 0].numpy()  # dark ink on white paper, like a photo
    f = tmp_path_factory.mktemp("img") / "digit.png"
    Image.fromarray(img).resize((140, 140)).save(f)
    return f


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("scratch")
    (d / "model.pt").write_bytes(b"\x80\x04K\x01.")
    (d / "text.png").write_text("this is not an image\n")
    (d / "empty.jpg").write_bytes(b"")
    buf = io.BytesIO()
    Image.new("L", (50, 50), 255).save(buf, "PNG")
    (d / "white.png").write_bytes(buf.getvalue())
    (d / "emptydir").mkdir()
    return d


@pytest.fixture(scope="module")
def runs(trained: Path, digit_png: Path, scratch: Path, mnist_dir: Path
         ) -> dict[str, subprocess.CompletedProcess]:
    d, ck = scratch, trained
    cases = {
        "help": ["--help"],
        "evaluate": ["evaluate", "--checkpoint", ck, "--data-dir", mnist_dir, "--json"],
        "sample": ["sample", "--checkpoint", ck, "--n", 16, "--out", d / "samples.png",
                   "--scale", 1],
        "reconstruct": ["reconstruct", "--checkpoint", ck, "--image", digit_png, "--out",
                        d / "rec.png", "--scale", 2],
        "info": ["info", "--checkpoint", ck, "--json"],
        "missing-data-dir": ["train", "--data-dir", d / "nowhere", "--out", d / "o1",
                             "--epochs", 1],
        "bad-checkpoint": ["info", "--checkpoint", d / "missing"],
        "pickle": ["sample", "--checkpoint", d / "model.pt", "--out", d / "s1.png"],
        "text-png": ["reconstruct", "--checkpoint", ck, "--image", d / "text.png", "--out",
                     d / "r1.png"],
        "zero-bytes": ["reconstruct", "--checkpoint", ck, "--image", d / "empty.jpg", "--out",
                       d / "r2.png"],
        "bad-args": ["train", "--epochs", "zero"],
        "evaluate-is": ["evaluate", "--checkpoint", ck, "--data-dir", mnist_dir, "--limit",
                        1000, "--is-samples", 2],
        "evaluate-is-json": ["evaluate", "--checkpoint", ck, "--data-dir", mnist_dir,
                             "--limit", 1000, "--is-samples", 2, "--json"],
    }
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {name: pool.submit(cli, *args) for name, args in cases.items()}
        return {name: f.result() for name, f in futures.items()}


# --- help ----------------------------------------------------------------------------------
def test_top_level_help_subprocess(runs) -> None:
    r = runs["help"]
    assert r.returncode == 0 and "Traceback" not in r.stderr
    for name in COMMANDS:
        assert name in r.stdout


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_subcommand_help(command: str, capsys: pytest.CaptureFixture) -> None:
    """In-process (each subprocess costs seconds of torch import); same parser and exit."""
    with pytest.raises(SystemExit) as ei:
        main([command, "--help"])
    assert ei.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: python -m vae_core " + command)
    assert "--help" in out


# --- the pipeline --------------------------------------------------------------------------
def test_train_writes_checkpoint(trained: Path) -> None:
    for name in ("config.json", "model.safetensors", "metrics.json", "optimizer.safetensors"):
        assert (trained / name).is_file(), name
    ck = load_checkpoint(trained)
    assert ck.metrics["epochs"] == 2 and ck.metrics["train_images"] == 500
    assert ck.model_config.hidden == [64] and ck.info["classes"] == [str(i) for i in range(10)]


def test_evaluate_matches_training_metrics(runs, trained: Path) -> None:
    r = runs["evaluate"]
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    m = json.loads((trained / "metrics.json").read_text())
    assert res["test_images"] == 10_000
    # Same weights, same test set, same fixed eval seed: the same number.
    for key in ("test_neg_elbo", "test_recon", "test_kl"):
        assert res[key] == pytest.approx(m[key], rel=1e-5, abs=1e-3), key
    assert res["binarization"] == "none" and res["likelihood"] == "bernoulli"


def test_sample_writes_png(runs, scratch: Path) -> None:
    r = runs["sample"]
    assert r.returncode == 0, r.stderr
    img = Image.open(scratch / "samples.png")
    assert img.size == (4 * 30 + 2, 4 * 30 + 2)  # 4x4 grid of 28px tiles with 2px padding


def test_reconstruct_writes_png(runs, scratch: Path) -> None:
    r = runs["reconstruct"]
    assert r.returncode == 0, r.stderr
    img = np.asarray(Image.open(scratch / "rec.png"))
    assert img.shape == (56, 112)
    assert img[:, :56].max() > 200  # the preprocessed input: a white digit on black
    assert np.median(img[:, :56]) < 30


def test_info(runs, trained: Path) -> None:
    r = runs["info"]
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["model"]["hidden"] == [64] and info["metrics"]["epochs"] == 2
    assert info["parameters"] == sum(p.numel() for p in load_checkpoint(trained).model.parameters())
    assert "history" not in info["metrics"]


# --- progress in a pipe: plain lines, no carriage-return frames; nothing under --json ------
def test_train_progress_in_a_pipe_is_one_line_per_epoch(trained: Path, train_run) -> None:
    """stderr is a pipe here: tqdm used to fill it with '\\r' frames."""
    err = train_run[1].stderr
    assert "\r" not in err
    lines = err.splitlines()
    assert [ln.split(":")[0] for ln in lines if ln.startswith("epoch ")] == ["epoch 1/2",
                                                                            "epoch 2/2"]
    assert len(lines) == 3  # the header line and one per epoch


def test_evaluate_progress_in_a_pipe(runs) -> None:
    r = runs["evaluate-is"]
    assert r.returncode == 0, r.stderr
    assert "\r" not in r.stderr
    lines = r.stderr.splitlines()
    assert len(lines) == 10 and all(ln.startswith("IS-NLL") for ln in lines), lines
    assert lines[-1].split(": ")[1].startswith("100% (1,000/1,000 images")
    assert "test_nll_is" in r.stdout


def test_evaluate_json_prints_only_the_json(runs) -> None:
    r = runs["evaluate-is-json"]
    assert r.returncode == 0 and r.stderr == "", r.stderr
    assert json.loads(r.stdout)["is_samples"] == 2


# --- user errors: exit 2, one line, no traceback ------------------------------------------
@pytest.mark.parametrize(("case", "needles"), [
    ("missing-data-dir", ["not found", "--data-dir"]),
    ("bad-checkpoint", ["not found"]),
    ("pickle", ["pickle"]),
    ("text-png", ["not an image"]),
    ("zero-bytes", ["empty"]),
    ("bad-args", ["invalid int value", "--epochs"]),
])
def test_user_error(runs, scratch: Path, case: str, needles: list[str]) -> None:
    assert_user_error(runs[case], *needles)
    written = {p.name for p in scratch.iterdir()}
    assert not written & {"o1", "s1.png", "r1.png", "r2.png"}


def in_process(args: list, capsys: pytest.CaptureFixture) -> tuple[int, str, str]:
    try:
        code = main([str(a) for a in args])
    except SystemExit as e:  # a flag refused by the parser
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(("case", "needle"), [
    ("empty-data-dir", "MNIST training set not found in"),
    ("bad-config", "--latent-dim"),
    ("blank", "no digit found"),
    ("n-range", "--n"),
    ("unwritable", "cannot write"),
    ("resume-missing", "not found"),
])
def test_more_user_errors_in_process(case: str, needle: str, trained: Path, scratch: Path,
                                     mnist_dir: Path, capsys: pytest.CaptureFixture) -> None:
    """Further user errors through the same `main` in-process (no torch import to pay)."""
    d, ck = scratch, trained
    args = {
        "empty-data-dir": ["train", "--data-dir", d / "emptydir", "--out", d / "o2"],
        "bad-config": ["train", "--data-dir", mnist_dir, "--latent-dim", 0, "--out", d / "o3"],
        "blank": ["reconstruct", "--checkpoint", ck, "--image", d / "white.png", "--out",
                  d / "r3.png"],
        "n-range": ["sample", "--checkpoint", ck, "--n", 0, "--out", d / "s2.png"],
        "unwritable": ["sample", "--checkpoint", ck, "--out", d / "no" / "such" / "s.png"],
        "resume-missing": ["train", "--resume", d / "nothing-here", "--data-dir", mnist_dir],
    }[case]
    code, _, err = in_process(args, capsys)
    assert code == 2
    assert len(err.splitlines()) == 1 and "error: " in err, err
    assert needle.lower() in err.lower()
    assert not {p.name for p in d.iterdir()} & {"o2", "o3", "r3.png", "s2.png", "no"}


@pytest.mark.parametrize(("dataset", "wants", "never"), [
    ("fashion-mnist", ["Fashion-MNIST training set not found",
                       "apt-get install dataset-fashion-mnist", "VAE_FASHION_DIR", "--download"],
     ["VAE_DATA_DIR", "VAE_FOLDER_DIR", "data/mnist"]),
    ("folder", ["no image folder given", "VAE_FOLDER_DIR", "--data-dir"],
     ["MNIST", "VAE_DATA_DIR", "VAE_FASHION_DIR", "apt-get", "--download"]),
])
def test_missing_dataset_says_its_own_fix(dataset: str, wants: list[str], never: list[str],
                                          monkeypatch, tmp_path: Path,
                                          capsys: pytest.CaptureFixture) -> None:
    """Each dataset's missing-data line names its own package, variable and files, never
    another dataset's (the Fashion-MNIST one used to ask for MNIST files)."""
    from vae_core import data as vdata

    for var in ("VAE_DATA_DIR", "VAE_FASHION_DIR", "VAE_FOLDER_DIR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(vdata, "FASHION_DEBIAN_DIR", tmp_path / "not-installed")
    code, _, err = in_process(["train", "--dataset", dataset, "--out", tmp_path / "o"], capsys)
    assert code == 2 and len(err.splitlines()) == 1 and err.startswith("error: "), err
    for w in wants:
        assert w in err, (w, err)
    for n in never:
        assert n not in err, (n, err)
    assert not (tmp_path / "o").exists()


def test_evaluate_with_importance_sampling(trained: Path, mnist_dir: Path,
                                           capsys: pytest.CaptureFixture) -> None:
    code, out, _ = in_process(["evaluate", "--checkpoint", trained, "--data-dir", mnist_dir,
                               "--json", "--limit", 200, "--is-samples", 20], capsys)
    assert code == 0
    res = json.loads(out)
    assert res["test_images"] == 200 and res["is_samples"] == 20
    # The importance-sampled NLL is a tighter bound than the ELBO (up to estimator noise).
    assert res["test_nll_is"] < res["test_neg_elbo"] + 1.0
    assert len(res["kl_per_dim"]) == 2 and 0 <= res["active_units"] <= 2


@pytest.mark.parametrize("args", [
    ["train", "--epochs", "zero"],
    ["train", "--arch", "transformer"],
    ["evaluate"],
    ["frobnicate"],
    [],
], ids=["non-int", "bad-choice", "missing-required", "unknown-command", "no-command"])
def test_bad_args(args: list[str], capsys: pytest.CaptureFixture) -> None:
    """In-process through the same `main` (argparse errors never reach torch)."""
    with pytest.raises(SystemExit) as ei:
        main(args)
    assert ei.value.code == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "error:" in err and "Traceback" not in err


def test_evaluate_save_stores_likelihood_metrics(tmp_path: Path, capsys) -> None:
    import json
    import shutil

    from vae_core.__main__ import main

    ck = tmp_path / "ck"
    shutil.copytree(Path(__file__).resolve().parents[2] / "checkpoints" / "mnist-mlp-2d", ck)
    before = json.loads((ck / "metrics.json").read_text())
    assert main(["evaluate", "--checkpoint", str(ck), "--is-samples", "4", "--save"]) == 0
    after = json.loads((ck / "metrics.json").read_text())
    assert after["is_samples"] == 4 and len(after["kl_per_dim"]) == 2
    assert 0 <= after["active_units"] <= 2
    # The IS estimate is never worse than the single-sample bound by more than noise.
    assert after["test_nll_is"] < before["test_neg_elbo"] + 1.0
    assert after["history"] == before["history"]  # merged, nothing lost
    # Without importance samples there is nothing comparable to store: refused, file unchanged.
    assert main(["evaluate", "--checkpoint", str(ck), "--save"]) == 2
    assert json.loads((ck / "metrics.json").read_text()) == after
    assert "--save needs" in capsys.readouterr().err
