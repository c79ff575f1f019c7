"""Models this project did not train: plain `torch.nn` decoders (and encoders) written here,
exported with `torch.onnx` into a folder with a small model.json, as a researcher would bring
them (docs/onnx.md, "Bring your own model").

`write_foreign(folder, kind=...)` writes decoder.onnx (+ encoder.onnx) and model.json and
returns the folder; `foreign_modules(...)` gives the PyTorch modules themselves (seeded), so a
test can compare onnxruntime, the app and the browser against the source of truth.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

PIXELS = 784


class Encoder(nn.Module):
    """x [N,1,28,28] in [0, 1] (+ one-hot y [N,K]) -> (mu, logvar) [N,d]."""

    def __init__(self, latent_dim: int, n_classes: int = 0, hidden: int = 64) -> None:
        super().__init__()
        self.n_classes = n_classes
        self.body = nn.Sequential(nn.Linear(PIXELS + n_classes, hidden), nn.Tanh())
        self.mu = nn.Linear(hidden, latent_dim)
        self.logvar = nn.Linear(hidden, latent_dim)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        h = x.flatten(1)
        if y is not None:
            h = torch.cat([h, y], 1)
        h = self.body(h)
        return self.mu(h), self.logvar(h)


class Conditional(nn.Module):
    """A decoder of [z, y]: the one-hot label appended to the code, as a CVAE's is."""

    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        self.body = body

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.body(torch.cat([z, y], 1))


def decoder_body(kind: str, inputs: int, output: str, flat: bool) -> nn.Sequential:
    """A plain Sequential decoder: "mlp" (Linear/ReLU/LeakyReLU), "conv" (Linear, then
    ConvTranspose2d up to 28x28, then a Conv2d) or "hardswish" (an MLP with HardSwish)."""
    if kind == "mlp":
        layers: list[nn.Module] = [nn.Linear(inputs, 128), nn.ReLU(), nn.Linear(128, 256),
                                   nn.LeakyReLU(0.1), nn.Linear(256, PIXELS)]
        if not flat:
            layers.append(nn.Unflatten(1, (1, 28, 28)))
    elif kind == "conv":
        layers = [nn.Linear(inputs, 32 * 7 * 7), nn.ReLU(), nn.Unflatten(1, (32, 7, 7)),
                  nn.ConvTranspose2d(32, 16, 4, 2, 1), nn.ELU(),
                  nn.ConvTranspose2d(16, 8, 3, 2, 1, output_padding=1), nn.Tanh(),
                  nn.Conv2d(8, 1, 3, 1, 1)]
        if flat:
            layers.append(nn.Flatten())
    elif kind == "hardswish":  # an op the browser's pad lacks: the app decodes it on the server
        layers = [nn.Linear(inputs, 64), nn.Hardswish(), nn.Linear(64, PIXELS)]
    else:
        raise ValueError(f"kind must be mlp, conv or hardswish, got {kind!r}")
    if output == "probabilities":
        layers.append(nn.Sigmoid())
    return nn.Sequential(*layers)


def foreign_modules(kind: str = "mlp", latent_dim: int = 2, *, n_classes: int = 0,
                    output: str = "logits", flat: bool = True, seed: int = 0
                    ) -> tuple[nn.Module, nn.Module]:
    """(decoder, encoder), seeded, in eval mode. n_classes > 0 makes them conditional."""
    torch.manual_seed(seed)
    body = decoder_body(kind, latent_dim + n_classes, output, flat)
    decoder = Conditional(body) if n_classes else body
    encoder = Encoder(latent_dim, n_classes)
    return decoder.eval(), encoder.eval()


def _export(module: nn.Module, args: tuple[torch.Tensor, ...], inputs: list[str],
            outputs: list[str], path: Path, dynamo: bool) -> None:
    batch = torch.export.Dim("N")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if dynamo:
            torch.onnx.export(module, args, str(path), input_names=inputs, output_names=outputs,
                              dynamo=True, external_data=False,
                              dynamic_shapes=tuple({0: batch} for _ in inputs), verbose=False)
        else:
            torch.onnx.export(module, args, str(path), input_names=inputs, output_names=outputs,
                              dynamo=False, dynamic_axes={n: {0: "N"} for n in inputs + outputs})


def write_foreign(folder: str | Path, kind: str = "mlp", latent_dim: int = 2, *,
                  encoder: bool = True, n_classes: int = 0, output: str = "logits",
                  flat: bool = True, seed: int = 0, dynamo: bool = True,
                  dataset: str = "mnist", manifest: dict[str, Any] | None = None) -> Path:
    """Write a foreign model folder: decoder.onnx (+ encoder.onnx) and a small model.json
    (latent size, output kind, dataset, class names). `manifest` adds or replaces fields."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    dec, enc = foreign_modules(kind, latent_dim, n_classes=n_classes, output=output,
                               flat=flat, seed=seed)
    y = (torch.eye(n_classes)[[0, 1]],) if n_classes else ()
    names = ["z", "y"] if n_classes else ["z"]
    with torch.no_grad():
        _export(dec, (torch.randn(2, latent_dim), *y), names, ["x"], out / "decoder.onnx",
                dynamo)
        if encoder:
            _export(enc, (torch.rand(2, 1, 28, 28), *y), ["x", "y"][:1 + bool(n_classes)],
                    ["mu", "logvar"], out / "encoder.onnx", dynamo)
    meta: dict[str, Any] = {"latent_dim": latent_dim, "output": output, "dataset": dataset,
                            "conditional": bool(n_classes), "n_classes": n_classes,
                            "class_names": [str(i) for i in range(n_classes or 10)]}
    meta.update(manifest or {})
    (out / "model.json").write_text(json.dumps(meta, indent=2) + "\n")
    return out
