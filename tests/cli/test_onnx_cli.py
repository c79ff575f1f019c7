"""The command line on foreign ONNX model folders (tests/foreign_models.py): `sample` gives
onnxruntime's own numbers, `info`, `reconstruct` and `evaluate` work (the last two only with
an encoder.onnx), and what needs torch weights (`export`, `train --resume`) is refused with
one line and exit 2. In-process (cli_helpers.run): no subprocess pays torch's import."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
from cli_helpers import refused, run
from foreign_models import write_foreign
from PIL import Image

from vae_core import evaluate_elbo, load_checkpoint, load_split

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """An MLP with encoder (logits), a conv decoder alone giving probabilities, a conditional
    MLP; each written once for the module (legacy exporter: the fast one)."""
    root = tmp_path_factory.mktemp("foreign-cli")
    return {
        "mlp": write_foreign(root / "mlp", "mlp", 2, dynamo=False),
        "prob": write_foreign(root / "prob", "conv", 3, output="probabilities", flat=False,
                              encoder=False, dynamo=False, seed=1),
        "cvae": write_foreign(root / "cvae", "mlp", 2, n_classes=3, dynamo=False, seed=2,
                              manifest={"class_names": ["zero", "one", "two"]}),
    }


@pytest.fixture(scope="module")
def digit_png(tmp_path_factory: pytest.TempPathFactory, mnist_test) -> Path:
    f = tmp_path_factory.mktemp("img") / "digit.png"
    Image.fromarray(mnist_test.images[1, 0].numpy()).save(f)  # white on black, as MNIST
    return f


def onnx_decode(folder: Path, z: np.ndarray, y: np.ndarray | None = None) -> np.ndarray:
    """onnxruntime's mean images [N,28,28] for codes z: sigmoid of logits, or the
    probabilities themselves, as model.json says."""
    meta = json.loads((folder / "model.json").read_text())
    session = ort.InferenceSession(str(folder / "decoder.onnx"))
    feeds = {"z": z.astype(np.float32), **({"y": y.astype(np.float32)} if y is not None
                                            else {})}
    (out,) = session.run(None, feeds)
    out = out.reshape(len(z), 28, 28).astype(np.float64)
    return out if meta["output"] == "probabilities" else 1 / (1 + np.exp(-out))


@pytest.mark.parametrize("name", ["mlp", "prob"])
def test_sample_equals_onnxruntime(folders, tmp_path: Path, capsys, name: str) -> None:
    out = tmp_path / "x.npy"
    code, stdout, _ = run(["sample", "--checkpoint", folders[name], "--n", 16, "--seed", 7,
                           "--out", out], capsys)
    assert code == 0 and "wrote" in stdout
    got = np.load(out)
    d = json.loads((folders[name] / "model.json").read_text())["latent_dim"]
    z = torch.randn(16, d, generator=torch.Generator().manual_seed(7)).numpy()
    assert got.shape == (16, 28, 28) and got.dtype == np.float32
    np.testing.assert_allclose(got, onnx_decode(folders[name], z), atol=1e-6)


def test_sample_conditional_by_class_name(folders, tmp_path: Path, capsys) -> None:
    out = tmp_path / "two.npy"
    assert run(["sample", "--checkpoint", folders["cvae"], "--n", 5, "--label", "two",
                "--out", out], capsys)[0] == 0
    z = torch.randn(5, 2, generator=torch.Generator().manual_seed(0)).numpy()
    y = np.eye(3)[[2] * 5]
    np.testing.assert_allclose(np.load(out), onnx_decode(folders["cvae"], z, y), atol=1e-6)
    grid = tmp_path / "styles.png"  # no --label: each row one style as every class
    assert run(["sample", "--checkpoint", folders["cvae"], "--n", 9, "--out", grid],
               capsys)[0] == 0
    assert Image.open(grid).size == (2 * (3 * 30 + 2),) * 2


def test_info(folders, capsys) -> None:
    code, out, _ = run(["info", "--checkpoint", folders["cvae"], "--json"], capsys)
    info = json.loads(out)
    assert code == 0 and info["foreign"] is True and info["format"] == "onnx"
    assert info["latent_dim"] == 2 and info["n_classes"] == 3 and info["encoder"] is True
    assert info["class_names"] == ["zero", "one", "two"] and info["output"] == "logits"
    assert info["parameters"] > 1000
    code, out, _ = run(["info", "--checkpoint", folders["prob"]], capsys)
    info = json.loads(out)
    assert info["encoder"] is False and info["output"] == "probabilities"


def test_reconstruct(folders, digit_png: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "rec.png"
    code, _, err = run(["reconstruct", "--checkpoint", folders["mlp"], "--image", digit_png,
                        "--out", out, "--scale", 1], capsys)
    assert code == 0, err
    assert Image.open(out).size == (56, 28)
    res = run(["reconstruct", "--checkpoint", folders["cvae"], "--image", digit_png,
               "--out", tmp_path / "c.png", "--label", 1], capsys)
    assert res[0] == 0, res[2]
    refused(run(["reconstruct", "--checkpoint", folders["prob"], "--image", digit_png,
                 "--out", tmp_path / "none.png"], capsys), "has no encoder (encoder.onnx)")
    assert not (tmp_path / "none.png").exists()


def test_evaluate(folders, capsys, mnist_dir: Path) -> None:
    code, out, err = run(["evaluate", "--checkpoint", folders["mlp"], "--limit", 50,
                          "--data-dir", mnist_dir, "--json"], capsys)
    assert code == 0, err
    res = json.loads(out)
    x = load_split("mnist", False, mnist_dir, limit=50).floats()
    want = evaluate_elbo(load_checkpoint(folders["mlp"]).model, x)
    assert res["test_images"] == 50
    assert res["test_neg_elbo"] == pytest.approx(want["test_neg_elbo"], rel=1e-6)
    refused(run(["evaluate", "--checkpoint", folders["prob"], "--limit", 50], capsys),
            "has no encoder (encoder.onnx)", "evaluate")


def test_what_needs_torch_weights_is_refused(folders, tmp_path: Path, capsys) -> None:
    refused(run(["export", "--checkpoint", folders["mlp"], "--onnx", tmp_path / "o"], capsys),
            "foreign ONNX model", "export")
    assert not (tmp_path / "o").exists()
    refused(run(["train", "--resume", folders["mlp"], "--epochs", 3], capsys),
            "foreign ONNX model", "--resume")


def test_hostile_folder_is_one_line(folders, tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "model.json").write_text('{"latent_dim": 2}')
    (bad / "decoder.onnx").write_bytes(b"\x00garbage" * 100)
    refused(run(["sample", "--checkpoint", bad, "--out", tmp_path / "s.npy"], capsys),
            "decoder.onnx", "not an ONNX model")
    assert not (tmp_path / "s.npy").exists()
