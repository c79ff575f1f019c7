"""A VAE this project did not train: a foreign model folder (decoder.onnx, optionally
encoder.onnx, and model.json; docs/onnx.md "Bring your own model") run with onnxruntime on
the CPU, behind the `VAE` API, so the CLI, the pages and the metrics use it as any model.

`load_onnx_model(folder)` validates the folder (onnx_checks), opens one InferenceSession per
graph (read-only, shared by every caller; onnxruntime's `run` is thread-safe) and test-runs
them on a few codes and images before anything else sees the model. onnxruntime is imported
inside the functions that open sessions (deferred: heavy, and only foreign models need it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .config import BINARIZE, DATASETS, IMAGE_SIZE, TrainConfig
from .errors import CheckpointError, NoEncoderError
from .model import VAE, Labels, VAEOutput, as_codes, as_images
from .onnx_checks import (DECODER, ENCODER, MANIFEST, Manifest, check_decoder, check_encoder,
                          read_graph, read_manifest, weight_count)

THREADS = 2  # per session: the app serves several people from a few cores
PROBE_SEED = 0
PROBE_BATCHES = (1, 5)  # two batch sizes: a graph traced with a fixed batch fails one
EPS = 1e-6  # probabilities are clamped to [EPS, 1 - EPS] before their logit


def is_onnx_model(path: str | Path) -> bool:
    """True if `path` is a folder holding model.json and decoder.onnx (a foreign model)."""
    p = Path(path)
    return p.is_dir() and (p / MANIFEST).is_file() and (p / DECODER).is_file()


def _session(data: bytes, file: str) -> Any:
    import onnxruntime as ort  # deferred: heavy, and only foreign models need it

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = THREADS
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3  # errors only: hostile graphs are refused with one line anyway
    try:
        return ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"])
    except Exception as e:  # noqa: BLE001 - onnxruntime raises its own classes for bad graphs
        raise CheckpointError(f"{file} cannot run in onnxruntime: {_line(e)}") from None


def _line(e: BaseException) -> str:
    return " ".join(str(e).split())[:160]


def _array(t: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(t.detach().cpu().numpy(), dtype=np.float32)


class OnnxVAE(VAE):
    """A foreign model's graphs behind the VAE API (encode, decode_logits, decode,
    reconstruct, sample, forward, interpolate, label_input). It has no torch layers; results
    come back on the device of the input (the graphs run on the CPU)."""

    foreign = True

    def __init__(self, folder: Path, manifest: Manifest, decoder: bytes,
                 encoder: bytes | None = None, weights: int = 0) -> None:
        nn.Module.__init__(self)  # not VAE.__init__: there are no layers to build
        self.cfg = manifest.cfg
        self.output = manifest.output
        self.manifest = manifest.raw
        self.class_names = manifest.class_names
        self.name = manifest.name or folder.name
        self.decoder_bytes = decoder
        self.encoder_bytes = encoder
        self.has_encoder = encoder is not None
        self.weight_count = weights
        # An empty parameter: library code that asks a model for its device and dtype
        # (next(model.parameters())) gets the CPU and float32, where the graphs' results are.
        self.anchor = nn.Parameter(torch.zeros(0), requires_grad=False)
        self._parts = (folder, manifest, decoder, encoder, weights)
        self._dec = _session(decoder, DECODER)
        self._enc = _session(encoder, ENCODER) if encoder is not None else None

    def __deepcopy__(self, memo: dict) -> OnnxVAE:
        """A copy with sessions of its own (onnxruntime's sessions cannot be copied)."""
        return OnnxVAE(*self._parts).train(self.training).requires_grad_(False)

    def __repr__(self) -> str:
        return (f"OnnxVAE({self.name!r}, latent_dim={self.cfg.latent_dim}, output="
                f"{self.output!r}, conditional={self.cfg.conditional}, "
                f"encoder={self.has_encoder})")

    # --- running the graphs --------------------------------------------------------------
    def _run(self, session: Any, file: str, first: torch.Tensor, c: torch.Tensor | None
             ) -> list[np.ndarray]:
        names = [i.name for i in session.get_inputs()]
        feeds = {names[0]: _array(first)}
        if c is not None:
            feeds[names[1]] = _array(c)
        try:
            return session.run(None, feeds)
        except Exception as e:  # noqa: BLE001 - onnxruntime's own error classes
            raise CheckpointError(f"{file} failed on a batch of {len(first)}: {_line(e)}"
                                  ) from None

    def _raw(self, z: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        """The decoder graph's output as [N,1,28,28] (logits or probabilities)."""
        n = len(z)
        if n == 0:
            return torch.zeros(0, 1, IMAGE_SIZE, IMAGE_SIZE, device=z.device)
        out = self._run(self._dec, DECODER, z, c)[0]
        if out.shape not in ((n, IMAGE_SIZE * IMAGE_SIZE), (n, 1, IMAGE_SIZE, IMAGE_SIZE)):
            raise CheckpointError(f"{DECODER} gave shape {list(out.shape)} for {n} codes; "
                                  f"expected [{n}, 784] or [{n}, 1, 28, 28]")
        img = torch.from_numpy(np.asarray(out, np.float32)).reshape(n, 1, IMAGE_SIZE,
                                                                     IMAGE_SIZE)
        return img.to(z.device)

    def _mean(self, z: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        """The mean image in [0, 1]: the graph's probabilities as they are, or sigmoid."""
        raw = self._raw(z, c)
        return raw if self.output == "probabilities" else torch.sigmoid(raw)

    def _decode(self, z: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        raw = self._raw(z, c)
        if self.output == "probabilities":
            return torch.logit(raw.clamp(EPS, 1 - EPS))
        return raw

    def _encode(self, x: torch.Tensor, c: torch.Tensor | None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        self._need_encoder()
        n, d = len(x), self.cfg.latent_dim
        if n == 0:
            return torch.zeros(0, d, device=x.device), torch.zeros(0, d, device=x.device)
        mu, logvar = self._run(self._enc, ENCODER, x, c)[:2]
        if mu.shape != (n, d) or logvar.shape != (n, d):
            raise CheckpointError(f"{ENCODER} gave shapes {list(mu.shape)} and "
                                  f"{list(logvar.shape)} for {n} images; expected [{n}, {d}]")
        return (torch.from_numpy(np.asarray(mu, np.float32)).to(x.device),
                torch.from_numpy(np.asarray(logvar, np.float32)).to(x.device))

    def _need_encoder(self) -> None:
        if self._enc is None:
            raise NoEncoderError(f"{self.name} has no encoder (encoder.onnx): it decodes "
                                 "codes but cannot encode images")

    # --- the VAE API where it asks a torch layer for the device -------------------------
    def _images(self, x: Any) -> torch.Tensor:
        return as_images(x)

    def encode(self, x: Any, y: Labels | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior (mu, logvar) [B,Z] of images x; NoEncoderError without encoder.onnx."""
        self._need_encoder()  # before the images and labels are checked: the first problem
        return super().encode(x, y)

    def forward(self, x: Any, y: Labels | None = None, beta: float = 1.0,
                iw_samples: int = 1, target: Any = None) -> VAEOutput:
        """Negative ELBO (or IWAE bound) as VAE.forward; no gradients flow through the
        graphs. NoEncoderError without encoder.onnx."""
        self._need_encoder()
        return super().forward(x, y, beta, iw_samples, target)

    def decode_logits(self, z: Any, y: Labels | None = None) -> torch.Tensor:
        """Logits [B,1,28,28] of codes z (the logit of the graph's probabilities if it
        gives probabilities)."""
        z = as_codes(z, self.cfg.latent_dim)
        return self._decode(z, self.label_input(y, z))

    def decode(self, z: Any, y: Labels | None = None) -> torch.Tensor:
        """Mean image in [0, 1] for codes z [B,Z] (and labels y) -> [B,1,28,28]."""
        z = as_codes(z, self.cfg.latent_dim)
        return self._mean(z, self.label_input(y, z))

    def reconstruct(self, x: Any, y: Labels | None = None, sample: bool = False,
                    generator: torch.Generator | None = None) -> torch.Tensor:
        """Decode the posterior mean (or a sample) of images x: [B,1,28,28] in [0, 1]."""
        self._need_encoder()
        x = self._images(x)
        c = self.label_input(y, x)
        mu, logvar = self._encode(x, c)
        return self._mean(self.reparameterize(mu, logvar, generator) if sample else mu, c)

    def sample(self, n: int, generator: torch.Generator | None = None, *,
               y: Labels | None = None) -> torch.Tensor:
        """n images decoded from z ~ N(0, I) on the CPU (under labels y if conditional)."""
        z = torch.randn(n, self.cfg.latent_dim, generator=generator)
        return self.decode(z, y)


def _probe(model: OnnxVAE) -> None:
    """Test-run both graphs on a few codes and images: finite, the right shapes, and
    probabilities within [0, 1]. Refuses the model (one line) otherwise."""
    g = torch.Generator().manual_seed(PROBE_SEED)
    d, k = model.cfg.latent_dim, model.n_labels
    for n in PROBE_BATCHES:
        z = torch.randn(n, d, generator=g)
        c = torch.eye(k)[torch.arange(n) % k] if k else None
        out = model._raw(z, c)
        if not torch.isfinite(out).all():
            raise CheckpointError(f"{DECODER} gives NaN or Inf for codes drawn from N(0, I)")
        if model.output == "probabilities" and not (out.min() >= 0 and out.max() <= 1):
            raise CheckpointError(f"{DECODER} gives values outside [0, 1] ({out.min():.3g}.."
                                  f"{out.max():.3g}) but model.json says output "
                                  "'probabilities'")
        if model.has_encoder:
            x = torch.rand(n, 1, IMAGE_SIZE, IMAGE_SIZE, generator=g)
            mu, logvar = model._encode(x, c)
            if not (torch.isfinite(mu).all() and torch.isfinite(logvar).all()):
                raise CheckpointError(f"{ENCODER} gives NaN or Inf for images in [0, 1]")


def load_onnx_model(path: str | Path) -> OnnxVAE:
    """A foreign model folder as an OnnxVAE (eval mode), after every check of onnx_checks and
    a test run; CheckpointError with a one-line reason otherwise."""
    folder = Path(path)
    manifest = read_manifest(folder)
    dec_bytes, dec = read_graph(folder / DECODER)
    check_decoder(dec, manifest)
    enc_bytes, weights = None, weight_count(dec)
    if (folder / ENCODER).exists():
        enc_bytes, enc = read_graph(folder / ENCODER)
        check_encoder(enc, manifest)
        weights += weight_count(enc)
    model = OnnxVAE(folder, manifest, dec_bytes, enc_bytes, weights)
    _probe(model)
    return model.eval().requires_grad_(False)


def load_foreign(path: str | Path) -> tuple[OnnxVAE, TrainConfig, dict[str, Any]]:
    """What `load_checkpoint` makes a Checkpoint of: the model, a TrainConfig naming only its
    dataset ("folder" for one that is not ours), and the info {"format": "onnx", "foreign":
    True, "manifest": model.json, "dataset": its dataset, "classes": its class names}."""
    model = load_onnx_model(path)
    dataset = model.manifest.get("dataset", "mnist")
    binar = model.manifest.get("binarization", "none")  # our own export records it
    tcfg = TrainConfig(dataset=dataset if dataset in DATASETS else "folder",
                       binarize=binar if binar in BINARIZE else "none")
    info = {"format": "onnx", "foreign": True, "manifest": model.manifest,
            "dataset": dataset, "classes": model.class_names}
    return model, tcfg, info
