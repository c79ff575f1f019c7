"""The VAE: an MLP or convolutional Gaussian encoder and a Bernoulli or Gaussian decoder.

    x [B,1,28,28] -> encoder -> (mu, logvar) [B,Z] -> z = mu + sigma * eps -> decoder -> logits

Images are [B, 1, 28, 28] floats in [0, 1] inside; the public methods also take what a user
naturally has (uint8, [B,28,28], [B,784], numpy; see `as_images`). The MLP flattens inside.

A conditional model (`cfg.conditional`, Sohn et al. 2015) also takes the class label y as a
one-hot vector c [B,K]: q(z|x,y) and p(x|y,z) (Kingma et al. 2014, M2). c is concatenated
* in the encoder, to the flattened image (MLP) or to the flattened output of the conv stack
  (conv; before the dense layer if there is one, else before the (mu, logvar) heads);
* in the decoder, to z.
Every method that takes y then needs it; an unconditional model takes none, and its layers,
parameter names and shapes are exactly those of the models saved before labels existed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from .codes import interpolate_codes
from .config import IMAGE_SIZE, MAX_PARAMS, ModelConfig
from .errors import ConfigError, ImageError
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


Labels = int | torch.Tensor | list[int]
IMAGE_SHAPES = "[N,1,28,28], [N,28,28], [N,784] or one image [28,28]"


def as_images(x: Any) -> torch.Tensor:
    """Images as the model takes them: float32 [N,1,28,28] (on x's device).

    x is a torch tensor or numpy array (or nested lists) shaped [N,1,28,28], [N,28,28],
    [N,784], or one image [28,28] / [784]; uint8 is read as 0..255 and divided by 255, bool
    as 0/1, floats are taken as they are (they should lie in [0, 1]). A float32 tensor that
    is already [N,1,28,28] is returned itself, without a copy. ImageError (a ValueError)
    names the accepted shapes and dtypes for anything else.
    """
    if isinstance(x, torch.Tensor) and x.dtype == torch.float32 and x.shape[1:] == (1, 28, 28):
        return x  # the app's and the trainer's hot paths: nothing to do
    if isinstance(x, np.ndarray) and not x.flags.writeable:
        x = x.copy()  # torch warns about read-only arrays (e.g. a memory-mapped .npy)
    try:
        t = x if isinstance(x, torch.Tensor) else torch.as_tensor(x)
    except (TypeError, ValueError, RuntimeError) as e:
        raise ImageError(f"images must be a tensor or array shaped {IMAGE_SHAPES}; got "
                         f"{type(x).__name__} ({str(e)[:80]})") from None
    shape = tuple(t.shape)
    if t.ndim == 3 and shape[1:] == (28, 28):
        t = t.unsqueeze(1)
    elif t.ndim == 2 and shape[1] == PIXELS or shape in ((PIXELS,), (28, 28)):
        t = t.reshape(-1, 1, IMAGE_SIZE, IMAGE_SIZE)
    elif not (t.ndim == 4 and shape[1:] == (1, 28, 28)):
        raise ImageError(f"images must have shape {IMAGE_SHAPES}; got {list(shape)}")
    if t.dtype == torch.uint8:
        return t.float().div_(255)
    if t.dtype == torch.bool or t.is_floating_point():
        return t.float()
    raise ImageError(f"images must be uint8 (0..255) or floats in [0, 1]; got {t.dtype} "
                     "(divide by 255 or convert to uint8 first)")


def as_codes(z: Any, latent_dim: int) -> torch.Tensor:
    """Latent codes as float32 [N, latent_dim] from a tensor, array or list ([Z]: one code)."""
    t = z if isinstance(z, torch.Tensor) else torch.as_tensor(np.asarray(z))
    t = t.unsqueeze(0) if t.ndim == 1 else t
    if t.ndim != 2 or t.shape[1] != latent_dim or t.dtype == torch.bool or t.is_complex():
        raise ValueError(f"latent codes must be numbers shaped [N, {latent_dim}] or "
                         f"[{latent_dim}]; got {t.dtype} {list(t.shape)}")
    return t if t.dtype == torch.float32 else t.float()


def one_hot_labels(y: Labels, n: int, n_classes: int) -> torch.Tensor:
    """Label input c [n, n_classes] (float32) for a batch of n.

    y is a class index (int, for every row), n class indices (list or integer tensor [n]; one
    index is repeated), or rows of class weights (float tensor [n, K] or one row [K] / [1, K],
    e.g. a one-hot vector or a blend of two classes), used as given.
    """
    t = torch.as_tensor(y)
    if t.is_floating_point():
        rows = t.reshape(1, -1) if t.ndim == 1 else t
        if rows.ndim != 2 or rows.shape[1] != n_classes or len(rows) not in (1, n):
            raise ValueError(f"label weights must have shape [{n}, {n_classes}] or "
                             f"[{n_classes}], got {list(t.shape)}")
        return rows.float().expand(n, n_classes)
    if t.dtype == torch.bool or t.ndim > 1:
        raise ValueError(f"labels must be class indices 0..{n_classes - 1} or float rows "
                         f"of class weights, got a {t.dtype} tensor of shape {list(t.shape)}")
    t = t.reshape(-1).long()
    if len(t) not in (1, n):
        raise ValueError(f"got {len(t)} labels for {n} images")
    if len(t) and not 0 <= int(t.min()) <= int(t.max()) < n_classes:
        raise ValueError(f"labels must be in 0..{n_classes - 1}, got {t.unique().tolist()[:10]}")
    return nn.functional.one_hot(t, n_classes).float().expand(n, n_classes)


def batch_labels(y: Labels | None, start: int, size: int, device: torch.device | str = "cpu"
                 ) -> Labels | None:
    """The labels of images start..start+size of a dataset whose labels are y: that slice of
    per-image labels; a single label (or one row of class weights) is shared by all."""
    if y is None or isinstance(y, int):
        return y
    t = torch.as_tensor(y)
    shared = t.ndim == 0 or len(t) == 1 or (t.is_floating_point() and t.ndim == 1)
    return (t if shared else t[start:start + size]).to(device)


def make_activation(cfg: ModelConfig) -> nn.Module:
    if cfg.activation == "leaky_relu":
        return nn.LeakyReLU(cfg.leaky_slope)
    acts = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "elu": nn.ELU}
    return acts[cfg.activation]()


def _mlp(widths: list[int], cfg: ModelConfig, last_act: bool) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(widths, widths[1:], strict=False)):
        layers.append(nn.Linear(a, b))
        if last_act or i < len(widths) - 2:
            layers.append(make_activation(cfg))
            if cfg.dropout:
                layers.append(nn.Dropout(cfg.dropout))
    return layers


class VAE(nn.Module):
    """Variational autoencoder (Kingma & Welling 2014) built from a `ModelConfig`."""

    foreign = False  # True for a model this project did not train (onnx_model.OnnxVAE)
    has_encoder = True  # a foreign model may come without one

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        z = cfg.latent_dim
        ny = self.n_labels
        if cfg.arch == "mlp":
            self.encoder = nn.Sequential(nn.Flatten(),
                                         *_mlp([PIXELS + ny, *cfg.hidden], cfg, True))
            feat = cfg.hidden[-1]
            self.decoder = nn.Sequential(
                *_mlp([z + ny, *reversed(cfg.hidden), PIXELS], cfg, False),
                nn.Unflatten(1, (1, IMAGE_SIZE, IMAGE_SIZE)))
        else:
            self.encoder, feat, self.decoder = self._conv(cfg, ny)
        # The label joins the encoder right after its Flatten (see the module docstring).
        self._label_at = 1 + next(i for i, m in enumerate(self.encoder)
                                  if isinstance(m, nn.Flatten))
        self.mu = nn.Linear(feat, z)
        self.logvar = nn.Linear(feat, z)

    @property
    def n_labels(self) -> int:
        """Width of the one-hot label input: cfg.n_classes if conditional, else 0."""
        return self.cfg.n_classes if self.cfg.conditional else 0

    @staticmethod
    def _conv(cfg: ModelConfig, ny: int = 0) -> tuple[nn.Module, int, nn.Module]:
        # The label (ny one-hot inputs) is concatenated after the conv stack, not fed as ny
        # constant image channels: constant maps carry no spatial information, would cost
        # ny * k * k weights per first-layer filter at full resolution, and zero padding turns
        # them into class-dependent edge patterns. The conv stack stays that of the
        # unconditional model; the label meets features that already span the whole image.
        k, pad = cfg.kernel_size, cfg.kernel_size // 2
        chans, strides, sizes = cfg.channels, cfg.conv_strides(), cfg.conv_sizes()
        enc: list[nn.Module] = []
        for c_in, c_out, s in zip([1, *chans], chans, strides, strict=False):
            enc += [nn.Conv2d(c_in, c_out, k, s, pad), make_activation(cfg)]
            if cfg.dropout:
                enc.append(nn.Dropout(cfg.dropout))
        enc.append(nn.Flatten())
        flat = chans[-1] * sizes[-1] ** 2
        dec: list[nn.Module] = []
        if cfg.conv_dense:
            enc += [nn.Linear(flat + ny, cfg.conv_dense), make_activation(cfg)]
            dec += [nn.Linear(cfg.latent_dim + ny, cfg.conv_dense), make_activation(cfg),
                    nn.Linear(cfg.conv_dense, flat), make_activation(cfg)]
        else:
            dec += [nn.Linear(cfg.latent_dim + ny, flat), make_activation(cfg)]
        dec.append(nn.Unflatten(1, (chans[-1], sizes[-1], sizes[-1])))
        # Mirror the encoder: each transposed conv restores the exact size its conv reduced.
        outs = [*reversed(chans[:-1]), chans[0]]
        for i, (c_in, c_out) in enumerate(zip(reversed(chans), outs, strict=False)):
            layer = len(chans) - 1 - i
            s, size_in, target = strides[layer], sizes[layer + 1], sizes[layer]
            extra = target - ((size_in - 1) * s - 2 * pad + k)
            if not 0 <= extra < s:
                raise ConfigError(f"conv layer {layer}: cannot mirror size {target} with "
                                  f"stride {s}")
            dec += [nn.ConvTranspose2d(c_in, c_out, k, s, pad, output_padding=extra),
                    make_activation(cfg)]
            if cfg.dropout:
                dec.append(nn.Dropout(cfg.dropout))
        dec.append(nn.Conv2d(chans[0], 1, k, 1, pad))
        return nn.Sequential(*enc), cfg.conv_dense or flat + ny, nn.Sequential(*dec)

    # --- labels ----------------------------------------------------------------------------
    def label_input(self, y: Labels | None, like: torch.Tensor) -> torch.Tensor | None:
        """The one-hot input [B,K] for the batch `like` (None for an unconditional model).

        A conditional model without y, or an unconditional one given y, raises ValueError.
        """
        if not self.cfg.conditional:
            if y is not None:
                raise ValueError("this model is unconditional: it takes no label y")
            return None
        if y is None:
            raise ValueError(f"this model is conditional: give the class label y "
                             f"(0..{self.cfg.n_classes - 1})")
        return one_hot_labels(y, len(like), self.cfg.n_classes).to(like.device, like.dtype)

    def _encode(self, x: torch.Tensor, c: torch.Tensor | None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        if c is None:
            h = self.encoder(x)
        else:
            h = self.encoder[:self._label_at](x)
            h = self.encoder[self._label_at:](torch.cat([h, c.to(h.dtype)], 1))
        return self.mu(h), self.logvar(h)

    def _decode(self, z: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        return self.decoder(z if c is None else torch.cat([z, c.to(z.dtype)], 1))

    # --- inference API -------------------------------------------------------------------
    def _images(self, x: Any) -> torch.Tensor:
        """`as_images(x)` on this model's device (no copy when it is already there)."""
        return as_images(x).to(self.mu.weight.device)

    def encode(self, x: Any, y: Labels | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior parameters (mu, logvar), each [B,Z], for images x (float [B,1,28,28] in
        [0, 1], or anything `as_images` takes), with labels y if conditional."""
        x = self._images(x)
        return self._encode(x, self.label_input(y, x))

    def decode_logits(self, z: Any, y: Labels | None = None) -> torch.Tensor:
        """Decoder pre-sigmoid output [B,1,28,28] for codes z [B,Z] (or one code [Z])."""
        z = as_codes(z, self.cfg.latent_dim).to(self.mu.weight.device)
        return self._decode(z, self.label_input(y, z))

    def decode(self, z: Any, y: Labels | None = None) -> torch.Tensor:
        """Mean image in [0, 1] for latent codes z [B,Z] (and labels y) -> [B,1,28,28]."""
        return torch.sigmoid(self.decode_logits(z, y))

    @staticmethod
    def reparameterize(mu: torch.Tensor, logvar: torch.Tensor,
                       generator: torch.Generator | None = None) -> torch.Tensor:
        """z = mu + sigma * eps with eps ~ N(0, I): the reparameterization trick."""
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        return mu + (0.5 * logvar).exp() * eps

    def reconstruct(self, x: Any, y: Labels | None = None, sample: bool = False,
                    generator: torch.Generator | None = None) -> torch.Tensor:
        """Decode the posterior mean (or a posterior sample) of images x (see `encode`),
        under the same labels y: [B,1,28,28] in [0, 1]."""
        x = self._images(x)
        c = self.label_input(y, x)
        mu, logvar = self._encode(x, c)
        return torch.sigmoid(self._decode(
            self.reparameterize(mu, logvar, generator) if sample else mu, c))

    def sample(self, n: int, generator: torch.Generator | None = None, *,
               y: Labels | None = None) -> torch.Tensor:
        """n images decoded from z ~ N(0, I) (under labels y if conditional).

        The codes drawn depend only on the generator, not on y: the same seed gives the same
        styles in every class.
        """
        p = next(self.parameters())
        z = torch.randn(n, self.cfg.latent_dim, generator=generator, device=p.device, dtype=p.dtype)
        return self.decode(z, y)

    def interpolate(self, z0: torch.Tensor, z1: torch.Tensor, steps: int = 10,
                    method: str = "linear", y: Labels | None = None) -> torch.Tensor:
        """Decoded images along a linear or spherical path from z0 to z1 (both [Z])."""
        return self.decode(interpolate_codes(z0, z1, steps, method), y)

    # --- training objective --------------------------------------------------------------
    def forward(self, x: Any, y: Labels | None = None, beta: float = 1.0,
                iw_samples: int = 1, target: Any = None) -> VAEOutput:
        """Negative ELBO (or IWAE bound when iw_samples > 1) for images x [B,1,28,28] (or
        anything `as_images` takes), with their labels y if the model is conditional.

        `target` is what the likelihood scores (defaults to x): dynamic binarization feeds the
        binarized digit both as input and as target.
        """
        x = self._images(x)
        target = x if target is None else self._images(target)
        c = self.label_input(y, x)
        mu, logvar = self._encode(x, c)
        cfg = self.cfg
        if iw_samples == 1:
            z = self.reparameterize(mu, logvar)
            logits = self._decode(z, c)
            rec = recon_nll(logits, target, cfg.likelihood, cfg.gaussian_var)
            kl = kl_normal(mu, logvar)
            loss = (rec + beta * kl).mean()
            return VAEOutput(loss, rec.mean(), kl.mean(), torch.sigmoid(logits), mu, logvar, z,
                             logits)
        # IWAE: K samples per image, bound = log mean_k p(x, z_k) / q(z_k|x).
        k, b = iw_samples, x.shape[0]
        z = self.reparameterize(mu.expand(k, *mu.shape), logvar.expand(k, *logvar.shape))
        logits = self._decode(z.reshape(k * b, -1), None if c is None else c.repeat(k, 1))
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
