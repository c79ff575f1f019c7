"""Checks of a foreign model folder before anything runs it (docs/onnx.md, "Bring your own
model"): model.json's fields, and each graph file's size, format, structure and signature.

    model.json     latent_dim, output, dataset, conditional, n_classes, class_names, likelihood
    decoder.onnx   z [N,d] (+ y [N,K])  ->  one output [N,784] or [N,1,28,28]
    encoder.onnx   x [N,1,28,28] (+ y [N,K])  ->  mu, logvar [N,d]   (optional)

Every refusal is one CheckpointError line, as for a checkpoint folder. The `onnx` package is
imported inside the functions that parse a graph (deferred: it is heavy, and only foreign
models need it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import IMAGE_SIZE, MAX_CLASSES, ModelConfig, _short
from .errors import CheckpointError, ConfigError

MANIFEST, DECODER, ENCODER = "model.json", "decoder.onnx", "encoder.onnx"
ONNX_FILES = (MANIFEST, DECODER, ENCODER)
FORMAT = "latent-explorer-onnx"  # what our own export writes (vae_core.onnx_export.FORMAT)
OUTPUT_KINDS = ("logits", "probabilities")
MAX_MANIFEST_BYTES = 1_000_000
MAX_ONNX_BYTES = 200_000_000  # 50 M float32 weights: MAX_PARAMS of a checkpoint
MAX_NODES = 10_000  # a VAE decoder has tens; thousands already mean a graph we cannot show
MAX_NAME_CHARS = 64
FLOAT = 1  # onnx.TensorProto.FLOAT
PIXELS = IMAGE_SIZE * IMAGE_SIZE


@dataclass(frozen=True)
class Manifest:
    """model.json, checked: the config a VAE of its shape would have, and the rest."""

    cfg: ModelConfig
    output: str
    dataset: str
    class_names: list[str]
    name: str | None
    raw: dict[str, Any] = field(repr=False)


def _field(data: dict[str, Any], key: str, kind: type | tuple[type, ...], default: Any) -> Any:
    v = data.get(key, default)
    if not isinstance(v, kind) or (kind is int and isinstance(v, bool)):
        raise CheckpointError(f"model.json: {key} must be {_kind(kind)}, got {_short(v)}")
    return v


def _kind(kind: type | tuple[type, ...]) -> str:
    names = {bool: "true or false", int: "an integer", str: "a string", list: "a list",
             float: "a number"}
    return " or ".join(names[k] for k in (kind if isinstance(kind, tuple) else (kind,)))


def read_manifest(folder: Path) -> Manifest:
    """model.json of a foreign model folder, validated (CheckpointError, one line)."""
    file = folder / MANIFEST
    if not file.is_file():
        raise CheckpointError(f"{MANIFEST} is missing in {folder}")
    if file.stat().st_size > MAX_MANIFEST_BYTES:
        raise CheckpointError(f"{MANIFEST} is too large ({file.stat().st_size:,} bytes)")
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise CheckpointError(f"{MANIFEST} is not valid JSON: {str(e)[:80]}") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{MANIFEST} must hold a JSON object")
    if "format" in data and (data["format"] != FORMAT or data.get("format_version") != 1):
        raise CheckpointError(f"model.json: format {_short(data['format'])} version "
                              f"{_short(data.get('format_version'))} is unknown; expected "
                              f"{FORMAT!r} version 1 or no format field")
    if "latent_dim" not in data:
        raise CheckpointError("model.json has no latent_dim (the size of z)")
    output = _field(data, "output", str, "logits")
    if output not in OUTPUT_KINDS:
        raise CheckpointError(f"model.json: output must be 'logits' or 'probabilities', got "
                              f"{_short(output)}")
    conditional = _field(data, "conditional", bool, False)
    k = _field(data, "n_classes", int, 0)
    if conditional and not 2 <= k <= MAX_CLASSES:
        raise CheckpointError(f"model.json: a conditional model needs n_classes in "
                              f"2..{MAX_CLASSES}, got {k}")
    if not conditional and k:
        raise CheckpointError(f"model.json: n_classes is {k} but conditional is false (an "
                              "unconditional model has n_classes 0)")
    names = _field(data, "class_names", list, [])
    if not all(isinstance(n, str) and len(n) <= MAX_NAME_CHARS for n in names) \
            or len(names) > MAX_CLASSES:
        raise CheckpointError(f"model.json: class_names must be at most {MAX_CLASSES} strings "
                              f"of at most {MAX_NAME_CHARS} characters")
    if conditional and names and len(names) != k:
        raise CheckpointError(f"model.json: {len(names)} class_names for n_classes {k}")
    if conditional and not names:
        names = [str(i) for i in range(k)]
    dataset = _field(data, "dataset", str, "mnist")
    name = _field(data, "name", (str, type(None)), None)
    _field(data, "description", (str, type(None)), None)
    if dataset == "" or len(dataset) > MAX_NAME_CHARS or (name is not None and (
            name == "" or len(name) > MAX_NAME_CHARS)):
        raise CheckpointError(f"model.json: dataset and name must be 1..{MAX_NAME_CHARS} "
                              "characters")
    likelihood = {"likelihood": data.get("likelihood", "bernoulli")}
    if "gaussian_var" in data:
        likelihood["gaussian_var"] = data["gaussian_var"]
    try:
        cfg = ModelConfig(latent_dim=data["latent_dim"], conditional=conditional,
                          n_classes=k if conditional else 10, **likelihood)
    except (ConfigError, TypeError) as e:
        raise CheckpointError(f"model.json is invalid: {e}") from None
    return Manifest(cfg, output, dataset, names, name, data)


# --- graph files ----------------------------------------------------------------------------
def read_graph(file: Path) -> tuple[bytes, Any]:
    """The bytes and parsed ModelProto of one graph file, refused (one line) when it is too
    large, not an ONNX protobuf, refers to external data, has too many nodes or fails
    onnx.checker."""
    # deferred: onnx is heavy, and only foreign models need it (protobuf comes with it)
    import onnx
    from google.protobuf.message import DecodeError

    if not file.is_file():
        raise CheckpointError(f"{file.name} is missing in {file.parent}")
    size = file.stat().st_size
    if size > MAX_ONNX_BYTES:
        raise CheckpointError(f"{file.name} is too large ({size:,} bytes; at most "
                              f"{MAX_ONNX_BYTES:,})")
    data = file.read_bytes()
    proto = onnx.ModelProto()
    try:
        proto.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError) as e:
        raise CheckpointError(f"{file.name} is not an ONNX model (protobuf): "
                              f"{str(e)[:80]}") from None
    if not proto.HasField("graph") or not proto.opset_import:
        raise CheckpointError(f"{file.name} is not an ONNX model (it holds no graph)")
    graphs = _all_graphs(proto)
    if any(_is_external(t) for t in _all_tensors(graphs)):
        raise CheckpointError(f"{file.name} refers to external data files; export it with "
                              "its weights inside (external_data=False)")
    nodes = sum(len(g.node) for g in graphs)
    if nodes > MAX_NODES:
        raise CheckpointError(f"{file.name} has {nodes:,} nodes (at most {MAX_NODES:,})")
    try:
        onnx.checker.check_model(proto, full_check=True)
    except Exception as e:  # noqa: BLE001 - a hostile graph can make the checker raise anything
        msg = " ".join(str(e).split())[:160]
        raise CheckpointError(f"{file.name} fails the ONNX checker: {msg}") from None
    return data, proto


def _all_graphs(proto: Any) -> list[Any]:
    """The main graph, every subgraph (If/Loop/Scan bodies) and the model's functions."""
    todo, out = [proto.graph, *proto.functions], []
    while todo:
        g = todo.pop()
        out.append(g)
        for node in g.node:
            for a in node.attribute:
                todo += ([a.g] if a.HasField("g") else []) + list(a.graphs)
    return out


