"""Latent-space utilities: grids (linear or Gaussian quantiles), interpolation, traversal, PCA.

Everything decodes in one batched call and returns images [N,1,28,28] or a composed grid.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import torch

from .model import VAE, Labels, as_images, batch_labels

_TINY = 1e-9  # norms below this have no direction (float64 rounding is ~1e-16)


def grid_values(n: int, spacing: str = "linear", lim: float = 3.0,
                eps: float = 0.05) -> torch.Tensor:
    """n coordinates along one axis: evenly spaced in [-lim, lim], or the standard normal's
    quantiles at evenly spaced probabilities in [eps, 1-eps] (Kingma & Welling 2014, Fig. 4)."""
    if spacing == "linear":
        return torch.linspace(-lim, lim, n)
    if spacing == "quantile":
        probs = torch.linspace(eps, 1 - eps, n).tolist()
        return torch.tensor([NormalDist().inv_cdf(p) for p in probs], dtype=torch.float32)
    raise ValueError(f"spacing must be 'linear' or 'quantile', got {spacing!r}")


def plane_codes(xs: torch.Tensor, ys: torch.Tensor, latent_dim: int, dims: tuple[int, int] = (0, 1),
                base: torch.Tensor | None = None, directions: torch.Tensor | None = None,
                ) -> torch.Tensor:
    """Codes on a 2-D plane, row-major with y decreasing downwards (so up on screen is +y).

    The plane passes through `base` (default the origin) and is spanned either by two latent
    axes `dims` or by two `directions` [2, Z] (e.g. principal directions of encoded data).
    """
    base = torch.zeros(latent_dim) if base is None else base.float()
    yy, xx = torch.meshgrid(ys.flip(0), xs, indexing="ij")
    codes = base.repeat(len(xs) * len(ys), 1)
    if directions is None:
        codes[:, dims[0]] += xx.reshape(-1)
        codes[:, dims[1]] += yy.reshape(-1)
    else:
        codes += xx.reshape(-1, 1) * directions[0] + yy.reshape(-1, 1) * directions[1]
    return codes


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


def interpolate_codes(z0: torch.Tensor, z1: torch.Tensor, steps: int = 10,
                      method: str = "linear") -> torch.Tensor:
    """Codes from z0 to z1 (both [Z]) inclusive, a straight line or "slerp".

    Returns [steps, Z] on z0's device (z0's float dtype), row 0 = z0 and row -1 = z1;
    decode them with `decode_batch` (images [steps,1,28,28]).

    Slerp (White 2016, 'Sampling Generative Networks') here turns the direction along the
    great circle from z0's to z1's while the norm goes linearly from |z0| to |z1|, so every
    code's norm lies between the ends' norms: the path stays in the shell where the prior puts
    its mass instead of cutting through the low-norm middle as the straight line does. (Slerp
    of the raw codes would blow up for nearly opposite codes: norm 7.7 between two codes of
    norms 1.7 and 2.5 that are 174 degrees apart.) Exactly opposite codes take a fixed
    perpendicular great circle; a zero code has no direction, so the path is then straight.
    """
    t = torch.linspace(0, 1, steps, device=z0.device).unsqueeze(1)
    if method == "linear":
        return (1 - t) * z0 + t * z1
    if method != "slerp":
        raise ValueError(f"method must be 'linear' or 'slerp', got {method!r}")
    # float64 on the CPU: the codes are small, and nearly opposite directions need precision.
    a, b = z0.detach().cpu().double().reshape(-1), z1.detach().cpu().double().reshape(-1)
    td = t.cpu().double()
    na, nb = float(a.norm()), float(b.norm())
    if min(na, nb) < _TINY or a.numel() < 2:
        # A straight line keeps the norm between the ends' norms here, except in a 1-D latent
        # between opposite signs, where the "sphere" is two points and any path passes zero.
        path = (1 - td) * a + td * b
    else:
        u, w = a / na, b / nb
        cos = float(u @ w)
        perp = w - cos * u  # w's part orthogonal to u: the plane of the arc
        perp = perp - (perp @ u) * u  # again, against rounding
        sin = float(perp.norm())
        omega = math.atan2(sin, cos)  # the angle, accurate near 0 and pi unlike arccos
        if sin >= _TINY:
            v = perp / sin
        elif cos < 0:
            # Opposite codes: every great circle joins them. Take the one through the axis
            # least aligned with u, so the choice is deterministic (and perp mere rounding).
            axis = int(u.abs().argmin())
            v = -u[axis] * u
            v[axis] += 1.0
            v = v / v.norm()
        else:  # the same direction
            v = torch.zeros_like(u)
        direction = torch.cos(td * omega) * u + torch.sin(td * omega) * v
        path = ((1 - td) * na + td * nb) * direction
    dtype = z0.dtype if z0.dtype.is_floating_point else torch.get_default_dtype()
    path = path.to(device=z0.device, dtype=dtype)
    if steps >= 2:  # exact end points despite rounding
        path[0], path[-1] = z0.reshape(-1), z1.reshape(-1)
    return path


def traversal_codes(latent_dim: int, steps: int = 9, lim: float = 3.0,
                    base: torch.Tensor | None = None) -> torch.Tensor:
    """Codes that vary one dimension at a time from -lim to lim around `base` (default 0).

    Returns float32 [latent_dim * steps, Z], dimension-major: rows d*steps .. d*steps+steps-1
    vary dimension d (view as [latent_dim, steps, Z] for a grid, one row per dimension).
    """
    base = torch.zeros(latent_dim) if base is None else base.float()
    vals = torch.linspace(-lim, lim, steps)
    codes = base.repeat(latent_dim, steps, 1)
    for d in range(latent_dim):
        codes[d, :, d] = base[d] + vals
    return codes.reshape(latent_dim * steps, latent_dim)


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
