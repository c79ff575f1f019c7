"""Views only a VAE has, on its 2-D latent plane: where the prior has mass the encoder never
uses (the hole map), where decoding and encoding again lands (the round-trip field), and what
a decoded image costs against a chosen one, pixel by pixel (and the KL of its posterior).

Conventions: grids are row-major with y decreasing downwards (as `plane_codes`), so row 0 is
the top of the plane on screen; densities are log densities in nats, computed in float64.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from .codes import plane_codes
from .losses import LOG_2PI, kl_per_dim
from .model import VAE, Labels, batch_labels

MIXTURE_CODES = 3000  # the aggregate posterior's components: a seeded subsample of the test set
HOLE_RATIO = 10.0  # a code is in a hole where the prior is over this many times denser than q
# On the plane, holes are looked for where the prior has its mass: |z| <= 3.5 holds 99.8% of
# N(0, I) in 2-D. Farther out both densities are tiny and their ratio says nothing a learner
# can use (it shaded 77% of mnist-mlp-2d's +-7.5 scatter, outliers' corners included).
PRIOR_RADIUS = 3.5
_CHUNK = 4096  # grid points per logsumexp batch: [chunk, codes] float64 is ~100 MB at most


def log_prior(z: torch.Tensor) -> torch.Tensor:
    """log N(z; 0, I) [N] of codes z [N, Z], in float64."""
    z = z.double()
    return -0.5 * ((z ** 2).sum(1) + z.shape[1] * LOG_2PI)


def log_aggregate_posterior(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor,
                            chunk: int = _CHUNK) -> torch.Tensor:
    """log q(z) [N] of the mixture (1/K) sum_k N(z; mu_k, diag(exp(logvar_k))), float64.

    sum_d (z - mu)^2 / var is expanded into matrix products, so no [N, K, Z] tensor is built;
    the grid is scored in chunks of `chunk` codes."""
    mu, logvar = mu.double(), logvar.double()
    inv = (-logvar).exp()
    const = (mu ** 2 * inv).sum(1) + logvar.sum(1) + mu.shape[1] * LOG_2PI  # [K]
    out = []
    for part in z.double().split(chunk):
        sq = (part ** 2) @ inv.T - 2 * part @ (mu * inv).T  # [n, K]
        out.append(torch.logsumexp(-0.5 * (sq + const), 1) - math.log(len(mu)))
    return torch.cat(out) if out else torch.zeros(0, dtype=torch.float64)


def mixture_subsample(n_codes: int, k: int = MIXTURE_CODES,
                      generator: torch.Generator | None = None) -> torch.Tensor:
    """Indices of the k codes (all of them when there are fewer) that stand for the
    aggregate posterior: a seeded random subset keeps it cheap and reproducible."""
    g = generator if generator is not None else torch.Generator().manual_seed(0)
    return torch.randperm(n_codes, generator=g)[:k]


def hole_gap(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """log p(z) - log q_agg(z) [N]: large where the prior is much denser than the aggregate
    posterior of the codes (mu, logvar) [K, Z], i.e. in a hole no image is encoded into."""
    return log_prior(z) - log_aggregate_posterior(z, mu, logvar)


def grid_centres(n: int, extent: float) -> torch.Tensor:
    """The n cell centres along one axis of the square [-extent, extent]^2 cut in n x n."""
    step = 2 * extent / n
    return torch.linspace(-extent + step / 2, extent - step / 2, n, dtype=torch.float64)


def hole_map(mu: torch.Tensor, logvar: torch.Tensor, n: int = 48, extent: float = 3.0,
             codes: int = MIXTURE_CODES, seed: int = 0, radius: float | None = None
             ) -> torch.Tensor:
    """log p(z) - log q_agg(z) on the n x n cell centres of [-extent, extent]^2 of a 2-D
    latent, [n, n] float64, row 0 at the top (+y). q_agg mixes the posteriors (mu, logvar)
    [N, 2] of up to `codes` test images picked with `seed`. A conditional model's codes,
    encoded under their own labels, are style codes: the map is then one for every class.
    With `radius` (the app's: PRIOR_RADIUS), cells farther out are -inf: not looked at."""
    if mu.shape[1] != 2:
        raise ValueError(f"a hole map needs a 2-D latent plane, got {mu.shape[1]} dimensions")
    pick = mixture_subsample(len(mu), codes, torch.Generator().manual_seed(seed))
    vals = grid_centres(n, extent)
    # the plane_codes layout, built in float64 (plane_codes works in float32)
    yy, xx = torch.meshgrid(vals.flip(0), vals, indexing="ij")
    z = torch.stack([xx.reshape(-1), yy.reshape(-1)], 1)
    gap = hole_gap(z, mu[pick], logvar[pick]).reshape(n, n)
    if radius is not None:
        gap[(z.norm(dim=1) > radius).reshape(n, n)] = -math.inf
    return gap


def prior_holes(mu: torch.Tensor, logvar: torch.Tensor, n: int, codes: int = MIXTURE_CODES,
                seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """n codes drawn from the prior N(0, I) with `seed`, float64 [n, Z], and their hole gap
    log p(z) - log q_agg(z) [n], q_agg mixing up to `codes` of the posteriors (mu, logvar)
    [N, Z] (picked with the same generator). Any latent size; the share of them in holes
    (`hole_share`) estimates the prior's mass in holes, which a 2-D `hole_map` weighted by
    the prior measures too."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, mu.shape[1], generator=g, dtype=torch.float64)
    pick = mixture_subsample(len(mu), codes, g)
    return z, hole_gap(z, mu[pick], logvar[pick])


def hole_share(gap: torch.Tensor | np.ndarray) -> float:
    """The share of the entries of a hole gap (`hole_map`'s, `prior_holes`') that lie in holes,
    where the prior is over HOLE_RATIO times denser than the aggregate posterior. -inf marks
    a cell not looked at (beyond `hole_map`'s radius); 0 if none was."""
    gap = np.asarray(gap)
    looked = gap > -np.inf
    return float((gap[looked] > math.log(HOLE_RATIO)).mean()) if looked.any() else 0.0


@torch.no_grad()
def round_trip(model: VAE, z: torch.Tensor, y: Labels | None = None,
               batch_size: int = 1024) -> torch.Tensor:
    """mu(x_hat(z)) [N, Z]: the posterior mean of each code's decoded mean image (the
    Bernoulli means, or the Gaussian means). Where decode-then-encode lands far from z, the
    code lies off the data manifold. A conditional model decodes and encodes under y (one
    class for all, or one per code)."""
    dev = next(model.parameters()).device
    out = []
    for i in range(0, len(z), batch_size):
        yb = batch_labels(y, i, batch_size, dev)
        part = z[i:i + batch_size].float().to(dev)
        mu, _ = model.encode(model.decode(part, yb), yb)
        out.append(mu.cpu())
    return torch.cat(out) if out else torch.zeros(0, model.cfg.latent_dim)


def round_trip_field(model: VAE, n: int = 15, lim: float = 3.0,
                     y: Labels | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The round-trip field of a 2-D model on an n x n grid over [-lim, lim]^2 (row-major, +y
    at the top, the manifold's tile centres): (codes z [n*n, 2], arrow heads mu(x_hat(z)))."""
    if model.cfg.latent_dim != 2:
        raise ValueError("a round-trip field needs a 2-D latent plane, got "
                         f"{model.cfg.latent_dim} dimensions")
    vals = torch.linspace(-lim, lim, n)
    z = plane_codes(vals, vals, 2)
    return z, round_trip(model, z, y)


def pixel_cost(logits: torch.Tensor, x: torch.Tensor, likelihood: str,
               var: float = 0.5) -> torch.Tensor:
    """-log p(x_i | z) per pixel, same shape as x: the terms `recon_nll` sums over an image
    (Bernoulli: BCE with logits; Gaussian: (x - mean)^2 / (2 var) + log(2 pi var) / 2)."""
    if likelihood == "bernoulli":
        return F.binary_cross_entropy_with_logits(logits, x, reduction="none")
    mean = torch.sigmoid(logits)
    return (x - mean) ** 2 / (2 * var) + 0.5 * (LOG_2PI + math.log(var))


@torch.no_grad()
def decoded_cost(model: VAE, z: torch.Tensor, x: torch.Tensor, y: Labels | None = None
                 ) -> dict[str, torch.Tensor]:
    """What decoding z costs against a target image x [1, 28, 28] (or [28, 28]), and where z's
    decoded image would be encoded: pixel cost [28, 28] (sums to recon_nll), the decoded mean
    image [28, 28], and KL(q(z | x_hat) || N(0, I)) per dimension [Z] of that decoded image."""
    dev = next(model.parameters()).device
    z = torch.as_tensor(z, dtype=torch.float32).reshape(1, -1).to(dev)
    yb = batch_labels(y, 0, 1, dev)
    logits = model.decode_logits(z, yb)
    target = torch.as_tensor(x, dtype=torch.float32).reshape(logits.shape).to(dev)
    cost = pixel_cost(logits, target, model.cfg.likelihood, model.cfg.gaussian_var)
    mean = torch.sigmoid(logits)
    mu, logvar = model.encode(mean, yb)
    return {"cost": cost.reshape(28, 28).cpu(), "decoded": mean.reshape(28, 28).cpu(),
            "kl_dims": kl_per_dim(mu, logvar)[0].cpu()}