def _all_tensors(graphs: list[Any]) -> list[Any]:
    tensors = []
    for g in graphs:
        if hasattr(g, "initializer"):  # a FunctionProto has no initializers
            tensors += list(g.initializer)
            tensors += [t for s in g.sparse_initializer for t in (s.values, s.indices)]
        for node in g.node:
            for a in node.attribute:
                tensors += ([a.t] if a.HasField("t") else []) + list(a.tensors)
                tensors += [t for s in ([a.sparse_tensor] if a.HasField("sparse_tensor")
                                        else []) + list(a.sparse_tensors)
                            for t in (s.values, s.indices)]
    return tensors


def _is_external(t: Any) -> bool:
    return t.data_location == 1 or len(t.external_data) > 0  # 1: TensorProto.EXTERNAL


def weight_count(proto: Any) -> int:
    """Number of values in the graph's initializers (its weights)."""
    total = 0
    for t in proto.graph.initializer:
        n = 1
        for d in t.dims:
            n *= d
        total += n
    return total


# --- signatures -------------------------------------------------------------------------------
def _tensor(v: Any, file: str) -> list[int | None]:
    """The shape of a graph input/output (None for a named or unknown axis), float32 only."""
    if not v.type.HasField("tensor_type"):
        raise CheckpointError(f"{file}: {v.name!r} is not a tensor")
    tt = v.type.tensor_type
    if tt.elem_type != FLOAT:
        raise CheckpointError(f"{file}: {v.name!r} must be float32 (elem_type 1), got "
                              f"elem_type {tt.elem_type}")
    if not tt.HasField("shape"):
        return []  # unknown rank: the test run decides
    return [d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim]


