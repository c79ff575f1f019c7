"""The VAE module: shapes, the objective's parts, the inference API, configs and size limits."""

from __future__ import annotations

import dataclasses
import json
import math
import time

import pytest
import torch

from vae_core import (
    VAE,
    ConfigError,
    ModelConfig,
    TrainConfig,
    VAEOutput,
    build_model,
    count_params,
    kl_normal,
    recon_nll,
)
from vae_core.config import ACTIVATIONS, MAX_PARAMS

B, Z = 5, 3


def small_cfg(arch: str, likelihood: str = "bernoulli", **kw) -> ModelConfig:
    base = {"mlp": {"hidden": [32, 16]}, "conv": {"channels": [4, 8], "conv_dense": 0}}[arch]
    return ModelConfig(arch=arch, latent_dim=Z, likelihood=likelihood, **{**base, **kw})


def images(b: int = B, seed: int = 0) -> torch.Tensor:
    return torch.rand(b, 1, 28, 28, generator=torch.Generator().manual_seed(seed))


VARIANTS = [pytest.param(arch, lik, {}, id=f"{arch}-{lik}")
            for arch in ("mlp", "conv") for lik in ("bernoulli", "gaussian")]
VARIANTS += [pytest.param(arch, "bernoulli", {"dropout": 0.3}, id=f"{arch}-dropout")
             for arch in ("mlp", "conv")]
VARIANTS += [pytest.param(arch, "gaussian", {"activation": act}, id=f"{arch}-{act}")
             for arch in ("mlp", "conv") for act in ACTIVATIONS]
VARIANTS += [pytest.param("conv", "bernoulli", {"conv_dense": 16, "strides": [1, 2]},
                          id="conv-dense-strides"),
             pytest.param("conv", "bernoulli", {"kernel_size": 5, "channels": [4, 4, 4],
                                                "strides": [2, 2, 2]}, id="conv-k5-3x2"),
             pytest.param("conv", "gaussian", {"channels": [4] * 6}, id="conv-6x-stride2-to-1x1")]


@pytest.mark.parametrize(("arch", "lik", "kw"), VARIANTS)
def test_forward_backward(arch: str, lik: str, kw: dict) -> None:
    torch.manual_seed(0)
    model = build_model(small_cfg(arch, lik, **kw)).train()
    x = images()
    out = model(x, beta=0.7)
    assert isinstance(out, VAEOutput)
    assert out.x_hat.shape == (B, 1, 28, 28) and out.logits.shape == (B, 1, 28, 28)
    assert out.mu.shape == (B, Z) and out.logvar.shape == (B, Z) and out.z.shape == (B, Z)
    for name in ("loss", "recon", "kl"):
        v = getattr(out, name)
        assert v.shape == () and torch.isfinite(v), name
    assert out.kl.item() >= 0
    assert 0 <= out.x_hat.min().item() and out.x_hat.max().item() <= 1
    # The objective is recon + beta * KL, each a per-image sum averaged over the batch.
    assert torch.allclose(out.loss, out.recon + 0.7 * out.kl, rtol=1e-5)
    assert torch.allclose(out.recon, recon_nll(out.logits, x, lik, model.cfg.gaussian_var).mean())
    assert torch.allclose(out.kl, kl_normal(out.mu, out.logvar).mean())
    out.loss.backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert sum(float(g.abs().sum()) for g in grads) > 0


def test_output_fields() -> None:
    names = [f.name for f in dataclasses.fields(VAEOutput)]
    assert names == ["loss", "recon", "kl", "x_hat", "mu", "logvar", "z", "logits"]


def test_losses_are_summed_per_image() -> None:
    """A loss of ~543 nats for a half-grey guess: sum over 784 pixels, not a pixel mean."""
    x = torch.full((2, 1, 28, 28), 0.5)
    logits = torch.zeros_like(x)
    bce = recon_nll(logits, torch.ones_like(x), "bernoulli")
    assert torch.allclose(bce, torch.full((2,), 784 * math.log(2)))
    # Gaussian with var 0.5: sum of squared errors plus the normalizing constant.
    g = recon_nll(logits, torch.ones_like(x), "gaussian", 0.5)
    const = 0.5 * 784 * math.log(2 * math.pi * 0.5)
    assert torch.allclose(g, torch.full((2,), 784 * 0.25 + const))
    assert torch.allclose(kl_normal(torch.zeros(2, 4), torch.zeros(2, 4)), torch.zeros(2))
    assert torch.allclose(kl_normal(torch.ones(1, 4), torch.zeros(1, 4)), torch.tensor([2.0]))


