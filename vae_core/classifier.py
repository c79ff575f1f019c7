"""The reference digit classifier: a small CNN that reads which digit an image shows.

It judges the VAEs rather than being one: `class_consistency` is the share of reconstructions
it reads as the input's label, and the app labels decoded and reconstructed digits with its
reading. Bundled as `checkpoints/digit-classifier/` (`classifier.safetensors` + `classifier.json`;
deliberately not `model.safetensors`, so the model picker never offers it as a VAE), rebuilt by
`python -m vae_core train-classifier --out checkpoints/digit-classifier`, loaded from
safetensors only (its shapes are checked against the architecture; nothing is unpickled).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from torch import nn

from .augment import augment_batch
from .checkpoint import write_safetensors
from .errors import CheckpointError, ConfigError
from .model import as_images
from .resources import bundled_dir

WEIGHTS, SPEC = "classifier.safetensors", "classifier.json"
DEFAULT_DIR = bundled_dir() / "digit-classifier"
# The bundled VAE for uploaded photos and drawings (conv, 32-D latent, trained with
# augmentation): the Reconstruct page shows its reconstruction beside a 2-D model's.
UPLOAD_MODEL_DIR = DEFAULT_DIR.parent / "mnist-conv-upload"
N_CLASSES = 10
CHANNELS = (32, 64, 128)
DENSE = 128
MAX_CHANNELS = 512


def build_classifier(channels: tuple[int, ...] = CHANNELS, dense: int = DENSE) -> nn.Sequential:
    """Conv 3x3 + batch norm + ReLU + 2x2 max-pool per entry of `channels` (28 -> 14 -> 7 -> 3),
    then a dense layer with dropout and 10 logits."""
    layers: list[nn.Module] = []
    size, cin = 28, 1
    for c in channels:
        layers += [nn.Conv2d(cin, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(),
                   nn.MaxPool2d(2)]
        size, cin = size // 2, c
    layers += [nn.Flatten(), nn.Dropout(0.3), nn.Linear(cin * size * size, dense), nn.ReLU(),
               nn.Dropout(0.3), nn.Linear(dense, N_CLASSES)]
    return nn.Sequential(*layers)


def _as_batch(images: Any) -> torch.Tensor:
    """Images as the classifier takes them: float32 [N,1,28,28] on the CPU (uint8 read as
    0..255; every shape `model.as_images` accepts)."""
    return as_images(images).detach().to("cpu", torch.float32)


def classifier_version(path: str | Path | None = None) -> str:
    """What identifies the classifier's files in folder `path` (default: the bundled one) as
    they are now: their sizes and modification times ('' when missing). A cache of
    load_classifier's result keys on it, so new files are loaded again."""
    p = Path(path) if path else DEFAULT_DIR
    stamps = []
    for name in (SPEC, WEIGHTS):
        try:
            st = (p / name).stat()
        except OSError:
            return ""
        stamps.append(f"{st.st_size}:{st.st_mtime_ns}")
    return f"{p}|{'|'.join(stamps)}"


def load_classifier(path: str | Path | None = None) -> nn.Sequential:
    """The classifier saved in folder `path` (default: the bundled one), in eval mode, read
    from its files at every call (a few ms: a caller that wants one object keeps it and passes
    it as `net`). Raises CheckpointError when the files are missing or do not match."""
    p = Path(path) if path else DEFAULT_DIR
    try:
        spec = json.loads((p / SPEC).read_text())
        channels, dense = tuple(spec["channels"]), int(spec["dense"])
        if not (1 <= len(channels) <= 4 and all(isinstance(c, int) and 1 <= c <= MAX_CHANNELS
                                                 for c in channels) and 1 <= dense <= 4096):
            raise ValueError(f"channels {channels} / dense {dense} out of bounds")
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise CheckpointError(f"no usable digit classifier in {p} ({SPEC}: {e})") from e
    net = build_classifier(channels, dense)
    expected = net.state_dict()
    state: dict[str, torch.Tensor] = {}
    try:
        with safe_open(str(p / WEIGHTS), "pt") as f:
            if set(f.keys()) != set(expected):
                raise CheckpointError(f"{WEIGHTS} in {p} does not match {SPEC}")
            for k, want in expected.items():
                t = f.get_tensor(k)
                if t.shape != want.shape or t.dtype != want.dtype or (
                        t.is_floating_point() and not torch.isfinite(t).all()):
                    raise CheckpointError(f"tensor {k} in {p / WEIGHTS} is {t.dtype}"
                                          f"{list(t.shape)}, expected {want.dtype}"
                                          f"{list(want.shape)} and finite")
                state[k] = t
    except (SafetensorError, OSError) as e:
        raise CheckpointError(f"cannot read the digit classifier {p / WEIGHTS}: {e}") from e
    net.load_state_dict(state)
    return net.eval().requires_grad_(False)


