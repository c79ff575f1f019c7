"""The latent pad's payloads, built one way for both of its hosts: the app's pad
(ui.latent_pad, through ui.derived's caches) and the notebook widget (vae_core.notebook).

The browser reads them as raw little-endian arrays (ui/frontend/latent_pad/plane.js): the
plane's points are float32 [n, 2] codes followed by uint8 [n] labels; its hover images are
uint8 [n, 28, 28]; decoder and classifier weights are float32. No JSON, no base64.
`pad_payload` assembles all of it for one model, with the JSON the pad reads beside them (the
app assembles the same in ui.latent_pad, from its caches).
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

import numpy as np
import torch

from .classifier import CLASS_COLORS, load_classifier
from .data import load_split
from .errors import DataNotFoundError, ExportError, VAEError
from .export import export_classifier, export_decoder
from .latent import encode_dataset
from .model import VAE

MAX_DIMS = 64  # the pad's sliders and its browser decode stay usable up to here
MAX_WEIGHT_BYTES = 64 * 2**20  # beyond this the download and the decode would both be slow
POINTS = 5000  # test digits on the 2-D plane; their images as uint8 are 3.9 MB
TILES = 15  # manifold tiles per side under the plane (tile centres span [-range, range])
HOOKS_ENV = "VAE_TEST_HOOKS"  # "1": the pad defines its window.* test hooks (as in the app)
BLOBS = ("decoder", "points", "images", "reader")  # the payloads pad_payload gives by name


def payload_hash(data: bytes) -> str:
    """The name a payload travels under to the browser (24 hex digits of its sha256): the
    page keeps each payload once per name."""
    return hashlib.sha256(data).hexdigest()[:24]


def pad_points_bytes(mu: np.ndarray, labels: np.ndarray, n: int) -> bytes:
    """float32 [n, 2] codes (the first two columns of the posterior means `mu`) then uint8
    [n] labels, of the first n test digits (fewer if there are fewer)."""
    n = min(int(n), len(mu), len(labels))
    return (np.ascontiguousarray(np.asarray(mu)[:n, :2], dtype="<f4").tobytes()
            + np.asarray(labels)[:n].astype(np.uint8).tobytes())


def pad_images_bytes(images: np.ndarray, n: int) -> bytes:
    """uint8 [n, 28, 28] of the first n test images (floats in [0, 1], [N, 28, 28])."""
    return np.round(np.asarray(images)[:int(n)] * 255).astype(np.uint8).tobytes()


def class_mean_codes(mu: np.ndarray, labels: np.ndarray, n_classes: int) -> np.ndarray:
    """[C, Z]: the mean posterior mean of each class's images (where the plane's digit keys
    jump); 0 for a class with no image."""
    return np.stack([mu[labels == c].mean(0) if (labels == c).any()
                     else np.zeros(mu.shape[1], np.float32) for c in range(n_classes)])


def float_bytes(weights: np.ndarray) -> bytes:
    """Flat weights as the little-endian float32 the browser's Float32Array reads."""
    return np.asarray(weights).astype("<f4").tobytes()


def _test_codes(model: VAE, dataset: str, n: int) -> tuple[np.ndarray, np.ndarray,
                                                          np.ndarray, list[str]]:
    """(posterior means [n, Z], labels [n], images [n, 28, 28], class names) of the first n
    test digits; a conditional model encodes each under its own label (its codes are style)."""
    split = load_split(dataset, train=False, limit=n)
    x, labels = split.floats(), split.labels
    y = labels if model.n_labels else None
    if getattr(model, "foreign", False):  # onnxruntime: no torch parameters to place it on
        with torch.no_grad():
            mu = model.encode(x, y)[0]
    else:
        was_training = model.training
        model.eval()  # an in-memory model may be mid-training: encode as the app would
        try:
            mu = encode_dataset(model, x, y=y)[0]
        finally:
            model.train(was_training)
    return (np.asarray(mu, dtype=np.float32), labels.numpy(), x[:, 0].numpy(),
            list(split.classes))


def _reader(dataset: str) -> tuple[list[dict[str, Any]], bytes] | None:
    """The digit classifier for the page (MNIST models only; None when its files are
    missing or damaged: the pad then shows no reading)."""
    if dataset != "mnist":
        return None
    try:
        spec, weights = export_classifier(load_classifier())
    except (VAEError, OSError):
        return None
    return spec, float_bytes(weights)


def _ref(data: bytes, what: str, **extra: Any) -> dict[str, Any]:
    return {"hash": payload_hash(data), "bytes": len(data), "what": what, **extra}


def pad_payload(model: VAE, dataset: str = "mnist", points: int = POINTS
                ) -> tuple[dict[str, Any], dict[str, bytes | None]]:
    """What the widget sends the pad: (the JSON `data` the app's pad gets, less z, label,
    range and the URLs; the blobs by name: decoder, points, images, reader, None if absent).

    Raises VAEError (ExportError) with one line when the decoder cannot run in the page."""
    zdim = int(model.cfg.latent_dim)
    if zdim > MAX_DIMS:
        raise ExportError(f"z has {zdim} dimensions (the pad takes up to {MAX_DIMS})")
    spec, weights = export_decoder(model)  # ExportError names the layer the page lacks
    decoder = float_bytes(weights)
    if len(decoder) > MAX_WEIGHT_BYTES:
        raise ExportError(f"the decoder has {len(decoder) / 2**20:.0f} MB of weights "
                          f"(the pad takes up to {MAX_WEIGHT_BYTES // 2**20} MB)")
    data: dict[str, Any] = {
        "tiles": TILES, "dims": [f"z{i}" for i in range(zdim)],
        "decoder": _ref(decoder, "the decoder", spec=spec), "points": None, "images": None,
        "classes": [], "colors": CLASS_COLORS, "reader": None, "layers": None, "cost": None,
        "class_means": None, "test_hooks": os.environ.get(HOOKS_ENV) == "1"}
    blobs: dict[str, bytes | None] = dict.fromkeys(BLOBS)
    blobs["decoder"] = decoder
    reader = _reader(dataset)
    if reader:
        blobs["reader"] = reader[1]
        data["reader"] = _ref(reader[1], "the digit classifier", spec=reader[0])
    if zdim == 2 and getattr(model, "has_encoder", True) and points > 0:
        try:
            mu, labels, images, classes = _test_codes(model, dataset, points)
        except DataNotFoundError:  # a foreign model's own data set ("folder"): no plane dots,
            return data, blobs  # the sliders and the decoder work without them
        blobs["points"] = pad_points_bytes(mu, labels, len(mu))
        blobs["images"] = pad_images_bytes(images, len(mu))
        data["points"] = _ref(blobs["points"], "the test digits", n=len(mu))
        data["images"] = _ref(blobs["images"], "their images")
        data["classes"] = classes
        if not model.n_labels:  # digit keys jump to a class's mean code (a CVAE's codes are
            # style alone: its classes share one mean)
            data["class_means"] = [[round(float(v), 4) for v in m]
                                   for m in class_mean_codes(mu, labels, len(classes))]
    return data, blobs
