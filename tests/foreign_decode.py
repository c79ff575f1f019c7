"""Foreign decoders (tests/foreign_models.py) and what onnxruntime draws for them: the source of
truth that the pad's spec (vae_core.onnx_spec), node's decoder.js and Chromium's decoder.js
are held to (tests/core/test_onnx_spec.py, tests/app/test_pad_modules.py,
tests/e2e/test_foreign_decode.py, bench/latent_pad.py --foreign)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from foreign_models import write_foreign
from torch import nn

from vae_core import export_decoder, load_checkpoint

# name -> write_foreign's options (or write_module's kind): a conv and an MLP decoder, both
# exporters, both output kinds, flat and 4-D images, a conditional one, one with the ops the
# pad gained for foreign models, and a DCGAN-style one.
PAD_MODELS: dict[str, dict[str, Any]] = {
    "foreign-conv-legacy": {"kind": "conv", "dynamo": False, "flat": False, "latent_dim": 2},
    "foreign-mlp-cvae": {"kind": "mlp", "dynamo": True, "n_classes": 10, "latent_dim": 3,
                         "output": "probabilities"},
    "foreign-conv-dynamo": {"kind": "conv", "dynamo": True, "flat": True, "latent_dim": 8,
                            "output": "probabilities"},
    "foreign-upsample-gelu": {"kind": "upsample", "dynamo": True, "latent_dim": 2},
    "foreign-dcgan": {"kind": "dcgan", "dynamo": False, "latent_dim": 4,
                      "output": "probabilities"},
}


class ImageOfCode(nn.Module):
    """A DCGAN-style decoder: z viewed as a [d, 1, 1] image (two Unsqueezes through a 3-D
    tensor), transposed convolutions with a batch norm, a Sigmoid, then a view as [N, 784]."""

    def __init__(self, latent_dim: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.ConvTranspose2d(latent_dim, 16, 7), nn.BatchNorm2d(16),
                                 nn.LeakyReLU(0.2), nn.ConvTranspose2d(16, 8, 4, 2, 1),
                                 nn.ReLU(), nn.ConvTranspose2d(8, 1, 4, 2, 1), nn.Sigmoid())
        self.net[1].running_mean.uniform_(-1, 1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z[:, :, None, None]).view(-1, 784)


def module(kind: str, latent_dim: int, seed: int = 0) -> nn.Module:
    """The decoder of `kind`: "upsample" (nearest upsampling, GELU, Softplus) or "dcgan"."""
    torch.manual_seed(seed)
    if kind == "dcgan":
        return ImageOfCode(latent_dim).eval()
    return nn.Sequential(nn.Linear(latent_dim, 8 * 7 * 7), nn.GELU(), nn.Unflatten(1, (8, 7, 7)),
                         nn.Upsample(scale_factor=2), nn.Conv2d(8, 8, 3, 1, 1), nn.Softplus(),
                         nn.Upsample(scale_factor=2), nn.Conv2d(8, 1, 3, 1, 1)).eval()


def write_module(folder: Path, kind: str = "upsample", latent_dim: int = 2, *,
                 dynamo: bool = True, output: str = "logits") -> Path:
    """decoder.onnx of `module(kind)` (the dynamo exporter writes a softplus with its
    Where/Greater threshold) and its model.json."""
    body = module(kind, latent_dim)
    folder.mkdir(parents=True, exist_ok=True)
    z = (torch.randn(2, latent_dim),)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        if dynamo:
            torch.onnx.export(body, z, str(folder / "decoder.onnx"), input_names=["z"],
                              output_names=["x"], dynamo=True, external_data=False,
                              dynamic_shapes=({0: torch.export.Dim("N")},), verbose=False)
        else:
            torch.onnx.export(body, z, str(folder / "decoder.onnx"), input_names=["z"],
                              output_names=["x"], dynamo=False,
                              dynamic_axes={"z": {0: "N"}, "x": {0: "N"}})
    (folder / "model.json").write_text(json.dumps({"latent_dim": latent_dim,
                                                   "output": output}))
    return folder


def onnx_pixels(decoder: Path | bytes, z: np.ndarray, labels: Any = None, n_classes: int = 0,
                output: str = "logits") -> np.ndarray:
    """onnxruntime's image [B, 784] in [0, 1] for codes z [B, d] (and class indices)."""
    import onnxruntime as ort  # deferred: heavy, only the foreign tests need it

    data = decoder if isinstance(decoder, bytes) else Path(decoder).read_bytes()
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    feed = {names[0]: np.asarray(z, dtype=np.float32)}
    if n_classes:
        idx = np.broadcast_to(np.asarray(labels).reshape(-1), (len(z),))
        feed[names[1]] = np.eye(n_classes, dtype=np.float32)[idx]
    x = session.run(None, feed)[0].astype(np.float64).reshape(len(z), -1)
    return x if output == "probabilities" else 1.0 / (1.0 + np.exp(-x))


def pad_models(root: Path, n_codes: int = 3, seed: int = 0) -> list[dict[str, Any]]:
    """Each of PAD_MODELS written under `root`, translated through vae_core.export_decoder (a
    foreign checkpoint's OnnxVAE), with onnxruntime's pixels at a few codes: {"name", "spec",
    "weights" (float32 array), "zdim", "classes", "cases": [{"z", "label", "onnx"}]}."""
    g = np.random.default_rng(seed)
    out = []
    for name, opts in PAD_MODELS.items():
        if opts["kind"] in ("upsample", "dcgan"):
            folder = write_module(root / name, **opts)
        else:
            folder = write_foreign(root / name, encoder=False, **opts)
        spec, weights = export_decoder(load_checkpoint(folder).model)
        d, k = opts["latent_dim"], opts.get("n_classes", 0)
        cases = []
        for i in range(n_codes):
            z = (g.standard_normal((1, d)) * 1.5).astype(np.float32)
            label = (3 * i + 1) % k if k else None
            pixels = onnx_pixels(folder / "decoder.onnx", z, label, k,
                                 opts.get("output", "logits"))
            cases.append({"z": [float(v) for v in z[0]], "label": label,
                          "onnx": [float(v) for v in pixels[0]]})
        out.append({"name": name, "spec": spec, "weights": weights, "zdim": d, "classes": k,
                    "cases": cases})
    return out
