"""The latent pad's payloads, built one way for both of its hosts: the app's pad
(ui.latent_pad, through ui.derived's caches) and the notebook widget (vae_core.notebook).

The browser reads them as raw little-endian arrays (ui/frontend/latent_pad/plane.js): the
plane's points are float32 [n, 2] codes followed by uint8 [n] labels; its hover images are
uint8 [n, 28, 28]; decoder and classifier weights are float32. No JSON, no base64.
"""

from __future__ import annotations

import hashlib

import numpy as np

MAX_DIMS = 64  # the pad's sliders and its browser decode stay usable up to here
MAX_WEIGHT_BYTES = 64 * 2**20  # beyond this the download and the decode would both be slow
POINTS = 5000  # test digits on the 2-D plane; their images as uint8 are 3.9 MB
TILES = 15  # manifold tiles per side under the plane (tile centres span [-range, range])


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
