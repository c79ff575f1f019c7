"""The VAE: an MLP or convolutional Gaussian encoder and a Bernoulli or Gaussian decoder.

    x [B,1,28,28] -> encoder -> (mu, logvar) [B,Z] -> z = mu + sigma * eps -> decoder -> logits

Images are always [B, 1, 28, 28] floats in [0, 1] at the public API; the MLP flattens inside.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from .config import IMAGE_SIZE, MAX_PARAMS, ModelConfig
from .errors import ConfigError
from .losses import kl_normal, log_normal, recon_nll

PIXELS = IMAGE_SIZE * IMAGE_SIZE


@dataclass
class VAEOutput:
    """What `VAE.forward` returns. Scalars are batch means of per-image sums (nats per image)."""

    loss: torch.Tensor  # the objective minimized: recon + beta * kl (or the IWAE bound)
    recon: torch.Tensor  # -log p(x|z), mean over batch
    kl: torch.Tensor  # KL(q(z|x) || p(z)), mean over batch
    x_hat: torch.Tensor  # decoded mean image in [0, 1], [B,1,28,28]
    mu: torch.Tensor  # [B,Z]
    logvar: torch.Tensor  # [B,Z]
    z: torch.Tensor  # the sample that was decoded, [B,Z]
    logits: torch.Tensor  # decoder pre-sigmoid output, [B,1,28,28]


def make_activation(cfg: ModelConfig) -> nn.Module:
    if cfg.activation == "leaky_relu":
        return nn.LeakyReLU(cfg.leaky_slope)
    return {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "elu": nn.ELU}[cfg.activation]()


def _mlp(widths: list[int], cfg: ModelConfig, last_act: bool) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(widths, widths[1:])):
        layers.append(nn.Linear(a, b))
        if last_act or i < len(widths) - 2:
            layers.append(make_activation(cfg))
            if cfg.dropout:
                layers.append(nn.Dropout(cfg.dropout))
    return layers


class VAE(nn.Module):
    """Variational autoencoder (Kingma & Welling 2014) built from a `ModelConfig`."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        z = cfg.latent_dim
        if cfg.arch == "mlp":
            self.encoder = nn.Sequential(nn.Flatten(), *_mlp([PIXELS, *cfg.hidden], cfg, True))
            feat = cfg.hidden[-1]
            self.decoder = nn.Sequential(
                *_mlp([z, *reversed(cfg.hidden), PIXELS], cfg, False),
                nn.Unflatten(1, (1, IMAGE_SIZE, IMAGE_SIZE)))
        else:
            self.encoder, feat, self.decoder = self._conv(cfg)
        self.mu = nn.Linear(feat, z)
        self.logvar = nn.Linear(feat, z)

    @staticmethod
    def _conv(cfg: ModelConfig) -> tuple[nn.Module, int, nn.Module]:
        k, pad = cfg.kernel_size, cfg.kernel_size // 2
        chans, strides, sizes = cfg.channels, cfg.conv_strides(), cfg.conv_sizes()
        enc: list[nn.Module] = []
        for c_in, c_out, s in zip([1, *chans], chans, strides):
            enc += [nn.Conv2d(c_in, c_out, k, s, pad), make_activation(cfg)]
            if cfg.dropout:
                enc.append(nn.Dropout(cfg.dropout))
        enc.append(nn.Flatten())
        flat = chans[-1] * sizes[-1] ** 2
        dec: list[nn.Module] = []
        if cfg.conv_dense:
            enc += [nn.Linear(flat, cfg.conv_dense), make_activation(cfg)]
            dec += [nn.Linear(cfg.latent_dim, cfg.conv_dense), make_activation(cfg),
                    nn.Linear(cfg.conv_dense, flat), make_activation(cfg)]
        else:
            dec += [nn.Linear(cfg.latent_dim, flat), make_activation(cfg)]
        dec.append(nn.Unflatten(1, (chans[-1], sizes[-1], sizes[-1])))
        # Mirror the encoder: each transposed conv restores the exact size its conv reduced.
        outs = [*reversed(chans[:-1]), chans[0]]
        for i, (c_in, c_out) in enumerate(zip(reversed(chans), outs)):
            layer = len(chans) - 1 - i
            s, size_in, target = strides[layer], sizes[layer + 1], sizes[layer]
            extra = target - ((size_in - 1) * s - 2 * pad + k)
            if not 0 <= extra < s:
                raise ConfigError(f"conv layer {layer}: cannot mirror size {target} with stride {s}")
            dec += [nn.ConvTranspose2d(c_in, c_out, k, s, pad, output_padding=extra),
                    make_activation(cfg)]
            if cfg.dropout:
                dec.append(nn.Dropout(cfg.dropout))
        dec.append(nn.Conv2d(chans[0], 1, k, 1, pad))
        return nn.Sequential(*enc), cfg.conv_dense or flat, nn.Sequential(*dec)

    # --- inference API -------------------------------------------------------------------
    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior parameters (mu, logvar) for images x [B,1,28,28]."""
        h = self.encoder(x)
        return self.mu(h), self.logvar(h)

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Mean image in [0, 1] for latent codes z [B,Z] -> [B,1,28,28]."""
        return torch.sigmoid(self.decoder(z))

    @staticmethod
    def reparameterize(mu: torch.Tensor, logvar: torch.Tensor,
                       generator: torch.Generator | None = None) -> torch.Tensor:
        """z = mu + sigma * eps with eps ~ N(0, I): the reparameterization trick."""
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        return mu + (0.5 * logvar).exp() * eps

    def reconstruct(self, x: torch.Tensor, sample: bool = False,
                    generator: torch.Generator | None = None) -> torch.Tensor:
        """Decode the posterior mean (or a posterior sample) of x."""
        mu, logvar = self.encode(x)
        return self.decode(self.reparameterize(mu, logvar, generator) if sample else mu)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n images decoded from z ~ N(0, I)."""
        p = next(self.parameters())
        z = torch.randn(n, self.cfg.latent_dim, generator=generator, device=p.device, dtype=p.dtype)
        return self.decode(z)

    def interpolate(self, z0: torch.Tensor, z1: torch.Tensor, steps: int = 10,
                    method: str = "linear") -> torch.Tensor:
        """Decoded images along a linear or spherical path from z0 to z1 (both [Z])."""
        from .latent import interpolate_codes

        return self.decode(interpolate_codes(z0, z1, steps, method))

    # --- training objective --------------------------------------------------------------
    def forward(self, x: torch.Tensor, beta: float = 1.0, iw_samples: int = 1,
                target: torch.Tensor | None = None) -> VAEOutput:
        """Negative ELBO (or IWAE bound when iw_samples > 1) for images x [B,1,28,28].

        `target` is what the likelihood scores (defaults to x): dynamic binarization feeds the
        binarized digit both as input and as target.
        """
        target = x if target is None else target
        mu, logvar = self.encode(x)
        cfg = self.cfg
        if iw_samples == 1:
            z = self.reparameterize(mu, logvar)
            logits = self.decoder(z)
            rec = recon_nll(logits, target, cfg.likelihood, cfg.gaussian_var)
            kl = kl_normal(mu, logvar)
            loss = (rec + beta * kl).mean()
            return VAEOutput(loss, rec.mean(), kl.mean(), torch.sigmoid(logits), mu, logvar, z,
                             logits)
        # IWAE: K samples per image, bound = log mean_k p(x, z_k) / q(z_k|x).
        k, b = iw_samples, x.shape[0]
        z = self.reparameterize(mu.expand(k, *mu.shape), logvar.expand(k, *logvar.shape))
        logits = self.decoder(z.reshape(k * b, -1))
        rec = recon_nll(logits, target.repeat(k, 1, 1, 1), cfg.likelihood, cfg.gaussian_var)
        rec = rec.view(k, b)
        log_w = -rec + beta * (log_normal(z) - log_normal(z, mu, logvar))
        bound = torch.logsumexp(log_w, 0) - math.log(k)
        kl = kl_normal(mu, logvar)
        return VAEOutput(-bound.mean(), rec[0].mean(), kl.mean(),
                         torch.sigmoid(logits[:b]), mu, logvar, z[0], logits[:b])


def count_params(cfg: ModelConfig) -> int:
    """Exact parameter count of the model a config describes, without allocating memory."""
    with torch.device("meta"):
        return sum(p.numel() for p in VAE(cfg).parameters())


def build_model(cfg: ModelConfig) -> VAE:
    """Build a VAE after checking its size against MAX_PARAMS (cheaply, on the meta device)."""
    n = count_params(cfg)
    if n > MAX_PARAMS:
        raise ConfigError(f"model would have {n:,} parameters (limit {MAX_PARAMS:,})")
    return VAE(cfg)
