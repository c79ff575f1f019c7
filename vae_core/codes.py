"""Latent codes to decode: axis grids, planes, interpolation paths and traversals.

Pure tensor arithmetic, no model: the model (`VAE.interpolate`) and the decoding helpers in
latent.py both build on it.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import torch

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