def _fits(shape: list[int | None], want: tuple[int, ...]) -> bool:
    """An unknown shape, or [batch, *want] where every known size matches."""
    return not shape or (len(shape) == 1 + len(want)
                         and all(s is None or s == w for s, w in zip(shape[1:], want, strict=True)))


def graph_inputs(proto: Any) -> list[Any]:
    """The graph's real inputs (older exporters also list the initializers as inputs)."""
    weights = {t.name for t in proto.graph.initializer}
    return [i for i in proto.graph.input if i.name not in weights]


def _check_inputs(proto: Any, file: str, first: tuple[str, tuple[int, ...]], man: Manifest
                  ) -> None:
    ins, k = graph_inputs(proto), man.cfg.n_classes if man.cfg.conditional else 0
    if k and len(ins) == 1:
        raise CheckpointError(f"{file} has no label input y, but model.json says the model is "
                              "conditional")
    if len(ins) != 1 + bool(k):
        raise CheckpointError(f"{file} takes {len(ins)} inputs; model.json describes "
                              f"{'2 (' + first[0] + ', y)' if k else '1 (' + first[0] + ')'}")
    want = first[1]
    shape = _tensor(ins[0], file)
    if shape and shape[0] is not None:
        raise CheckpointError(f"{file}: input {ins[0].name!r} has a fixed batch size "
                              f"{shape[0]}; export it with a dynamic first axis (dynamic_axes "
                              "or dynamic_shapes)")
    if not _fits(shape, want):
        raise CheckpointError(f"{file}: input {ins[0].name!r} has shape {_show(shape)}; "
                              f"model.json needs {_show([None, *want])}")
    if k and not _fits(_tensor(ins[1], file), (k,)):
        raise CheckpointError(f"{file}: label input {ins[1].name!r} has shape "
                              f"{_show(_tensor(ins[1], file))}; model.json needs [N, {k}]")


def _show(shape: list[int | None]) -> str:
    return "[" + ", ".join("N" if i == 0 else "?" if s is None else str(s)
                           for i, s in enumerate(shape)) + "]"


def check_decoder(proto: Any, man: Manifest) -> None:
    """decoder.onnx takes z [N,d] (+ y [N,K]) and gives one [N,784] or [N,1,28,28]."""
    _check_inputs(proto, DECODER, ("z", (man.cfg.latent_dim,)), man)
    outs = list(proto.graph.output)
    if len(outs) != 1:
        raise CheckpointError(f"{DECODER} has {len(outs)} outputs; it must have one image "
                              "output [N, 784] or [N, 1, 28, 28]")
    shape = _tensor(outs[0], DECODER)
    if not (_fits(shape, (PIXELS,)) or _fits(shape, (1, IMAGE_SIZE, IMAGE_SIZE))):
        raise CheckpointError(f"{DECODER}: output {outs[0].name!r} has shape {_show(shape)}; "
                              "it must be [N, 784] or [N, 1, 28, 28]")


def check_encoder(proto: Any, man: Manifest) -> None:
    """encoder.onnx takes x [N,1,28,28] (+ y [N,K]) and gives mu, logvar [N,d]."""
    _check_inputs(proto, ENCODER, ("x", (1, IMAGE_SIZE, IMAGE_SIZE)), man)
    outs, d = list(proto.graph.output), man.cfg.latent_dim
    if len(outs) != 2:
        raise CheckpointError(f"{ENCODER} has {len(outs)} outputs; it must have two, mu and "
                              f"logvar [N, {d}]")
    for o in outs:
        shape = _tensor(o, ENCODER)
        if not _fits(shape, (d,)):
            raise CheckpointError(f"{ENCODER}: output {o.name!r} has shape {_show(shape)}; "
                                  f"model.json's latent_dim needs [N, {d}]")