@torch.no_grad()
def classify(images: Any, net: nn.Module | None = None, batch_size: int = 1000
             ) -> tuple[np.ndarray, np.ndarray]:
    """Read digits: images [N,28,28] or [N,1,28,28] in [0, 1] (white ink on black, MNIST
    style) -> (labels int64 [N], probabilities float32 [N, 10]). Uses the bundled classifier
    unless `net` is given."""
    net = net or load_classifier()
    x = _as_batch(images)
    probs = [torch.softmax(net(x[i:i + batch_size]), 1) for i in range(0, len(x), batch_size)]
    p = torch.cat(probs).numpy() if probs else np.zeros((0, N_CLASSES), np.float32)
    return p.argmax(1).astype(np.int64), p.astype(np.float32)


def read_digit(image: Any, net: nn.Module | None = None) -> tuple[int, float]:
    """One digit's reading: (class, the classifier's probability for it). `image` is
    [28, 28], [1, 28, 28] or [1, 1, 28, 28] in [0, 1], white ink on black."""
    labels, probs = classify(image, net)
    if len(labels) != 1:
        raise ValueError(f"expected one image, got {len(labels)}")
    return int(labels[0]), float(probs[0, labels[0]])


def read_grid(grid: Any, n: int, net: nn.Module | None = None
              ) -> tuple[np.ndarray, np.ndarray]:
    """Readings of every tile of an n x n grid of digits [28n, 28n] (as latent.manifold
    returns it): (classes int64 [n, n], confidences float32 [n, n]), row by row."""
    g = torch.as_tensor(np.asarray(grid, np.float32))
    if g.shape != (28 * n, 28 * n):
        raise ValueError(f"expected a grid of {n} x {n} tiles [{28 * n}, {28 * n}], got "
                         f"{list(g.shape)}")
    tiles = g.reshape(n, 28, n, 28).permute(0, 2, 1, 3).reshape(n * n, 28, 28)
    labels, probs = classify(tiles, net)
    conf = probs[np.arange(len(labels)), labels]
    return labels.reshape(n, n), conf.reshape(n, n).astype(np.float32)


# The one class palette of the project, the same in every figure, class map and browser
# component. Chosen (from Okabe-Ito, Paul Tol's, IBM's and tab10's colours) and checked by
# tests/core/test_palette.py so that any two classes stay apart under normal vision and the
# three colour-vision deficiencies (CAM02-UCS distance >= 10 under colorspacious' Machado 2009
# simulation), none looks like the class map's "unsure" grey, and each keeps contrast on
# white (dots on the scatter, >= 2:1) and on black (a tinted digit's ink, >= 3:1).
CLASS_COLORS = ["#0072B2", "#CC3311", "#999933", "#e377c2", "#33BBEE", "#8c564b", "#AA3377",
                "#bcbd22", "#648FFF", "#EE6677"]
# The same colours as RGB in [0, 1], for tinting images.
CLASS_COLOURS = np.array([[int(c[i:i + 2], 16) / 255 for i in (1, 3, 5)] for c in CLASS_COLORS],
                         np.float32)


def tint_grid(grid: Any, labels: np.ndarray, confidence: np.ndarray | None = None
              ) -> np.ndarray:
    """An n x n grid of digits [28n, 28n] as RGB [28n, 28n, 3] in [0, 1]: each tile's ink
    in the colour of the class the classifier reads there (`labels` [n, n], see read_grid),
    fading to grey where its `confidence` is low (0.1, chance, is fully grey)."""
    g = np.asarray(grid, np.float32)
    lab = np.asarray(labels)
    colours = CLASS_COLOURS[lab]  # [n, n, 3]
    if confidence is not None:
        w = np.clip((np.asarray(confidence, np.float32) - 0.1) / 0.9, 0, 1)[..., None]
        colours = colours * w + 0.6 * (1 - w)
    per_pixel = np.repeat(np.repeat(colours, 28, axis=0), 28, axis=1)
    if per_pixel.shape[:2] != g.shape:
        raise ValueError(f"labels {list(lab.shape)} do not match the grid {list(g.shape)}")
    return g[..., None] * per_pixel


