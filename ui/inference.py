"""The shared models run on the server, uncached: encode, decode, reconstruct, sample, and
score one image. Cheap and seeded, so the pages call them on every run; what is worth keeping
is cached in ui.derived, which calls these. Models are the shared read-only ones of ui.state:
everything runs under torch.no_grad(), nothing changes them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from vae_core import EVAL_SEED, Checkpoint, Labels, elbo_terms, eval_targets

# Every page scores images with vae_core.metrics.elbo_terms: one posterior sample, closed-form
# KL. A single image is scored with eps seeded by ELBO_SEED, so the same image gets the same
# -ELBO on "How a VAE works" and on Reconstruct.
ELBO_SEED = EVAL_SEED


def device_of(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


def test_labels(model: Any, labels: np.ndarray) -> torch.Tensor | None:
    """The test labels as the model takes them: a tensor for a conditional model (which
    scores and encodes each image under its label), None for an unconditional one."""
    return torch.from_numpy(np.asarray(labels)).long() if model.cfg.conditional else None


def as_batch(img: np.ndarray, model: torch.nn.Module) -> torch.Tensor:
    """[28, 28] or [N, 28, 28] array -> [N, 1, 28, 28] float tensor on the model's device."""
    t = torch.as_tensor(np.asarray(img, dtype=np.float32))
    if t.ndim == 2:
        t = t[None]
    return t[:, None].to(device_of(model))


def estimator_note(seed: int = ELBO_SEED) -> str:
    """What the pages' -ELBO of one image is, in words (for captions)."""
    return (f"one-sample estimate: the reconstruction term is scored at one z ~ q(z|x) drawn "
            f"with seed {seed}, the KL in closed form")


def numpy_terms(terms: dict[str, torch.Tensor], keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    return {k: terms[k].cpu().numpy() for k in keys}


def image_elbo(model: Any, img: np.ndarray, binarization: str, seed: int = ELBO_SEED,
               y: int | None = None) -> dict[str, Any]:
    """-ELBO terms of one [28, 28] image (elbo_terms with eps seeded by `seed`), scored like the
    test set: grey levels for binarization 'none', else one fixed Bernoulli draw (seed
    EVAL_SEED) used as input and target. Also mu, logvar, eps, z [Z], the target and the
    decoded mean of z [28, 28]. A conditional model scores it given its label y."""
    x = torch.from_numpy(np.asarray(img, dtype=np.float32))[None, None]
    target = eval_targets(x, binarization)
    out = elbo_terms(model, target, seed, y)
    res: dict[str, Any] = {k: float(out[k][0]) for k in ("neg_elbo", "recon", "kl")}
    res.update({k: v[0] for k, v in numpy_terms(out, ("mu", "logvar", "eps", "z")).items()})
    res.update(target=target[0, 0].numpy(),
               x_z=torch.sigmoid(out["logits"])[0, 0].cpu().numpy())
    return res


def score_image(ck: Checkpoint, img: np.ndarray, seed: int = ELBO_SEED,
                y: int | None = None) -> dict[str, Any]:
    """image_elbo under the checkpoint's own binarization (given label y if conditional)."""
    return image_elbo(ck.model, img, ck.train_config.binarize, seed, y)


def reconstruct(ck: Checkpoint, images: np.ndarray, sample: bool = False, seed: int = 0,
                y: Labels | None = None) -> np.ndarray:
    """Decoded posterior means (or one seeded posterior sample each) of images [N, 28, 28]
    (under labels y, one per image or one for all, if the model is conditional)."""
    g = torch.Generator(device=device_of(ck.model)).manual_seed(seed)
    with torch.no_grad():
        out = ck.model.reconstruct(as_batch(images, ck.model), _on(y, ck), sample=sample,
                                   generator=g)
    return out[:, 0].cpu().numpy()


def encode(ck: Checkpoint, images: np.ndarray, y: Labels | None = None
           ) -> tuple[np.ndarray, np.ndarray]:
    """Posterior (mu, logvar) [N, Z] of images [N, 28, 28] (grey levels, as given; under
    labels y if the model is conditional)."""
    with torch.no_grad():
        m, lv = ck.model.encode(as_batch(images, ck.model), _on(y, ck))
    return m.cpu().numpy(), lv.cpu().numpy()


def posterior_samples(ck: Checkpoint, image: np.ndarray, n: int, seed: int,
                      draw_pixels: bool = False, y: int | None = None) -> np.ndarray:
    """n decoded samples z ~ q(z|x) of one image (optionally with pixels drawn from p(x|z));
    a conditional model encodes and decodes it under its label y."""
    model = ck.model
    g = torch.Generator(device=device_of(model)).manual_seed(seed)
    with torch.no_grad():
        x = as_batch(image, model).expand(n, -1, -1, -1)
        mean = model.reconstruct(x, _on(y, ck), sample=True, generator=g)
        out = pixel_draw(ck, mean, g) if draw_pixels else mean
    return out[:, 0].cpu().numpy()


def posterior_draws(ck: Checkpoint, mu: np.ndarray, logvar: np.ndarray, n: int, seed: int,
                    y: int | None = None) -> np.ndarray:
    """n decoded samples z ~ q(z|x) of one image, from its posterior mu, logvar [Z] (an
    encoding already made): the draws of `posterior_samples` with the same seed."""
    model = ck.model
    g = torch.Generator(device=device_of(model)).manual_seed(seed)
    with torch.no_grad():
        m = torch.as_tensor(np.asarray(mu, np.float32)).to(device_of(model)).expand(n, -1)
        lv = torch.as_tensor(np.asarray(logvar, np.float32)).to(m.device).expand(n, -1)
        z = model.reparameterize(m, lv, g)  # the draws of model.reconstruct(sample=True)
        return model.decode(z, _on(y, ck))[:, 0].cpu().numpy()


def pixel_draw(ck: Checkpoint, mean: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """One draw x ~ p(x|z) given decoded means: Bernoulli pixels, or Gaussian noise (clipped)."""
    cfg = ck.model_config
    if cfg.likelihood == "bernoulli":
        return torch.bernoulli(mean, generator=g)
    noise = torch.randn(mean.shape, generator=g, device=mean.device, dtype=mean.dtype)
    return (mean + noise * cfg.gaussian_var ** 0.5).clamp(0, 1)


def decode(ck: Checkpoint, codes: np.ndarray | torch.Tensor, y: Labels | None = None
           ) -> np.ndarray:
    """Decode latent codes [N, Z] -> images [N, 28, 28] (under labels y if conditional)."""
    with torch.no_grad():
        z = torch.as_tensor(codes, dtype=torch.float32).to(device_of(ck.model))
        return ck.model.decode(z, _on(y, ck))[:, 0].cpu().numpy()


def prior_samples(ck: Checkpoint, n: int, seed: int, y: Labels | None = None) -> np.ndarray:
    """n images decoded from z ~ N(0, I), drawn with a seeded generator (under labels y if
    conditional: the seed alone picks the codes, so every class gets the same styles)."""
    g = torch.Generator(device=device_of(ck.model)).manual_seed(seed)
    with torch.no_grad():
        return ck.model.sample(n, generator=g, y=_on(y, ck))[:, 0].cpu().numpy()


def _on(y: Labels | None, ck: Checkpoint) -> Labels | None:
    """Labels y on the model's device (a tensor must be; an int or list is made there)."""
    return y.to(device_of(ck.model)) if isinstance(y, torch.Tensor) else y
