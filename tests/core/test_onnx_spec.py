"""vae_core.onnx_spec: foreign decoder.onnx graphs (plain torch.nn decoders exported with
torch.onnx, and graphs written node by node) translated into the latent pad's layer spec; the
NumPy reference of the spec draws what onnxruntime draws, and a graph the pad cannot run
gives one ExportError line naming the op."""

from __future__ import annotations

import io
import json
import warnings
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from foreign_decode import onnx_pixels, write_module
from foreign_models import write_foreign
from onnx import TensorProto, helper, numpy_helper
from torch import nn

from vae_core import ExportError, decode_with_spec, export_decoder, load_checkpoint
from vae_core.onnx_spec import onnx_graph_spec

pytestmark = pytest.mark.usefixtures("one_torch_thread")
CONV_OPS = ["linear", "relu", "unflatten", "conv_transpose2d", "elu", "conv_transpose2d",
            "tanh", "conv2d", "flatten", "sigmoid"]


def _codes(d: int, n: int = 5) -> np.ndarray:
    return (np.random.default_rng(1).standard_normal((n, d)) * 2).astype(np.float32)


def _assert_draws_like_onnxruntime(data: bytes, spec: list, weights: np.ndarray, d: int,
                                   k: int = 0, output: str = "logits") -> None:
    z = _codes(d)
    labels = np.arange(len(z)) % k if k else None
    want = onnx_pixels(data, z, labels, k, output)
    got = decode_with_spec(spec, weights, z, labels).reshape(len(z), -1)
    assert np.abs(got - want).max() < 1e-4


@pytest.mark.parametrize("kind,dynamo,flat,output,k,d", [
    ("mlp", True, True, "logits", 0, 2),
    ("mlp", False, False, "probabilities", 0, 5),
    ("mlp", False, True, "logits", 10, 2),
    ("mlp", True, False, "probabilities", 4, 2),
    ("conv", True, False, "logits", 0, 2),
    ("conv", False, True, "probabilities", 0, 3),
    ("conv", False, False, "logits", 10, 2),
    ("conv", True, True, "probabilities", 0, 16),
])
def test_foreign_decoders_translate_to_what_onnxruntime_draws(
        tmp_path: Path, kind: str, dynamo: bool, flat: bool, output: str, k: int, d: int) -> None:
    folder = write_foreign(tmp_path, kind, d, encoder=False, n_classes=k, output=output,
                           flat=flat, dynamo=dynamo)
    data = (folder / "decoder.onnx").read_bytes()
    spec, weights = onnx_graph_spec(data, d, k, output)
    _assert_draws_like_onnxruntime(data, spec, weights, d, k, output)
    ops = [L["op"] for L in spec]
    assert (ops[0] == "one_hot") == bool(k) and ops.count("sigmoid") == 1 and ops[-1] == "sigmoid"
    if kind == "conv":
        assert ops[bool(k):] == CONV_OPS
    assert weights.dtype == np.float32 and json.loads(json.dumps(spec)) == spec


def test_export_decoder_translates_a_foreign_checkpoint(tmp_path: Path) -> None:
    """vae_core.export_decoder dispatches a foreign model (OnnxVAE) to the ONNX translation."""
    folder = write_foreign(tmp_path, "conv", 2, dynamo=False, n_classes=3)
    model = load_checkpoint(folder).model
    assert model.foreign
    spec, weights = export_decoder(model)
    same_spec, same_weights = onnx_graph_spec((folder / "decoder.onnx").read_bytes(), 2, 3)
    assert spec == same_spec and np.array_equal(weights, same_weights)
    assert spec[0] == {"op": "one_hot", "classes": 3, "shape": [5]}


@pytest.mark.parametrize("name", ["mnist-conv-2d", "mnist-cvae-2d"])
def test_our_own_onnx_export_translates_back_to_our_spec(tmp_path: Path, name: str) -> None:
    """A folder `export --onnx` wrote is a foreign model too: its decoder.onnx translates to
    the layers export_decoder gives the checkpoint, and draws the same digits."""
    from vae_core import export_onnx

    ck = load_checkpoint(Path(__file__).resolve().parents[2] / "checkpoints" / name)
    export_onnx(ck, tmp_path / name)
    k, d = ck.model.n_labels, ck.model_config.latent_dim
    spec, weights = onnx_graph_spec((tmp_path / name / "decoder.onnx").read_bytes(), d, k)
    ours, our_weights = export_decoder(ck.model)
    def compute(s: list) -> list:  # a final unflatten + flatten pair is dropped, rightly
        return [L["op"] for L in s if L["op"] not in ("flatten", "unflatten")]

    assert compute(spec) == compute(ours)
    z = _codes(d)
    labels = np.arange(len(z)) % k if k else None
    assert np.abs(decode_with_spec(spec, weights, z, labels)
                  - decode_with_spec(ours, our_weights, z, labels)).max() < 1e-4


