"""Hostile and odd foreign model folders (vae_core.onnx_checks, onnx_model's test run): each
is refused by load_checkpoint with one CheckpointError line naming the file and the problem.
model.json's fields, missing files, size and node bounds, non-protobuf bytes, onnx.checker,
external data, NaN weights, signatures that disagree with model.json, graphs that fail or give
the wrong shape at run time, pickles."""

from __future__ import annotations

import json
import shutil
import warnings
import zipfile
from io import BytesIO
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from foreign_models import _export, write_foreign
from onnx import numpy_helper
from torch import nn

from vae_core import CheckpointError, import_upload, load_checkpoint
from vae_core import onnx_checks

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A conv decoder with 4-D output and an encoder, and a conditional MLP; written once
    (legacy exporter: the fast one)."""
    root = tmp_path_factory.mktemp("foreign")
    return {"conv4d": write_foreign(root / "conv4d", "conv", 3, flat=False, dynamo=False),
            "cvae": write_foreign(root / "cvae", "mlp", 2, n_classes=3, dynamo=False)}


def refused(path: Path, *needles: str) -> str:
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(path)
    msg = str(e.value)
    assert "\n" not in msg and len(msg) < 300, msg
    for n in needles:
        assert n.lower() in msg.lower(), msg
    return msg


@pytest.fixture
def m(folders, tmp_path: Path) -> Path:
    """A fresh copy of the (legacy-exported, 4-D) conv folder to spoil."""
    return Path(shutil.copytree(folders["conv4d"], tmp_path / "m"))


def edit_json(folder: Path, **patch) -> None:
    data = json.loads((folder / "model.json").read_text())
    (folder / "model.json").write_text(json.dumps({**data, **patch}))


@pytest.mark.parametrize("patch, needle", [
    ({"latent_dim": "two"}, "latent_dim"), ({"latent_dim": 0}, "latent_dim"),
    ({"latent_dim": 500}, "latent_dim"), ({"output": "sigmoid"}, "output"),
    ({"conditional": True, "n_classes": 0}, "n_classes"),
    ({"conditional": False, "n_classes": 10}, "n_classes"),
    ({"conditional": "yes"}, "conditional"), ({"likelihood": "poisson"}, "likelihood"),
    ({"format": "someone-else", "format_version": 3}, "format"),
    ({"class_names": [1, 2]}, "class_names"), ({"dataset": ""}, "dataset"),
])
def test_invalid_model_json(m: Path, patch: dict, needle: str) -> None:
    edit_json(m, **patch)
    refused(m, needle)


@pytest.mark.parametrize("text, needle", [("{", "not valid JSON"), ("[1, 2]", "JSON object"),
                                          ('{"output": "logits"}', "latent_dim"),
                                          ("[" * 100_000, "not valid JSON")])
def test_broken_model_json(m: Path, text: str, needle: str) -> None:
    (m / "model.json").write_text(text)
    refused(m, needle)


def test_missing_files(m: Path) -> None:
    (m / "decoder.onnx").unlink()
    refused(m, "decoder.onnx is missing")
    (m / "model.json").unlink()
    refused(m, "model.json is missing")


@pytest.mark.parametrize("data", [b"", b"not an onnx file at all \x00\xff" * 50,
                                  bytes(range(256)) * 40])
def test_not_an_onnx_protobuf(m: Path, data: bytes) -> None:
    (m / "decoder.onnx").write_bytes(data)
    refused(m, "decoder.onnx", "not an ONNX model")


def test_too_large_and_too_many_nodes(m: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(onnx_checks, "MAX_ONNX_BYTES", 1000)
    refused(m, "decoder.onnx is too large")
    monkeypatch.undo()
    monkeypatch.setattr(onnx_checks, "MAX_NODES", 3)
    refused(m, "nodes")


def spoil(path: Path, change) -> None:
    proto = onnx.load(str(path))
    change(proto)
    path.write_bytes(proto.SerializeToString())


def test_checker_failure(m: Path) -> None:
    spoil(m / "decoder.onnx", lambda p: setattr(p.graph.node[0], "op_type", "NoSuchOp"))
    refused(m, "decoder.onnx fails the ONNX checker")


def test_external_data_is_refused(m: Path) -> None:
    def external(p) -> None:
        t = p.graph.initializer[0]
        t.ClearField("raw_data")
        t.data_location = onnx.TensorProto.EXTERNAL
        t.external_data.add(key="location", value="../../etc/passwd")
    spoil(m / "encoder.onnx", external)
    refused(m, "encoder.onnx", "external data")


@pytest.mark.parametrize("graph", ["decoder.onnx", "encoder.onnx"])
def test_nan_weights_are_refused(m: Path, graph: str) -> None:
    def nan(p) -> None:
        t = p.graph.initializer[0]
        t.CopyFrom(numpy_helper.from_array(np.full(numpy_helper.to_array(t).shape, np.nan,
                                                   np.float32), t.name))
    spoil(m / graph, nan)
    refused(m, graph, "NaN or Inf")


def test_probabilities_outside_unit_interval(m: Path) -> None:
    edit_json(m, output="probabilities")  # the graph gives logits
    refused(m, "outside [0, 1]", "probabilities")


def test_signature_must_match_model_json(folders, m: Path) -> None:
    edit_json(m, latent_dim=5)
    refused(m, "decoder.onnx", "input 'z'", "[N, 5]")
    edit_json(m, latent_dim=3, conditional=True, n_classes=4, class_names=[])
    refused(m, "no label input y")
    cvae = Path(shutil.copytree(folders["cvae"], m.parent / "cvae"))
    edit_json(cvae, conditional=False, n_classes=0)
    refused(cvae, "takes 2 inputs")


def write_graph(module: nn.Module, args: tuple, inputs: list[str], outputs: list[str],
                path: Path, dynamic: bool = True) -> None:
    if dynamic:
        _export(module, args, inputs, outputs, path, dynamo=False)
    else:  # a fixed batch size, as a careless export leaves it
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the legacy exporter's deprecation notes
            torch.onnx.export(module, args, str(path), input_names=inputs,
                              output_names=outputs, dynamo=False)


class Lin(nn.Module):
    def __init__(self, d_in: int, d_out: int, dtype=torch.float32) -> None:
        super().__init__()
        self.lin = nn.Linear(d_in, d_out).to(dtype)

    def forward(self, z):
        return self.lin(z)


class PairsOnly(Lin):
    """Works only on a batch of 2: the reshape's 2 is frozen into the graph."""

    def forward(self, z):
        return self.lin(z.reshape(2, -1))


