"""Light, seeded data augmentation of digit batches with torch ops: what varies between a
preprocessed photo of handwriting and an MNIST digit after both are normalised the MNIST way.

Each image gets its own random shift, rotation, scale and stroke width. `strength` scales all
ranges (1 = the ranges below, 0 = the images unchanged); the same generator state gives the
same batch, so a seeded run is reproducible.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

SHIFT_PX = 2.0  # +- pixels of translation at strength 1
ROTATE_DEG = 12.0  # +- degrees of rotation
SCALE = 0.1  # +- relative size change
STROKE = 1.0  # blend weight towards a 3x3 dilation (thicker stroke) ...
THIN = 0.4  # ... and, for a negative draw, at most this towards an erosion (thin ones fade)


def _uniform(n: int, half_range: float, g: torch.Generator) -> torch.Tensor:
    return (torch.rand(n, generator=g, dtype=torch.float64) * 2 - 1) * half_range


def augment_batch(x: torch.Tensor, strength: float, generator: torch.Generator) -> torch.Tensor:
    """Randomly shifted, rotated, scaled and stroke-widened copies of images x [B,1,H,W] in
    [0, 1] (any device); `generator` is a CPU generator, so runs on any device draw alike."""
    if strength <= 0 or len(x) == 0:
        return x
    n, _, h, w = x.shape
    g = generator
    angle = _uniform(n, math.radians(ROTATE_DEG) * strength, g)
    scale = 1 + _uniform(n, SCALE * strength, g)
    # affine_grid works in [-1, 1] coordinates: one pixel is 2 / size.
    tx = _uniform(n, SHIFT_PX * strength * 2 / w, g)
    ty = _uniform(n, SHIFT_PX * strength * 2 / h, g)
    stroke = _uniform(n, STROKE * strength, g)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1)
    theta = theta.to(x.device, x.dtype)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    # Stroke width: blend towards a 3x3 dilation (thicker) or erosion (thinner) by |stroke|.
    # A full 3x3 step adds two pixels to a stroke; MNIST's run 2-4 px, so a blend keeps it light.
    thick = F.max_pool2d(out, 3, 1, 1)
    thin = -F.max_pool2d(-out, 3, 1, 1)
    s = stroke.to(x.device, x.dtype).view(n, 1, 1, 1)
    out = torch.where(s > 0, out + s * (thick - out), out + THIN * s * (out - thin))
    return out.clamp_(0, 1)
