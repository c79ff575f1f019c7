"""A foreign decoder.onnx translated into the latent pad's layer spec (vae_core/export.py's
conventions), so the browser decodes a model this project did not train.

The graph runs once in onnxruntime at a batch of 2 with every tensor as an extra output: that
gives each tensor's real shape and the value of everything off the data path (Reshape targets
computed by Shape/Slice/Concat subgraphs, Constant nodes), so only the nodes from z to the
image are translated (vae_core/onnx_layers.py). Anything the pad lacks raises ExportError
naming the op, and the app decodes on the server instead. The spec is checked against
onnxruntime's own output at the end: a translation that would draw another digit is refused.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import ExportError
from .onnx_layers import Translator
from .spec_reference import run_spec

PIXELS = 28 * 28
_LAYOUT_OPS = {"flatten", "unflatten"}
# onnxruntime (float32) against the float64 reference, on logits of a few units
_TOLERANCE = 1e-3


def onnx_decoder_spec(model: Any) -> tuple[list[dict[str, Any]], np.ndarray]:
    """(layer spec, flat float32 weights) of an OnnxVAE's decoder (vae_core.onnx_model), as
    vae_core.export_decoder gives for our own models; ExportError when the pad cannot run it."""
    k = int(model.cfg.n_classes) if model.cfg.conditional else 0
    return onnx_graph_spec(model.decoder_bytes, model.cfg.latent_dim, k, model.output)


def onnx_graph_spec(graph: Any, latent_dim: int, n_classes: int = 0, output: str = "logits"
                    ) -> tuple[list[dict[str, Any]], np.ndarray]:
    """The spec of a decoder graph (decoder.onnx's bytes or an onnx.ModelProto): z [N,
    latent_dim] (then a one-hot y [N, n_classes] when n_classes > 0) -> [N, 784] or [N, 1, 28,
    28] "logits" or "probabilities". The spec ends in the output sigmoid either way."""
    # deferred: onnx is heavy and needed only for foreign models
    import onnx

    if output not in ("logits", "probabilities"):
        raise ExportError(f"output must be 'logits' or 'probabilities', got {output!r}")
    try:
        proto = graph if isinstance(graph, onnx.ModelProto) else onnx.load_from_string(graph)
    except Exception as e:  # protobuf's DecodeError and friends: all mean a damaged file
        raise ExportError(f"decoder.onnx cannot be read: {_line(e)}") from None
    weights_in = {t.name for t in proto.graph.initializer}
    inputs = [i.name for i in proto.graph.input if i.name not in weights_in]
    if len(inputs) != 1 + bool(n_classes) or len(proto.graph.output) != 1:
        raise ExportError(f"the decoder graph has inputs {inputs} and "
                          f"{len(proto.graph.output)} outputs; the browser needs z"
                          f"{' and y' if n_classes else ''} in and one image out")
    feed = _feed(inputs, latent_dim, n_classes)
    values = _run_all(proto, feed)
    try:
        layers = Translator(proto.graph, inputs, values, n_classes).layers()
    except (KeyError, IndexError, ValueError, TypeError) as e:
        # a node missing an input or attribute the op needs, or weights of the wrong size:
        # a malformed graph onnxruntime happened to run; the server still decodes it
        raise ExportError(f"decoder.onnx cannot be translated for the browser: "
                          f"{type(e).__name__}: {_line(e)}") from None
    spec, weights = _finish(layers, output)
    _check(spec, weights, feed, values[proto.graph.output[0].name], output)
    return spec, weights


def _line(e: BaseException) -> str:
    """An exception's message as one short line (onnxruntime's run to several)."""
    return " ".join(str(e).split())[:300]


def _feed(inputs: list[str], latent_dim: int, n_classes: int) -> dict[str, np.ndarray]:
    """Two codes (and labels): a batch of 2 tells the batch axis from the others."""
    z = (np.random.default_rng(0).standard_normal((2, latent_dim)) * 1.5).astype(np.float32)
    feed = {inputs[0]: z}
    if n_classes:
        feed[inputs[1]] = np.eye(n_classes, dtype=np.float32)[[0, min(1, n_classes - 1)]]
    return feed


def _run_all(proto: Any, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every tensor's value for `feed`: initializers, Constant outputs and all node outputs."""
    # deferred: onnx and onnxruntime are heavy and needed only for foreign models
    import onnx
    import onnxruntime as ort
    from onnx import numpy_helper

    values: dict[str, np.ndarray] = dict(feed)
    for t in proto.graph.initializer:
        if t.data_location == onnx.TensorProto.EXTERNAL:
            raise ExportError(f"decoder.onnx refers to external data ({t.name})")
        values[t.name] = numpy_helper.to_array(t)
    probe = onnx.ModelProto()
    probe.CopyFrom(proto)
    wanted = {o.name for o in probe.graph.output}
    for node in probe.graph.node:
        for name in node.output:
            if name and name not in wanted:
                probe.graph.output.append(onnx.ValueInfoProto(name=name))
                wanted.add(name)
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    opts.log_severity_level = 3
    try:
        session = ort.InferenceSession(probe.SerializeToString(), opts,
                                       providers=["CPUExecutionProvider"])
        names = [o.name for o in session.get_outputs()]
        results = session.run(names, feed)
    except Exception as e:  # onnxruntime raises its own exception types for bad graphs
        raise ExportError(f"decoder.onnx does not run in onnxruntime: {_line(e)}") from None
    values.update(zip(names, (np.asarray(r) for r in results), strict=True))
    return values