class TwoHeads(nn.Module):
    def forward(self, x):
        return (x.flatten(1)[:, :3],)


@pytest.mark.parametrize("case, needle", [
    ("wrong output size", "output"), ("fixed batch", "fixed batch size 2"),
    ("float64 input", "float32"), ("undeclared wrong shape", "gave shape"),
    ("one encoder output", "outputs"), ("fails at run time", "failed on a batch of 1"),
])
def test_odd_graphs(m: Path, case: str, needle: str) -> None:
    z = torch.randn(2, 3)
    dec = m / "decoder.onnx"
    if case == "wrong output size":
        write_graph(Lin(3, 100), (z,), ["z"], ["x"], dec)
    elif case == "fixed batch":
        write_graph(Lin(3, 784), (z,), ["z"], ["x"], dec, dynamic=False)
    elif case == "float64 input":
        write_graph(Lin(3, 784, torch.float64), (z.double(),), ["z"], ["x"], dec)
    elif case == "fails at run time":
        write_graph(PairsOnly(3, 784), (z,), ["z"], ["x"], dec)
    elif case == "undeclared wrong shape":
        write_graph(Lin(3, 100), (z,), ["z"], ["x"], dec)
        spoil(dec, lambda p: setattr(p.graph.output[0].type.tensor_type.shape.dim[1],
                                     "dim_param", "W"))  # its size no longer declared
    else:
        write_graph(TwoHeads(), (torch.rand(2, 1, 28, 28),), ["x"], ["mu"],
                    m / "encoder.onnx")
    refused(m, needle)


def test_pickles_are_still_refused(m: Path, tmp_path: Path) -> None:
    (tmp_path / "model.pt").write_bytes(b"\x80\x04K\x01.")
    with pytest.raises(CheckpointError, match="pickle"):
        load_checkpoint(tmp_path / "model.pt")
    buf = BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for f in ("model.json", "decoder.onnx"):
            zf.write(m / f, f"m/{f}")
        zf.writestr("m/weights.pkl", b"\x80\x04K\x01.")
    with pytest.raises(CheckpointError, match="pickle"):
        import_upload([("m.zip", buf.getvalue())], tmp_path / "up")
    buf = BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.write(m / "model.json", "m/model.json")
    with pytest.raises(CheckpointError, match="zip has no decoder.onnx"):
        import_upload([("m.zip", buf.getvalue())], tmp_path / "up")
    assert not any((tmp_path / "up").iterdir())  # nothing left behind
