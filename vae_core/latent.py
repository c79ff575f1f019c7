"""Latent-space utilities on a model: decoding codes (see codes.py) in one batch, the manifold
grid, tiling images, encoding a dataset, PCA of its codes.

Everything decodes in one batched call and returns images [N,1,28,28] or a composed grid.
"""

from __future__ import annotations

import math

import torch

from .codes import grid_values, plane_codes
from .model import VAE, Labels, as_images, batch_labels


@torch.no_grad()
def decode_batch(model: VAE, codes: torch.Tensor, y: Labels | None = None) -> torch.Tensor:
    """Decode codes [N,Z] in one batch on the model's device.

    y: the label(s) of a conditional model (one class for all codes, N classes, or one-hot /
    weight rows; see `one_hot_labels`), None for an unconditional one.
    Returns the mean images, float32 [N,1,28,28] in [0, 1], on the CPU.
    """
    dev = next(model.parameters()).device
    if torch.is_tensor(y):
        y = y.to(dev)
    return model.decode(codes.to(dev), y).cpu()


def compose_grid(images: torch.Tensor, nrow: int, pad: int = 0, pad_value: float = 1.0
                 ) -> torch.Tensor:
    """Tile images [N,1,H,W] into one [H', W'] tensor, nrow images per row."""
    n, _, h, w = images.shape
    ncol = nrow
    rows = math.ceil(n / ncol)
    out = torch.full((rows * (h + pad) + pad, ncol * (w + pad) + pad), pad_value)
    for i in range(n):
        r, c = divmod(i, ncol)
        out[pad + r * (h + pad):pad + r * (h + pad) + h,
            pad + c * (w + pad):pad + c * (w + pad) + w] = images[i, 0]
    return out


def manifold(model: VAE, n: int = 20, spacing: str = "linear", lim: float = 3.0,
             dims: tuple[int, int] = (0, 1), base: torch.Tensor | None = None,
             directions: torch.Tensor | None = None, y: Labels | None = None,
             ) -> tuple[torch.Tensor, torch.Tensor]:
    """Decode an n x n grid of latent codes in one batch (every code under the label y, e.g.
    one class, if the model is conditional).

    Returns (grid, values): grid is one float32 image [28n, 28n] in [0, 1] on the CPU
    (tile [i, j] decodes x = values[j], y = values[n-1-i] on `dims`: +y is up), values the
    n axis coordinates [n] shared by both axes. The tiles as images [n*n,1,28,28]:
    `decode_batch(model, plane_codes(values, values, latent_dim, dims))`.
    """
    vals = grid_values(n, spacing, lim)
    codes = plane_codes(vals, vals, model.cfg.latent_dim, dims, base, directions)
    imgs = decode_batch(model, codes, y)
    # A view-based tiling is much faster than the loop in compose_grid for 1,600 tiles.
    grid = imgs.view(n, n, 28, 28).permute(0, 2, 1, 3).reshape(n * 28, n * 28)
    return grid, vals


@torch.no_grad()
def encode_dataset(model: VAE, x: torch.Tensor, batch_size: int = 2000,
                   y: Labels | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Posterior means and log-variances for all images x, a tensor [N,1,28,28] of floats in
    [0, 1] (or uint8, [N,28,28], [N,784]: see `as_images`), in batches, under their labels
    y [N] (or one class for all) if the model is conditional.

    Returns (mu, logvar), each float32 [N,Z] on the CPU.
    """
    dev = next(model.parameters()).device
    x = as_images(x)  # numpy or uint8 too; a float32 [N,1,28,28] tensor is not copied
    mus, lvs = [], []
    for i in range(0, len(x), batch_size):
        mu, lv = model.encode(x[i:i + batch_size].to(dev), batch_labels(y, i, batch_size, dev))
        mus.append(mu.cpu())
        lvs.append(lv.cpu())
    return torch.cat(mus), torch.cat(lvs)


def pca(codes: torch.Tensor, k: int = 2) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Principal directions of codes [N,Z]: (mean [Z], directions [k,Z], projections [N,k])."""
    mean = codes.mean(0)
    centered = codes - mean
    k = min(k, codes.shape[1])
    _, _, v = torch.linalg.svd(centered, full_matrices=False)
    dirs = v[:k]
    return mean, dirs, centered @ dirs.T
