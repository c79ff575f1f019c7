"""ONNX export of a VAE checkpoint: encoder.onnx, decoder.onnx and model.json (docs/onnx.md).

    encoder.onnx   x [N,1,28,28] float32 in [0,1]  (+ y [N,K] one-hot)  ->  mu, logvar [N,d]
    decoder.onnx   z [N,d] float32                 (+ y [N,K] one-hot)  ->  logits [N,1,28,28]

N is a dynamic axis; y is an input only of a conditional model. The decoder gives logits, as
PyTorch's `VAE.decode_logits` does: the mean image is sigmoid(logits) under either likelihood.
model.json says how to read both graphs back (format FORMAT, version FORMAT_VERSION).

torch.onnx.export's dynamo exporter (the default and the one not deprecated in torch 2.x)
needs the `onnxscript` package; it and `onnx` are imported only here, when exporting.
"""

from __future__ import annotations

import copy
import json
import os
import time
import warnings
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .checkpoint import Checkpoint, check_output_dir
from .config import IMAGE_SIZE
from .errors import ExportError
from .model import VAE
from .provenance import package_version

FORMAT, FORMAT_VERSION = "latent-explorer-onnx", 1
ENCODER, DECODER, MANIFEST = "encoder.onnx", "decoder.onnx", "model.json"
OPSET = 20  # what the exporter writes natively (no version conversion); onnxruntime >= 1.17
BATCH = "N"  # the name of the dynamic batch axis in both graphs


class _Encoder(nn.Module):
    """x [N,1,28,28] (, y [N,K]) -> (mu, logvar). Calls VAE._encode with the one-hot rows as
    given: the public encode() validates and converts labels in Python, which tracing would
    freeze into the graph."""

    def __init__(self, vae: VAE) -> None:
        super().__init__()
        self.vae = vae

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        return self.vae._encode(x, y)


class _Decoder(nn.Module):
    """z [N,d] (, y [N,K]) -> logits [N,1,28,28] (VAE._decode, for the same reason)."""

    def __init__(self, vae: VAE) -> None:
        super().__init__()
        self.vae = vae

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.vae._decode(z, y)