def _finish(layers: list[dict[str, Any]], output: str) -> tuple[list[dict[str, Any]], np.ndarray]:
    """The spec ends in one flat image and the output sigmoid; weights laid out as offsets."""
    shape = layers[-1]["shape"] if layers else [0]
    if int(np.prod(shape)) != PIXELS or (len(shape) == 3 and shape[2] != 1):
        raise ExportError(f"the decoder's output has shape {shape}, not one 28x28 image")
    if len(shape) == 3 and layers[-1]["op"] == "unflatten":
        layers.pop()  # a flat image viewed as [1, 28, 28] at the end: nothing to move
    elif len(shape) == 3:
        layers.append({"op": "flatten", "shape": [PIXELS]})
    if output == "probabilities":
        # The pad wants the logits just before the last layer: the graph's final Sigmoid
        # (elementwise, so it commutes with the layout ops after it) becomes the spec's last.
        body = [i for i, L in enumerate(layers) if L["op"] not in _LAYOUT_OPS]
        if not body or layers[body[-1]]["op"] != "sigmoid":
            last = layers[body[-1]]["op"] if body else "nothing"
            raise ExportError(f"a decoder of probabilities must end in a Sigmoid for the "
                              f"browser; this one ends in {last}")
        del layers[body[-1]]
    layers.append({"op": "sigmoid", "shape": [PIXELS]})
    parts: list[np.ndarray] = []
    size = 0
    for layer in layers:
        for array_key, offset_key in (("W", "w"), ("B", "b")):
            if array_key not in layer:
                continue
            a = layer.pop(array_key)
            layer[offset_key] = -1 if a is None else size
            if a is not None:
                parts.append(np.ascontiguousarray(a, dtype=np.float32).ravel())
                size += parts[-1].size
    weights = np.concatenate(parts) if parts else np.zeros(0, np.float32)
    if not np.isfinite(weights).all():
        raise ExportError("decoder.onnx holds weights that are NaN or infinite")
    return layers, weights


def _check(spec: list[dict[str, Any]], weights: np.ndarray, feed: dict[str, np.ndarray],
           want: np.ndarray, output: str) -> None:
    """The spec must give onnxruntime's output for the probe codes (logits before the
    sigmoid, or the probabilities): anything else means a graph read the wrong way."""
    z, y = list(feed.values())[0], (list(feed.values()) + [None])[1]
    labels = None if y is None else y.argmax(1)
    got = run_spec(spec if output == "probabilities" else spec[:-1], weights, z, labels)
    want = np.asarray(want, dtype=np.float64).reshape(len(z), -1)
    err = float(np.abs(got - want).max()) if np.isfinite(want).all() else np.inf
    if not err <= _TOLERANCE * (1 + float(np.abs(want).max())):
        raise ExportError(f"the browser's translation of decoder.onnx does not reproduce "
                          f"onnxruntime's output (max difference {err:.3g})")