def accuracy(images: Any, labels: Any, net: nn.Module | None = None) -> float:
    """Share of images the classifier reads as their label."""
    pred, _ = classify(images, net)
    y = np.asarray(labels).reshape(-1)
    return float((pred == y).mean()) if len(y) else float("nan")


def train_classifier(train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor,
                     test_y: torch.Tensor, out: str | Path, epochs: int = 8,
                     batch_size: int = 128, lr: float = 2e-3, augment: float = 1.0,
                     seed: int = 0, log: Callable[[str], None] = print,
                     progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Train the CNN on floats [N,1,28,28] in [0, 1] with seeded augmentation (see
    vae_core.augment) and a cosine learning-rate schedule, then write the folder `out`.
    `log` gets one line per epoch, `progress(step, total_steps)` every step.
    Returns the spec written to classifier.json (with the test accuracy)."""
    if epochs < 1 or batch_size < 1 or not 0 < lr <= 1 or not 0 <= augment <= 2:
        raise ConfigError("epochs and batch size must be >= 1, lr in (0, 1], augment in [0, 2]")
    torch.manual_seed(seed)
    net = build_classifier()
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    steps = epochs * -(-len(train_x) // batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    g = torch.Generator().manual_seed(seed)
    t0 = time.perf_counter()
    for epoch in range(epochs):
        net.train()
        perm = torch.randperm(len(train_x), generator=g)
        total = 0.0
        for i in range(0, len(perm), batch_size):
            idx = perm[i:i + batch_size]
            xb = augment_batch(train_x[idx], augment, g)
            loss = nn.functional.cross_entropy(net(xb), train_y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
            if progress is not None:
                progress(epoch * (steps // epochs) + i // batch_size + 1, steps)
        net.eval()
        acc = accuracy(test_x, test_y, net)
        log(f"epoch {epoch + 1}/{epochs}: train loss {total / len(perm):.4f}, test accuracy "
            f"{acc:.4f} ({time.perf_counter() - t0:.0f}s)")
    spec = {"channels": list(CHANNELS), "dense": DENSE, "test_accuracy": acc,
            "test_images": len(test_x), "train_images": len(train_x), "epochs": epochs,
            "batch_size": batch_size, "lr": lr, "augment": augment, "seed": seed,
            "train_seconds": round(time.perf_counter() - t0, 1)}
    save_classifier(net, spec, out)
    return spec


def save_classifier(net: nn.Module, spec: dict[str, Any], out: str | Path) -> Path:
    """Write classifier.safetensors + classifier.json into folder `out` (umask-respecting
    permissions, like every file this package writes)."""
    p = Path(out)
    p.mkdir(parents=True, exist_ok=True)
    write_safetensors(p / WEIGHTS, net.state_dict(), {"format": "latent-explorer-classifier/1"})
    (p / SPEC).write_text(json.dumps(spec, indent=2) + "\n")
    return p


@torch.no_grad()
def reconstructions(model: nn.Module, images: Any, labels: Any = None,
                    batch_size: int = 500,
                    progress: Callable[[int, int], None] | None = None) -> torch.Tensor:
    """The model's reconstructions (decoded posterior means) [N,1,28,28] of images in [0, 1].
    A conditional model is given the `labels` (which it needs). `progress(done, total)` is
    called after each batch."""
    x = _as_batch(images)
    conditional = bool(getattr(getattr(model, "cfg", None), "conditional", False))
    y = torch.as_tensor(np.asarray(labels)).long() if conditional else None
    was_training = model.training
    model.eval()
    dev = next(model.parameters()).device
    out = []
    for i in range(0, len(x), batch_size):
        xb = x[i:i + batch_size].to(dev)
        if y is None:
            out.append(model.reconstruct(xb).cpu())
        else:
            out.append(model.reconstruct(xb, y[i:i + batch_size].to(dev)).cpu())
        if progress is not None:
            progress(i + len(xb), len(x))
    model.train(was_training)
    return torch.cat(out) if out else x[:0]


def class_consistency(model: nn.Module, images: Any, labels: Any,
                      net: nn.Module | None = None,
                      progress: Callable[[int, int], None] | None = None) -> float:
    """Share of the model's reconstructions of `images` that the classifier reads as the
    images' `labels`: does the VAE give the same digit back? `progress(done, total)` follows
    the reconstructions."""
    return accuracy(reconstructions(model, images, labels, progress=progress), labels, net)
