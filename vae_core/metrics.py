"""Evaluation: test -ELBO, importance-sampled NLL, KL per dimension, active units.

Protocol (see docs/models.md, "Evaluation protocol"):
* Every number is in nats per image, summed over pixels, averaged over the test set.
* The test set is scored under the model's own likelihood and binarization: grey levels for
  `binarize="none"` (BCE on grey levels is *not* a true likelihood of grey images: compare such
  numbers only with each other), or one fixed Bernoulli draw (seed EVAL_SEED) for "static" and
  "dynamic", the convention of the published binarized-MNIST results.
* -ELBO uses the closed-form KL and one reparameterized sample for the reconstruction term.
* NLL: log p(x) ~ logsumexp_k [log p(x|z_k) + log p(z_k) - log q(z_k|x)] - log K,
  z_k ~ q(z|x) (Burda et al. 2015), batched over k and computed in float64 for the logsumexp.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from .data import binarize
from .losses import kl_normal, kl_per_dim, log_normal, recon_nll
from .model import VAE, Labels, as_images, batch_labels

EVAL_SEED = 1234
ACTIVE_THRESHOLD = 0.01  # Burda et al. 2015: unit j is active when Cov_x(E_q[z_j]) > 0.01


def eval_targets(images: torch.Tensor, binarization: str) -> torch.Tensor:
    """Float test images as the model's likelihood scores them (grey, or one fixed draw)."""
    return images if binarization == "none" else binarize(images, EVAL_SEED)


@torch.no_grad()
def elbo_terms(model: VAE, x: torch.Tensor, seed: int | torch.Generator = EVAL_SEED,
               y: Labels | None = None) -> dict[str, torch.Tensor]:
    """Per-image -ELBO terms of targets x [N,1,28,28]: THE estimator of this project.

    One reparameterized sample z = mu + sigma * eps per image for the reconstruction term,
    the closed-form KL. An int `seed` draws eps from a fresh generator seeded with it (so one
    image always gets the same estimate, on every page); a Generator continues its stream
    (evaluate_elbo scores batches that way). The model must already be in eval mode.
    A conditional model needs the labels y and scores the conditional -ELBO of x given y.
    Returns recon, kl, neg_elbo [N]; mu, logvar, eps, z [N, Z]; logits [N,1,28,28].
    """
    dev = next(model.parameters()).device
    g = (seed if isinstance(seed, torch.Generator)
         else torch.Generator(device=dev).manual_seed(int(seed)))
    x = as_images(x).to(dev)  # uint8, [N,28,28], [N,784] or numpy as well
    y = batch_labels(y, 0, len(x), dev)
    mu, logvar = model.encode(x, y)
    eps = torch.randn(mu.shape, generator=g, device=dev, dtype=mu.dtype)
    z = mu + (0.5 * logvar).exp() * eps  # as VAE.reparameterize: the same draws, same numbers
    logits = model.decode_logits(z, y)
    cfg = model.cfg
    rec = recon_nll(logits, x, cfg.likelihood, cfg.gaussian_var)
    kl = kl_normal(mu, logvar)
    return {"recon": rec, "kl": kl, "neg_elbo": rec + kl, "mu": mu, "logvar": logvar,
            "eps": eps, "z": z, "logits": logits}


@torch.no_grad()
def evaluate_elbo(model: VAE, x: torch.Tensor, batch_size: int = 1000,
                  seed: int = EVAL_SEED, y: Labels | None = None) -> dict[str, float]:
    """Mean test -ELBO, reconstruction and KL (nats per image) of images x [N,1,28,28]:
    elbo_terms over batches, one generator for the whole pass. A conditional model needs the
    labels y [N]: its number is the conditional -ELBO, a bound on -log p(x|y)."""
    x = as_images(x)  # uint8, [N,28,28], [N,784] or numpy as well
    was_training = model.training
    model.eval()
    dev = next(model.parameters()).device
    g = torch.Generator(device=dev).manual_seed(seed)
    tot_rec = tot_kl = 0.0
    for i in range(0, len(x), batch_size):
        t = elbo_terms(model, x[i:i + batch_size], g, batch_labels(y, i, batch_size, dev))
        tot_rec += t["recon"].sum().item()
        tot_kl += t["kl"].sum().item()
    model.train(was_training)
    n = len(x)
    return {"test_neg_elbo": (tot_rec + tot_kl) / n, "test_recon": tot_rec / n,
            "test_kl": tot_kl / n}


@torch.no_grad()
def importance_sampled_nll(model: VAE, x: torch.Tensor, k: int = 5000, chunk: int = 500,
                           batch_size: int = 100, seed: int = EVAL_SEED,
                           y: Labels | None = None,
                           progress: Callable[[int, int], None] | None = None) -> float:
    """Mean -log p(x) estimated with k importance samples from q(z|x) per image
    (-log p(x|y) with q(z|x,y) for a conditional model, which needs the labels y).
    `progress(done, total)` is called after each batch of images (e.g. a progress bar)."""
    x = as_images(x)  # uint8, [N,28,28], [N,784] or numpy as well
    model.eval()
    dev = next(model.parameters()).device
    g = torch.Generator(device=dev).manual_seed(seed)
    cfg = model.cfg
    total = 0.0
    for i in range(0, len(x), batch_size):
        xb = x[i:i + batch_size].to(dev)
        b = len(xb)
        c = model.label_input(batch_labels(y, i, batch_size, dev), xb)  # one-hot rows [b,K]
        mu, logvar = model.encode(xb, c)
        ck = None if c is None else c.repeat(chunk, 1)  # the rows again for every sample
        parts = []
        for start in range(0, k, chunk):
            kk = min(chunk, k - start)
            eps = torch.randn(kk, b, mu.shape[1], generator=g, device=dev)
            z = mu + (0.5 * logvar).exp() * eps
            logits = model.decode_logits(z.reshape(kk * b, -1),
                                         None if ck is None else ck[:kk * b])
            rec = recon_nll(logits, xb.repeat(kk, 1, 1, 1), cfg.likelihood, cfg.gaussian_var)
            lw = -rec.view(kk, b) + log_normal(z) - log_normal(z, mu, logvar)
            parts.append(lw.double())
        log_w = torch.cat(parts, 0)
        total += -(torch.logsumexp(log_w, 0) - math.log(k)).sum().item()
        if progress is not None:
            progress(i + b, len(x))
    return total / len(x)


@torch.no_grad()
def latent_stats(model: VAE, x: torch.Tensor, batch_size: int = 1000,
                 y: Labels | None = None) -> dict[str, Any]:
    """KL per latent dimension (mean over x) and active units (Burda et al. 2015); a
    conditional model encodes x under its labels y."""
    x = as_images(x)  # uint8, [N,28,28], [N,784] or numpy as well
    model.eval()
    dev = next(model.parameters()).device
    mus, kls = [], []
    for i in range(0, len(x), batch_size):
        mu, logvar = model.encode(x[i:i + batch_size].to(dev), batch_labels(y, i, batch_size, dev))
        mus.append(mu.double().cpu())
        kls.append(kl_per_dim(mu, logvar).double().sum(0).cpu())
    mu_all = torch.cat(mus)
    activity = mu_all.var(0, unbiased=False)
    kl = (torch.stack(kls).sum(0) / len(x)).tolist()
    return {"kl_per_dim": kl, "activity": activity.tolist(),
            "active_units": int((activity > ACTIVE_THRESHOLD).sum())}
