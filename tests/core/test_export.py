"""Decoder export (vae_core.export): the spec run by NumPy equals `model.decode` for every
bundled checkpoint and for every layer the configs can build; other layers are refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from vae_core import (ExportError, ModelConfig, VAEError, build_model, decode_with_spec,
                      export_decoder, load_checkpoint)
from vae_core.config import ACTIVATIONS
from vae_core.export import spec_classes

pytestmark = pytest.mark.usefixtures("one_torch_thread")

BUNDLED = sorted(p for p in (Path(__file__).resolve().parents[2] / "checkpoints").iterdir()
                 if (p / "config.json").exists())


def fixed_codes(dim: int, n: int = 20, seed: int = 0) -> np.ndarray:
    """n codes: the origin, prior draws and a few far out (up to +-6, beyond the slider's 3)."""
    g = np.random.default_rng(seed)
    z = g.standard_normal((n, dim)).astype(np.float32)
    z[0] = 0.0
    z[-3:] *= 3.0
    return z


def torch_decode(model, z: np.ndarray, y=None) -> np.ndarray:
    with torch.no_grad():
        return model.eval().decode(torch.from_numpy(z), y)[:, 0].numpy()


def assert_matches(model, tol: float = 1e-5) -> None:
    """Spec == model.decode; a conditional decoder under several classes, one label per code
    and a blend of two classes."""
    spec, weights = export_decoder(model)
    assert weights.dtype == np.float32 and weights.ndim == 1
    z = fixed_codes(model.cfg.latent_dim)
    k = model.n_labels
    eye = np.eye(max(k, 1), dtype=np.float32)
    labels = [None] if not k else [0, k // 2, k - 1, np.arange(len(z)) % k,
                                   0.4 * eye[0] + 0.6 * eye[-1]]
    for y in labels:
        ty = torch.as_tensor(y) if isinstance(y, np.ndarray) else y
        got, want = decode_with_spec(spec, weights, z, y), torch_decode(model, z, ty)
        assert got.shape == want.shape == (len(z), 28, 28)
        assert np.abs(got - want).max() <= tol, y
        assert np.abs(want).max() > 0.05  # not a trivially blank decoder


@pytest.mark.parametrize("path", BUNDLED, ids=[p.name for p in BUNDLED])
def test_bundled_checkpoints_decode_the_same(path: Path) -> None:
    model = load_checkpoint(path).model
    assert_matches(model)
    spec, weights = export_decoder(model)
    n_params = sum(p.numel() for p in model.decoder.parameters())
    assert weights.size == n_params  # every decoder weight once, nothing else
    assert spec[-1]["op"] == "sigmoid"


CONFIGS = [
    *({"arch": "mlp", "hidden": [24, 12], "activation": a} for a in ACTIVATIONS),
    {"arch": "mlp", "hidden": [16], "dropout": 0.5, "latent_dim": 1},
    {"arch": "mlp", "hidden": [20, 16, 12], "activation": "leaky_relu", "leaky_slope": 0.3},
    {"arch": "conv", "channels": [4, 8], "conv_dense": 0},
    {"arch": "conv", "channels": [4, 6], "conv_dense": 10, "activation": "elu", "dropout": 0.2},
    {"arch": "conv", "channels": [3, 5], "strides": [1, 2], "kernel_size": 5,
     "activation": "tanh"},
    {"arch": "conv", "channels": [2, 3, 4], "strides": [2, 2, 2], "kernel_size": 7,
     "activation": "leaky_relu", "latent_dim": 5},  # 28 -> 14 -> 7 -> 4 (output_padding 0)
    {"arch": "conv", "channels": [3, 4, 5], "strides": [2, 1, 2], "activation": "sigmoid"},
]


CONFIGS += [{**kw, "conditional": True, "n_classes": k}
            for kw, k in ((CONFIGS[0], 10), (CONFIGS[-4], 3), (CONFIGS[-2], 7))]


@pytest.mark.parametrize("kw", CONFIGS, ids=lambda kw: "-".join(
    str(v).replace(" ", "") for v in kw.values()))
def test_every_config_layer_decodes_the_same(kw: dict) -> None:
    torch.manual_seed(0)
    model = build_model(ModelConfig(**{"latent_dim": 3, **kw}))
    # Untrained biases are small: widen them so negative inputs reach every activation's
    # other branch and the test is not just checking a near-linear map.
    with torch.no_grad():
        for p in model.decoder.parameters():
            p.mul_(3.0)
    assert_matches(model)


def test_output_padding_is_exported() -> None:
    model = build_model(ModelConfig(arch="conv", channels=[2, 3, 4], strides=[2, 2, 2],
                                    latent_dim=2))
    spec, _ = export_decoder(model)
    pads = [layer["output_padding"] for layer in spec if layer["op"] == "conv_transpose2d"]
    assert 0 in pads and 1 in pads  # 4 -> 7 needs none, 7 -> 14 and 14 -> 28 need one


@pytest.mark.parametrize("layer", [nn.BatchNorm1d(16), nn.GELU(), nn.Softplus()],
                         ids=lambda m: type(m).__name__)
def test_unsupported_layer_is_a_clear_error(layer: nn.Module) -> None:
    model = build_model(ModelConfig(hidden=[16], latent_dim=2))
    model.decoder.insert(1, layer)
    with pytest.raises(ExportError, match=type(layer).__name__) as info:
        export_decoder(model)
    assert isinstance(info.value, VAEError)


def test_unsupported_conv_settings_are_refused() -> None:
    model = build_model(ModelConfig(arch="conv", channels=[4, 8], conv_dense=0, latent_dim=2))
    convt = next(m for m in model.decoder if isinstance(m, nn.ConvTranspose2d))
    convt.dilation = (2, 2)
    with pytest.raises(ExportError, match="dilation"):
        export_decoder(model)


def test_conditional_spec_states_its_classes_and_wants_a_label() -> None:
    model = load_checkpoint(Path(BUNDLED[0]).parent / "mnist-cvae-2d").model
    spec, _ = export_decoder(model)
    assert spec[0] == {"op": "one_hot", "classes": 10, "shape": [12]}
    assert spec_classes(spec) == 10 and spec[1]["op"] == "linear" and spec[1]["in"] == 12
    z = np.zeros((2, 2), np.float32)
    _, w = export_decoder(model)
    a, b = decode_with_spec(spec, w, z, 1), decode_with_spec(spec, w, z, 7)
    assert np.abs(a - b).max() > 0.3  # the label changes the digit
    for bad in (None, 10, -1, [1, 2, 3], np.zeros(9, np.float32)):
        with pytest.raises(ExportError):
            decode_with_spec(spec, w, z, bad)
    plain, pw = export_decoder(load_checkpoint(Path(BUNDLED[0]).parent / "mnist-mlp-2d").model)
    assert spec_classes(plain) == 0
    with pytest.raises(ExportError, match="unconditional"):
        decode_with_spec(plain, pw, z, 3)


def test_spec_is_plain_json() -> None:
    import json

    spec, _ = export_decoder(load_checkpoint(BUNDLED[0]).model)
    assert json.loads(json.dumps(spec)) == spec


def test_classifier_exports_with_its_batch_norms_folded() -> None:
    from vae_core import classify, load_classifier
    from vae_core.export import export_classifier, run_spec

    net = load_classifier()
    spec, weights = export_classifier(net)
    assert [layer["op"] for layer in spec].count("max_pool2d") == 3
    assert not [layer for layer in spec if layer["op"] not in (
        "unflatten", "conv2d", "relu", "max_pool2d", "flatten", "linear")]
    mlp = load_checkpoint(BUNDLED[0].parent / "mnist-mlp-2d").model
    images = mlp.sample(16, torch.Generator().manual_seed(0))
    logits = run_spec(spec, weights, images.reshape(16, 784).numpy())
    with torch.no_grad():
        want = net(images).numpy()
    assert logits.shape == (16, 10) and np.abs(logits - want).max() <= 1e-4
    assert (logits.argmax(1) == classify(images)[0]).all()
    with pytest.raises(ExportError, match="BatchNorm2d"):
        export_classifier(nn.Sequential(nn.Flatten(), nn.BatchNorm2d(3)))