@pytest.mark.parametrize("arch", ["mlp", "conv"])
@pytest.mark.parametrize("lik", ["bernoulli", "gaussian"])
def test_iwae_path(arch: str, lik: str) -> None:
    torch.manual_seed(1)
    model = build_model(small_cfg(arch, lik))
    x = images()
    out = model(x, iw_samples=7)
    assert out.x_hat.shape == (B, 1, 28, 28) and out.logits.shape == (B, 1, 28, 28)
    assert out.mu.shape == (B, Z) and out.z.shape == (B, Z)
    assert torch.isfinite(out.loss)
    out.loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())


def test_iwae_bound_is_tighter_than_elbo() -> None:
    """E[-IWAE_k] <= -ELBO: with many samples the averaged IWAE loss sits below the ELBO loss."""
    torch.manual_seed(2)
    model = build_model(small_cfg("mlp")).eval()
    x = (images(50) > 0.5).float()
    with torch.no_grad():
        elbo = torch.stack([model(x).loss for _ in range(40)]).mean()
        iwae = torch.stack([model(x, iw_samples=50).loss for _ in range(5)]).mean()
    assert iwae < elbo


@pytest.mark.parametrize("arch", ["mlp", "conv"])
def test_inference_api_shapes(arch: str) -> None:
    model = build_model(small_cfg(arch, dropout=0.5)).eval()
    x = images()
    with torch.no_grad():
        mu, logvar = model.encode(x)
        assert mu.shape == (B, Z) and logvar.shape == (B, Z)
        dec = model.decode(mu)
        assert dec.shape == (B, 1, 28, 28)
        assert float(dec.min()) >= 0 and float(dec.max()) <= 1
        rec = model.reconstruct(x)
        assert rec.shape == (B, 1, 28, 28)
        assert torch.equal(rec, model.reconstruct(x))  # eval mode: dropout off, mean decoded
        assert torch.allclose(rec, dec)
        g = torch.Generator().manual_seed(3)
        rs = model.reconstruct(x, sample=True, generator=g)
        assert rs.shape == (B, 1, 28, 28) and not torch.equal(rs, rec)
        s1 = model.sample(9, torch.Generator().manual_seed(4))
        s2 = model.sample(9, torch.Generator().manual_seed(4))
        assert s1.shape == (9, 1, 28, 28) and torch.equal(s1, s2)
        for method in ("linear", "slerp"):
            path = model.interpolate(mu[0], mu[1], steps=6, method=method)
            assert path.shape == (6, 1, 28, 28)
            assert torch.allclose(path[0], dec[0], atol=1e-5)
            assert torch.allclose(path[-1], dec[1], atol=1e-5)
    with pytest.raises(ValueError):
        model.interpolate(mu[0], mu[1], method="cubic")


def test_config_round_trip() -> None:
    m = ModelConfig(arch="conv", latent_dim=8, channels=[64, 64, 64], strides=[2, 2, 1],
                    activation="leaky_relu", leaky_slope=0.3, likelihood="gaussian", dropout=0.25)
    t = TrainConfig(epochs=3, batch_size=64, optimizer="rmsprop", lr=5e-4, beta=0.4,
                    binarize="static", iw_samples=5, grad_clip=1.5, limit=100)
    m2 = ModelConfig.from_dict(json.loads(json.dumps(m.to_dict())))
    t2 = TrainConfig.from_dict(json.loads(json.dumps(t.to_dict())))
    assert m2 == m and t2 == t
    assert m2.to_dict() == m.to_dict()
    assert m != ModelConfig.from_dict({**m.to_dict(), "latent_dim": 9})


