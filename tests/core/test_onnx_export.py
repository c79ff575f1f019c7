"""ONNX export (vae_core.onnx_export): onnxruntime gives PyTorch's numbers (max abs diff 1e-4)
for every kind of bundled model (MLP, conv, conditional) and one built model covering the
other layer kinds, at batch sizes 1 and 7; model.json describes the graphs truly."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from vae_core import (CheckpointError, ExportError, ModelConfig, TrainConfig, load_checkpoint,
                      save_checkpoint)
from vae_core.model import build_model
from vae_core.onnx_export import FORMAT, FORMAT_VERSION, OPSET, export_onnx

pytestmark = pytest.mark.usefixtures("one_torch_thread")

REPO = Path(__file__).resolve().parents[2]
TOL = 1e-4
# Every structure the bundled models have: MLP, conv (no dense layer), conditional MLP.
BUNDLED = ["mnist-mlp-2d", "mnist-conv-2d", "mnist-cvae-2d"]


def built_checkpoint(root: Path) -> Path:
    """A conditional conv model with what no bundled model has: strides 2 and 1, a dense
    layer, LeakyReLU, dropout (off in eval), a Gaussian likelihood and 3 classes."""
    torch.manual_seed(0)
    cfg = ModelConfig(arch="conv", latent_dim=3, channels=[4, 8], strides=[2, 1],
                      conv_dense=16, activation="leaky_relu", dropout=0.1,
                      likelihood="gaussian", gaussian_var=0.3, conditional=True, n_classes=3)
    model = build_model(cfg).eval()
    with torch.no_grad():
        for p in model.parameters():  # fresh weights give logits near 0; these reach |l| > 1
            p.mul_(2.5)
    return save_checkpoint(root / "built", model, TrainConfig(),
                           {"epochs": 0}, extra={"classes": ["a", "b", "c"]})


@pytest.fixture(scope="module", params=[*BUNDLED, "built"])
def exported(request, tmp_path_factory):
    """(checkpoint, out_dir, paths) for one model, exported once for all tests below."""
    root = tmp_path_factory.mktemp("onnx")
    name = request.param
    src = built_checkpoint(root) if name == "built" else REPO / "checkpoints" / name
    ck = load_checkpoint(src)
    paths = export_onnx(ck, root / "out")
    return ck, root / "out", paths


def session(path: Path):
    import onnxruntime as ort

    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def labels(ck, n: int, test_labels: torch.Tensor) -> tuple[torch.Tensor | None, dict]:
    """One-hot rows for a conditional model (and the feed entry), else (None, {})."""
    k = ck.model.n_labels
    if not k:
        return None, {}
    y = torch.nn.functional.one_hot(test_labels[:n] % k, k).float()
    return y, {"y": y.numpy()}


@pytest.mark.parametrize("n", [1, 7])
def test_onnxruntime_matches_pytorch(exported, mnist_test, n):
    ck, out, _ = exported
    x = mnist_test.floats()[:n]
    y, feed_y = labels(ck, n, mnist_test.labels)
    mu, logvar = session(out / "encoder.onnx").run(["mu", "logvar"], {"x": x.numpy(), **feed_y})
    with torch.no_grad():
        mu_pt, logvar_pt = ck.model.encode(x, y)
        assert mu.shape == (n, ck.model_config.latent_dim)
        assert np.abs(mu - mu_pt.numpy()).max() <= TOL
        assert np.abs(logvar - logvar_pt.numpy()).max() <= TOL
        z = torch.randn(n, ck.model_config.latent_dim, generator=torch.Generator().manual_seed(n))
        (logits,) = session(out / "decoder.onnx").run(["logits"], {"z": z.numpy(), **feed_y})
        logits_pt = ck.model.decode_logits(z, y)
    assert logits.shape == (n, 1, 28, 28)
    assert np.abs(logits - logits_pt.numpy()).max() <= TOL
    assert np.abs(logits).max() > 1  # real logits, not an all-zero or sigmoid output


def test_graphs_pass_the_checker_and_match_model_json(exported):
    import onnx

    ck, out, paths = exported
    assert [p.name for p in paths] == ["encoder.onnx", "decoder.onnx", "model.json"]
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in paths)
    meta = json.loads((out / "model.json").read_text())
    cfg = ck.model_config
    k = cfg.n_classes if cfg.conditional else 0
    assert meta["format"] == FORMAT and meta["format_version"] == FORMAT_VERSION
    assert meta["opset"] == OPSET
    assert meta["latent_dim"] == cfg.latent_dim
    assert meta["conditional"] is cfg.conditional and meta["n_classes"] == k
    assert meta["class_names"] == (list(ck.info["classes"]) if k else [])
    assert meta["output"] == "logits" and meta["likelihood"] == cfg.likelihood
    assert meta.get("gaussian_var") == (cfg.gaussian_var if cfg.likelihood == "gaussian"
                                        else None)
    assert meta["dataset"] == ck.info.get("dataset", ck.train_config.dataset)
    assert meta["source_checkpoint"]["name"] == ck.name
    assert meta["source_checkpoint"]["path"] == str(ck.path)
    for part in ("encoder", "decoder"):
        model = onnx.load(out / meta[part]["file"])
        onnx.checker.check_model(model, full_check=True)
        assert {o.domain: o.version for o in model.opset_import}[""] == OPSET

        def shapes(values):
            return [{"name": v.name, "dtype": "float32",
                     "shape": [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]}
                    for v in values]

        assert all(v.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
                   for v in [*model.graph.input, *model.graph.output])
        assert shapes(model.graph.input) == meta[part]["inputs"]
        assert shapes(model.graph.output) == meta[part]["outputs"]
    assert [i["name"] for i in meta["decoder"]["inputs"]] == ["z", "y"][:1 + bool(k)]


def test_the_documented_reader_runs(exported, repo_root):
    """docs/onnx.md's "Reading it back" block, run as written on this export."""
    ck, out, _ = exported
    doc = (repo_root / "docs" / "onnx.md").read_text()
    code = doc.split("## Reading it back")[1].split("```python\n")[1].split("```")[0]
    assert 'folder = "mlp-onnx"' in code
    scope: dict = {}
    exec(code.replace('folder = "mlp-onnx"', f"folder = {str(out)!r}"), scope)
    x = torch.zeros(3, 1, 28, 28)
    y = torch.arange(3) if ck.model.n_labels else None
    with torch.no_grad():
        mu = ck.model.encode(x, y)[0]
        z = torch.from_numpy(scope["z"])
        expected = ck.model.decode(z, y)
    assert np.abs(scope["mu"] - mu.numpy()).max() <= TOL
    assert scope["images"].shape == (3, 1, 28, 28)
    assert np.abs(scope["images"] - expected.numpy()).max() <= TOL


def test_missing_exporter_packages_are_one_clear_error(tmp_path, monkeypatch):
    import vae_core.onnx_export as onnx_export

    monkeypatch.setattr(onnx_export, "find_spec", lambda name: None)
    ck = load_checkpoint(REPO / "checkpoints" / "mnist-mlp-2d")
    with pytest.raises(ExportError, match="needs the onnx and onnxscript packages: pip install"):
        export_onnx(ck, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_refuses_a_non_empty_folder_unless_force(tmp_path):
    ck = load_checkpoint(REPO / "checkpoints" / "mnist-mlp-2d")
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(CheckpointError, match="already holds files.*--force"):
        export_onnx(ck, out)
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    with pytest.raises(CheckpointError, match="existing file"):
        export_onnx(ck, a_file, force=True)
    assert a_file.read_text() == "x"
    (out / "encoder.onnx").write_bytes(b"old")
    paths = export_onnx(ck, out, force=True)
    assert (out / "notes.txt").read_text() == "mine"  # force replaces only the export's files
    assert paths[0].read_bytes()[:4] != b"old" and paths[0].stat().st_size > 100_000
    empty = tmp_path / "empty"
    empty.mkdir()
    assert len(export_onnx(ck, empty)) == 3  # an existing empty folder is fine