def _graph(nodes: list, inits: dict[str, np.ndarray], out_shape: list, d: int = 2) -> bytes:
    graph = helper.make_graph(
        nodes, "decoder", [helper.make_tensor_value_info("z", TensorProto.FLOAT, ["N", d])],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", *out_shape])],
        [numpy_helper.from_array(v.astype(np.int64 if v.dtype.kind == "i" else np.float32), k)
         for k, v in inits.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    return model.SerializeToString()


def _rand(*shape: int) -> np.ndarray:
    return np.random.default_rng(sum(shape)).standard_normal(shape) * 0.3


def test_matmul_add_gemm_constants_and_reshapes_translate() -> None:
    """MatMul then Add (the bias in a Constant node), Gemm with transB=0 and alpha/beta,
    Dropout, a Cast to float, Unsqueeze and Reshape to [N, 1, 28, 28], and a final Sigmoid."""
    nodes = [
        helper.make_node("MatMul", ["z", "w1"], ["h1"]),
        helper.make_node("Constant", [], ["b1"],
                         value=numpy_helper.from_array(_rand(16).astype(np.float32))),
        helper.make_node("Add", ["b1", "h1"], ["h2"]),
        helper.make_node("Relu", ["h2"], ["h3"]),
        helper.make_node("Gemm", ["h3", "w2", "b2"], ["h4"], alpha=0.5, beta=2.0),
        helper.make_node("Dropout", ["h4"], ["h5"]),
        helper.make_node("Cast", ["h5"], ["h6"], to=TensorProto.FLOAT),
        helper.make_node("Sigmoid", ["h6"], ["h7"]),
        helper.make_node("Unsqueeze", ["h7", "axes"], ["h8"]),
        helper.make_node("Reshape", ["h8", "target"], ["x"]),
    ]
    data = _graph(nodes, {"w1": _rand(2, 16), "w2": _rand(16, 784), "b2": _rand(784),
                          "axes": np.array([2, 3]), "target": np.array([-1, 1, 28, 28])},
                  [1, 28, 28])
    spec, weights = onnx_graph_spec(data, 2, output="probabilities")
    assert [L["op"] for L in spec] == ["linear", "relu", "linear", "sigmoid"]
    _assert_draws_like_onnxruntime(data, spec, weights, 2, output="probabilities")


def _torch_onnx(module: nn.Module, d: int = 2) -> bytes:
    f = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module.eval(), (torch.randn(2, d),), f, input_names=["z"],
                          output_names=["x"], dynamo=False,
                          dynamic_axes={"z": {0: "N"}, "x": {0: "N"}})
    return f.getvalue()


def test_batch_norms_fold_into_the_layer_before_them() -> None:
    """The legacy exporter keeps BatchNormalization after Gemm and ConvTranspose: folded."""
    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(2, 8 * 7 * 7), nn.BatchNorm1d(392), nn.ReLU(),
                      nn.Unflatten(1, (8, 7, 7)), nn.ConvTranspose2d(8, 4, 4, 4),
                      nn.BatchNorm2d(4), nn.ReLU(), nn.Conv2d(4, 1, 3, 1, 1))
    for bn in (m[1], m[5]):
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
        bn.weight.data.uniform_(0.5, 1.5)
    data = _torch_onnx(m)
    assert [n.op_type for n in onnx.load_from_string(data).graph.node].count(
        "BatchNormalization") == 2
    spec, weights = onnx_graph_spec(data, 2)
    assert "BatchNormalization" not in json.dumps(spec)
    _assert_draws_like_onnxruntime(data, spec, weights, 2)


@pytest.mark.parametrize("dynamo", [False, True])
def test_a_code_viewed_as_an_image_translates(tmp_path: Path, dynamo: bool) -> None:
    """z[:, :, None, None] passes through a 3-D tensor; a batch norm after a ConvTranspose."""
    data = (write_module(tmp_path, "dcgan", 4, dynamo=dynamo) / "decoder.onnx").read_bytes()
    spec, weights = onnx_graph_spec(data, 4, output="probabilities")
    assert [L["op"] for L in spec][:2] == ["unflatten", "conv_transpose2d"]
    _assert_draws_like_onnxruntime(data, spec, weights, 4, output="probabilities")


def test_upsampling_gelu_and_softplus_translate(tmp_path: Path) -> None:
    """Ops the pad gained for foreign decoders, from both exporters (the dynamo one writes
    torch's softplus threshold as Where(Greater(x, 20), x, Softplus(x)))."""
    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(2, 4 * 7 * 7), nn.GELU(), nn.Unflatten(1, (4, 7, 7)),
                      nn.Upsample(scale_factor=4), nn.Softplus(), nn.Conv2d(4, 1, 3, 1, 1))
    legacy = _torch_onnx(m)
    dynamo = (write_module(tmp_path / "dynamo") / "decoder.onnx").read_bytes()
    assert "Where" in {n.op_type for n in onnx.load_from_string(dynamo).graph.node}
    for data in (legacy, dynamo):
        spec, weights = onnx_graph_spec(data, 2)
        ops = [L["op"] for L in spec]
        assert {"gelu", "upsample", "softplus"} <= set(ops), ops
        _assert_draws_like_onnxruntime(data, spec, weights, 2)