def io_spec(ck: Checkpoint) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Inputs and outputs of both graphs: name, dtype and shape ("N" is the batch axis)."""
    d, k = ck.model_config.latent_dim, ck.model.n_labels

    def t(name: str, *shape: int | str) -> dict[str, Any]:
        return {"name": name, "dtype": "float32", "shape": [BATCH, *shape]}

    label = [t("y", k)] if k else []
    return {"encoder": {"inputs": [t("x", 1, IMAGE_SIZE, IMAGE_SIZE), *label],
                        "outputs": [t("mu", d), t("logvar", d)]},
            "decoder": {"inputs": [t("z", d), *label],
                        "outputs": [t("logits", 1, IMAGE_SIZE, IMAGE_SIZE)]}}


def manifest(ck: Checkpoint, seconds: float | None = None) -> dict[str, Any]:
    """model.json: everything an importer needs to use the two graphs (docs/onnx.md)."""
    mcfg, tcfg, info = ck.model_config, ck.train_config, ck.info
    conditional = ck.model.n_labels > 0
    classes = [str(c) for c in info.get("classes") or []] if conditional else []
    if conditional and len(classes) != mcfg.n_classes:
        classes = [str(i) for i in range(mcfg.n_classes)]  # older checkpoints record none
    likelihood: dict[str, Any] = {"likelihood": mcfg.likelihood}
    if mcfg.likelihood == "gaussian":
        likelihood["gaussian_var"] = mcfg.gaussian_var
    spec = io_spec(ck)
    return {
        "format": FORMAT, "format_version": FORMAT_VERSION, "opset": OPSET,
        "latent_dim": mcfg.latent_dim, "conditional": conditional,
        "n_classes": ck.model.n_labels, "class_names": classes,
        "output": "logits", **likelihood, "mean": "sigmoid(logits)",
        "dataset": info.get("dataset") or tcfg.dataset, "binarization": tcfg.binarize,
        "image": {"channels": 1, "height": IMAGE_SIZE, "width": IMAGE_SIZE,
                  "range": [0.0, 1.0], "ink": "white on black"},
        "encoder": {"file": ENCODER, **spec["encoder"]},
        "decoder": {"file": DECODER, **spec["decoder"]},
        "source_checkpoint": {"name": ck.name, "path": str(ck.path), "format": info.get("format"),
                              "created": info.get("created"), "epochs": ck.metrics.get("epochs"),
                              "test_neg_elbo": ck.metrics.get("test_neg_elbo")},
        "model_config": mcfg.to_dict(),
        "exported": {"package_version": package_version(), "torch": torch.__version__,
                     "seconds": seconds,
                     "at": time.strftime("%Y-%m-%dT%H:%M:%S%z")},
    }


def _to_onnx(module: nn.Module, args: tuple[torch.Tensor, ...], names: dict[str, Any]) -> bytes:
    import onnx  # deferred with the exporter itself: only exporting needs them

    batch = torch.export.Dim(BATCH)  # the graphs' dynamic axis gets this name
    inputs = [i["name"] for i in names["inputs"]]
    with warnings.catch_warnings():
        # x and y share the one batch Dim on purpose; the exporter remarks on it.
        warnings.filterwarnings("ignore", message=".*shares the same shape constraints")
        program = torch.onnx.export(
            module.eval(), args, None, input_names=inputs,
            output_names=[o["name"] for o in names["outputs"]], opset_version=OPSET,
            dynamo=True, dynamic_shapes={n: {0: batch} for n in inputs},
            external_data=False, verbose=False)
    proto = program.model_proto
    onnx.checker.check_model(proto, full_check=True)
    return proto.SerializeToString()


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)  # a reader never sees half a file


def export_onnx(ck: Checkpoint, out_dir: str | Path, *, force: bool = False) -> list[Path]:
    """Write `out_dir`/encoder.onnx, decoder.onnx and model.json for a loaded checkpoint;
    returns their paths. Refuses an existing file, or an existing non-empty folder unless
    force (CheckpointError, checkpoint.check_output_dir); with force only these three files
    are replaced, anything else in the folder stays. See docs/onnx.md for the format."""
    if ck.model.foreign:  # nothing to trace: its folder already holds its graphs
        raise ExportError(f"{ck.name} is a foreign ONNX model: export needs a checkpoint with "
                          "torch weights (config.json + model.safetensors)")
    missing = [m for m in ("onnx", "onnxscript") if find_spec(m) is None]
    if missing:  # checked before anything is written or traced
        raise ExportError(f"ONNX export needs the {' and '.join(missing)} package"
                          f"{'s' * (len(missing) > 1)}: pip install {' '.join(missing)}")
    out = check_output_dir(out_dir, force=force)
    t0 = time.perf_counter()
    vae = copy.deepcopy(ck.model).cpu().eval()  # the caller's model stays where it is
    d, k, n = ck.model_config.latent_dim, vae.n_labels, 2
    y = (torch.eye(k)[:n],) if k else ()
    spec = io_spec(ck)
    with torch.no_grad():
        enc = _to_onnx(_Encoder(vae), (torch.rand(n, 1, IMAGE_SIZE, IMAGE_SIZE), *y),
                       spec["encoder"])
        dec = _to_onnx(_Decoder(vae), (torch.randn(n, d), *y), spec["decoder"])
    seconds = round(time.perf_counter() - t0, 3)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / ENCODER, out / DECODER, out / MANIFEST]
    _write(paths[0], enc)
    _write(paths[1], dec)
    _write(paths[2], (json.dumps(manifest(ck, seconds), indent=2) + "\n").encode())
    return paths
