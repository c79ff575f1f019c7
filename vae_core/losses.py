"""Likelihoods and the KL term.

Reduction, stated once because it is the most common confusion in VAE code: every term here
is **summed over the 784 pixels (or latent dimensions) of one image** and returned per image,
shape [B]. Training and evaluation then take the **mean over the batch**. So a loss of 100 means
100 nats per image, and `beta = 1` is the true ELBO. Tutorials that average BCE over pixels
(Keras' `binary_crossentropy`) and weight KL by w get the same optimum as this library with
`beta = 784 * w`... conversely a Keras weight of 5e-4 on a mean-reduced KL against a
mean-reduced BCE corresponds to `beta ~ 0.4` here (784 * 5e-4 = 0.39).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

LOG_2PI = math.log(2 * math.pi)


def bernoulli_nll(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """-log p(x|z) for a Bernoulli decoder, summed over pixels: BCE-with-logits, in nats.

    For grey-level x in (0, 1) this is the cross-entropy tutorials use; it is *not* a
    normalized likelihood of grey images (it is one only for binary x).
    """
    return F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)


def gaussian_nll(logits: torch.Tensor, x: torch.Tensor, var: float) -> torch.Tensor:
    """-log N(x; sigmoid(logits), var * I), summed over pixels, in nats.

    = sum((x - mean)^2) / (2 var) + D/2 * log(2 pi var). With var = 0.5 the first term is the
    plain sum of squared errors that tutorials call "squared error"; the second is a constant
    that makes the number a true continuous density in nats (it can go negative for small var).
    """
    mean = torch.sigmoid(logits)
    sq = (x - mean).pow(2).flatten(1).sum(1)
    d = x[0].numel()
    return sq / (2 * var) + 0.5 * d * (LOG_2PI + math.log(var))


def recon_nll(logits: torch.Tensor, x: torch.Tensor, likelihood: str, var: float = 0.5
              ) -> torch.Tensor:
    """Per-image reconstruction term -log p(x|z) under the model's likelihood, shape [B]."""
    if likelihood == "bernoulli":
        return bernoulli_nll(logits, x)
    return gaussian_nll(logits, x, var)


def kl_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(q(z|x) || N(0, I)) in closed form, summed over latent dims, shape [B].

    Kingma & Welling 2014, Appendix B: -1/2 * sum_j (1 + log sigma_j^2 - mu_j^2 - sigma_j^2).
    """
    return -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(-1)


def kl_per_dim(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """The same KL, not summed: shape [B, latent_dim]."""
    return -0.5 * (1 + logvar - mu.pow(2) - logvar.exp())


def log_normal(z: torch.Tensor, mu: torch.Tensor | None = None,
               logvar: torch.Tensor | None = None) -> torch.Tensor:
    """log N(z; mu, diag(exp(logvar))) summed over the last dim; standard normal if mu is None."""
    if mu is None:
        return -0.5 * (z.pow(2) + LOG_2PI).sum(-1)
    return -0.5 * ((z - mu).pow(2) / logvar.exp() + logvar + LOG_2PI).sum(-1)