@pytest.mark.parametrize("layer,side,message", [
    (nn.Hardswish(), 28, "no HardSwish layer"),
    (nn.Mish(), 28, "not a chain of layers .*Mul node"),  # x * tanh(softplus(x)): a branch
    (nn.Upsample(scale_factor=2, mode="bilinear"), 14, "Resize node .*only by nearest neighbour"),
    (nn.MaxPool2d(2), 56, "no MaxPool layer"),
    (nn.GELU(approximate="tanh"), 28, "no Gelu layer"),
])
def test_an_op_the_pad_lacks_is_named(layer: nn.Module, side: int, message: str) -> None:
    m = nn.Sequential(nn.Linear(2, 4 * side * side), nn.Unflatten(1, (4, side, side)), layer,
                      nn.Conv2d(4, 1, 3, 1, 1), nn.Flatten())
    with pytest.raises(ExportError, match=message):
        onnx_graph_spec(_torch_onnx(m), 2)


def _mlp(*extra: object, out: int = 784, last: str = "h") -> tuple[list, dict]:
    nodes = [helper.make_node("Gemm", ["z", "w", "b"], ["h"], transB=1), *extra]
    if last != "x":
        nodes.append(helper.make_node("Identity", [last], ["x"]))
    return nodes, {"w": _rand(out, 2), "b": _rand(out)}


@pytest.mark.parametrize("build,message", [
    (lambda: _mlp(helper.make_node("Relu", ["h"], ["r"]),
                  helper.make_node("BatchNormalization", ["r", "g", "be", "m", "v"], ["n"]),
                  last="n"), "BatchNormalization node .* after relu"),
    (lambda: _mlp(helper.make_node("Add", ["h", "b"], ["s"]),
                  helper.make_node("Add", ["s", "h"], ["t"]), last="t"), "not a chain"),
    (lambda: _mlp(out=100), "not one 28x28 image"),
])
def test_graphs_the_pad_cannot_run_give_one_line(build, message: str) -> None:
    nodes, inits = build()
    n = inits["w"].shape[0]
    inits.update(g=np.ones(n), be=np.zeros(n), m=np.zeros(n), v=np.ones(n))
    with pytest.raises(ExportError, match=message):
        onnx_graph_spec(_graph(nodes, inits, [n]), 2)


def test_a_constant_that_is_not_a_bias_is_refused() -> None:
    nodes = [helper.make_node("Gemm", ["z", "w"], ["h"], transB=1),
             helper.make_node("Reshape", ["h", "t"], ["r"]),
             helper.make_node("Conv", ["r", "k"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Add", ["c", "image"], ["x"])]
    data = _graph(nodes, {"w": _rand(784, 2), "t": np.array([-1, 1, 28, 28]),
                          "k": _rand(1, 1, 3, 3), "image": _rand(1, 28, 28)}, [1, 28, 28])
    with pytest.raises(ExportError, match=r"constant of shape \[1, 28, 28\] .* not a bias"):
        onnx_graph_spec(data, 2)


def test_probabilities_without_a_final_sigmoid_and_damaged_bytes_are_refused() -> None:
    nodes, inits = _mlp(helper.make_node("Tanh", ["h"], ["x"]), last="x")
    with pytest.raises(ExportError, match="must end in a Sigmoid.* ends in tanh"):
        onnx_graph_spec(_graph(nodes, inits, [784]), 2, output="probabilities")
    with pytest.raises(ExportError, match="decoder.onnx cannot be read"):
        onnx_graph_spec(b"\x08\x07garbage" * 10, 2)
    with pytest.raises(ExportError, match="does not run in onnxruntime") as wrong_z:
        onnx_graph_spec(_graph(nodes, inits, [784]), 3)  # 3 values of z into a [784, 2] Gemm
    assert "\n" not in str(wrong_z.value)
    with pytest.raises(ExportError, match="inputs \\['z'\\] .* z and y in"):
        onnx_graph_spec(_graph(nodes, inits, [784]), 2, n_classes=3)


def test_a_translation_that_draws_another_digit_is_refused(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The last guard: the spec's output is compared with onnxruntime's."""
    import vae_core.onnx_spec as onnx_spec

    nodes, inits = _mlp()
    data = _graph(nodes, inits, [784])
    real = onnx_spec.run_spec
    monkeypatch.setattr(onnx_spec, "run_spec", lambda *a: real(*a) + 0.1)
    with pytest.raises(ExportError, match="does not reproduce onnxruntime's output"):
        onnx_graph_spec(data, 2)