@pytest.mark.parametrize(("cls", "patch", "needle"), [
    (ModelConfig, {"latent_dim": 0}, "latent_dim"),
    (ModelConfig, {"latent_dim": 129}, "latent_dim"),
    (ModelConfig, {"latent_dim": True}, "latent_dim"),
    (ModelConfig, {"latent_dim": 2.0}, "latent_dim"),
    (ModelConfig, {"hidden": [5000]}, "hidden"),
    (ModelConfig, {"hidden": [64, True]}, "hidden"),
    (ModelConfig, {"hidden": []}, "hidden"),
    (ModelConfig, {"hidden": [8] * 9}, "hidden"),
    (ModelConfig, {"arch": "transformer"}, "arch"),
    (ModelConfig, {"activation": "gelu"}, "activation"),
    (ModelConfig, {"dropout": 1.0}, "dropout"),
    (ModelConfig, {"gaussian_var": float("nan")}, "gaussian_var"),
    (ModelConfig, {"leaky_slope": 10 ** 400}, "leaky_slope"),
    (ModelConfig, {"arch": "conv", "channels": [600]}, "channels"),
    (ModelConfig, {"arch": "conv", "channels": [8, 8], "strides": [3, 1]}, "strides"),
    (ModelConfig, {"arch": "conv", "channels": [4] * 9}, "channels"),
    (ModelConfig, {"arch": "conv", "kernel_size": 4}, "kernel_size"),
    (ModelConfig, {"wings": 2}, "unknown field"),
    (TrainConfig, {"epochs": 0}, "epochs"),
    (TrainConfig, {"batch_size": True}, "batch_size"),
    (TrainConfig, {"lr": 0}, "lr"),
    (TrainConfig, {"lr": 10 ** 400}, "lr"),
    (TrainConfig, {"beta": -1}, "beta"),
    (TrainConfig, {"optimizer": "lbfgs"}, "optimizer"),
    (TrainConfig, {"seed": -1}, "seed"),
    (TrainConfig, {"iw_samples": 0}, "iw_samples"),
    (TrainConfig, {"colour": "red"}, "unknown field"),
])
def test_config_bounds(cls: type, patch: dict, needle: str) -> None:
    data = {**cls().to_dict(), **patch}
    with pytest.raises(ConfigError, match=needle):
        cls.from_dict(data)


def test_config_from_non_dict() -> None:
    with pytest.raises(ConfigError, match="JSON object"):
        ModelConfig.from_dict([1, 2])  # type: ignore[arg-type]
    assert issubclass(ConfigError, ValueError)


@pytest.mark.parametrize("cfg", [
    small_cfg("mlp"), small_cfg("conv"), ModelConfig(),
    ModelConfig(arch="conv", channels=[16, 16, 32], strides=[1, 2, 2], conv_dense=32),
    ModelConfig(arch="conv", channels=[8, 8], kernel_size=7, dropout=0.1),
], ids=["mlp", "conv", "default", "conv-dense", "conv-k7"])
def test_count_params_matches_real_model(cfg: ModelConfig) -> None:
    model = VAE(cfg)
    real = sum(p.numel() for p in model.parameters())
    assert count_params(cfg) == real
    assert all(p.device.type == "cpu" for p in model.parameters())


def test_count_params_known_value() -> None:
    # 784-200-2 encoder (+ mu, logvar heads) and 2-200-784 decoder, counted by hand.
    cfg = ModelConfig(hidden=[200], latent_dim=2)
    assert count_params(cfg) == (784 * 200 + 200) + 2 * (200 * 2 + 2) + (2 * 200 + 200) + \
        (200 * 784 + 784)


@pytest.mark.parametrize("cfg", [
    ModelConfig(hidden=[4096] * 8, latent_dim=128),
    ModelConfig(arch="conv", channels=[512] * 8, strides=[1] * 8, conv_dense=4096),
], ids=["mlp-8x4096", "conv-8x512-dense"])
def test_param_limit_enforced_without_allocation(cfg: ModelConfig,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import vae_core.model as model_mod

    class OnlyOnMeta(VAE):
        def __init__(self, c: ModelConfig) -> None:
            assert torch.get_default_device().type == "meta", "real weights were allocated"
            super().__init__(c)

    monkeypatch.setattr(model_mod, "VAE", OnlyOnMeta)
    t0 = time.perf_counter()
    n = count_params(cfg)
    assert n > MAX_PARAMS
    with pytest.raises(ConfigError, match="parameters"):
        build_model(cfg)
    assert time.perf_counter() - t0 < 10  # counted on the meta device, nothing allocated


def test_param_limit_allows_large_but_legal_model() -> None:
    cfg = ModelConfig(hidden=[1024, 1024])
    assert count_params(cfg) < MAX_PARAMS
    assert isinstance(build_model(cfg), VAE)
