"""A model's decoder as a small layer spec plus flat float32 weights, for decoding elsewhere;
the reference digit classifier in the same form, to read the decoded digit there too.

The browser's latent pad (ui/latent_pad) runs these specs with hand-written Float32Array
kernels; `decode_with_spec` / `run_spec` (vae_core/spec_reference.py) are the NumPy reference of
the same arithmetic, so a test can check a spec against `model.decode` (or the classifier)
without a browser. A foreign model's decoder.onnx is translated into the same spec by
vae_core/onnx_spec.py.

Conventions of the spec (a list of dicts, each with an "op"):

* activations flow as one flat vector per code; 3-D tensors are stored channels-last (H, W, C)
  so a convolution's innermost loop runs over contiguous channels in both the activations and
  the weights. "shape" in each layer is its output shape: [n] or [H, W, C].
* "linear": W as [out, in] (PyTorch's layout, one dot product per output), then the bias.
* "unflatten": a PyTorch (C, H, W) view of the flat vector, transposed to (H, W, C);
  "flatten" is its inverse.
* "conv2d" / "conv_transpose2d": W as [cout, k, k, cin] / [cin, k, k, cout], then the bias;
  stride, padding and output_padding as in PyTorch (square kernels, no groups or dilation).
* "relu", "leaky_relu" (slope), "elu" (alpha), "sigmoid", "tanh", "softplus", "gelu" (the
  exact, erf one): element-wise. (Our own models use the first five; foreign ones all.)
* the decoder's output sigmoid is the spec's last layer, so the spec maps z to pixels in [0, 1].
* "max_pool2d": non-overlapping k x k max pooling (stride k, no padding; floor of H / k).
* "upsample": nearest-neighbour upsampling by an integer factor k (each value k x k times).
* Dropout is skipped: the spec is the decoder in eval mode. A classifier's batch norms are
  folded into the convolution before them (`export_classifier`).
* a conditional decoder (p(x|y,z)) starts with {"op": "one_hot", "classes": K, "shape":
  [Z + K]}: the class label, as a one-hot vector (or a row of class weights), is appended to
  z, and the first "linear" takes [z, one-hot] as the model's does.
  `spec_reference.spec_classes` reads K.

Offsets ("w", "b") count float32 elements into the flat weight array; "b" is -1 without bias.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from .errors import ExportError
from .model import VAE

# The NumPy reference lives beside the export (onnx_spec checks its translations with it);
# its names stay importable from here, where the spec's conventions are written down.
from .spec_reference import decode_with_spec, run_spec, spec_classes

__all__ = ["export_decoder", "export_classifier", "decode_with_spec", "run_spec",
           "spec_classes"]

_ELEMENTWISE = {nn.ReLU: "relu", nn.Sigmoid: "sigmoid", nn.Tanh: "tanh"}


def _leaves(module: nn.Module) -> list[nn.Module]:
    """The decoder's layers in order, nested Sequentials opened."""
    if isinstance(module, nn.Sequential):
        return [leaf for child in module for leaf in _leaves(child)]
    return [module]


def _size(shape: list[int]) -> int:
    return int(np.prod(shape))


def _pair(v: Any, name: str, layer: str) -> int:
    """One int from an int or a square (a, a) tuple; anything else cannot be exported."""
    a, b = (v, v) if isinstance(v, int) else tuple(v)
    if a != b:
        raise ExportError(f"{layer}: non-square {name} {tuple(v)} cannot be exported")
    return int(a)


class _Writer:
    """Collects float32 arrays into one flat buffer and hands out their offsets."""

    def __init__(self) -> None:
        self.parts: list[np.ndarray] = []
        self.size = 0

    def add(self, a: np.ndarray | None) -> int:
        if a is None:
            return -1
        flat = np.ascontiguousarray(a, dtype=np.float32).ravel()
        self.parts.append(flat)
        self.size += flat.size
        return self.size - flat.size

    def array(self) -> np.ndarray:
        return np.concatenate(self.parts) if self.parts else np.zeros(0, np.float32)


def _conv(m: nn.Conv2d | nn.ConvTranspose2d, shape: list[int], out: _Writer) -> dict[str, Any]:
    name = type(m).__name__
    if len(shape) != 3:
        raise ExportError(f"{name} needs a (C, H, W) input, got shape {shape}")
    if m.groups != 1 or _pair(m.dilation, "dilation", name) != 1 or m.padding_mode != "zeros":
        raise ExportError(f"{name}: groups, dilation and non-zero padding modes are not "
                          "supported by the export")
    if isinstance(m.padding, str):
        raise ExportError(f"{name}: padding={m.padding!r} is not supported by the export")
    k, s = _pair(m.kernel_size, "kernel_size", name), _pair(m.stride, "stride", name)
    p = _pair(m.padding, "padding", name)
    h, w, cin = shape
    if cin != m.in_channels:
        raise ExportError(f"{name} expects {m.in_channels} channels, gets {cin}")
    weight = m.weight.detach().cpu().numpy()
    bias = None if m.bias is None else m.bias.detach().cpu().numpy()
    if isinstance(m, nn.ConvTranspose2d):
        op = _pair(m.output_padding, "output_padding", name)
        hout, wout = ((n - 1) * s - 2 * p + k + op for n in (h, w))
        layer = {"op": "conv_transpose2d", "output_padding": op}
    else:
        hout, wout = ((n + 2 * p - k) // s + 1 for n in (h, w))
        layer = {"op": "conv2d"}
    if hout < 1 or wout < 1:
        raise ExportError(f"{name} on a {h}x{w} input gives an empty output")
    # Both PyTorch layouts keep the kernel in the last two axes: move channels innermost.
    layer.update(k=k, stride=s, padding=p, cin=cin, cout=m.out_channels,
                 w=out.add(weight.transpose(0, 2, 3, 1)), b=out.add(bias),
                 shape=[hout, wout, m.out_channels])
    return layer


def _folded(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Conv2d:
    """conv then batch norm (eval mode: running statistics) as one conv with a bias."""
    scale = bn.weight.detach() / torch.sqrt(bn.running_var + bn.eps)
    out = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride,
                    conv.padding, conv.dilation, conv.groups, True, conv.padding_mode)
    bias = conv.bias.detach() if conv.bias is not None else torch.zeros_like(scale)
    with torch.no_grad():
        out.weight.copy_(conv.weight.detach() * scale[:, None, None, None])
        out.bias.copy_((bias - bn.running_mean) * scale + bn.bias.detach())
    return out


def _export_layers(layers: list[nn.Module], shape: list[int], out: _Writer,
                   spec: list[dict[str, Any]], what: str) -> list[int]:
    """Append the spec of `layers` (input `shape`) to `spec`; return the output shape."""
    for m in layers:
        name = type(m).__name__
        if isinstance(m, nn.Linear):
            if len(shape) != 1 or shape[0] != m.in_features:
                raise ExportError(f"Linear({m.in_features}, ...) cannot take shape {shape}")
            bias = None if m.bias is None else m.bias.detach().cpu().numpy()
            shape = [m.out_features]
            spec.append({"op": "linear", "in": m.in_features, "out": m.out_features,
                         "w": out.add(m.weight.detach().cpu().numpy()), "b": out.add(bias),
                         "shape": shape})
        elif isinstance(m, nn.Unflatten):
            if len(shape) != 1 or m.dim not in (1, -1) or len(m.unflattened_size) != 3:
                raise ExportError(f"Unflatten(dim={m.dim}, {m.unflattened_size}) of shape "
                                  f"{shape}: only a flat vector to (C, H, W) is supported")
            c, h, w = (int(n) for n in m.unflattened_size)
            if c * h * w != shape[0]:
                raise ExportError(f"Unflatten to {(c, h, w)} cannot take {shape[0]} values")
            shape = [h, w, c]
            spec.append({"op": "unflatten", "shape": shape})
        elif isinstance(m, nn.Flatten):
            if len(shape) == 3:
                shape = [_size(shape)]
                spec.append({"op": "flatten", "shape": shape})
        elif type(m) in (nn.Conv2d, nn.ConvTranspose2d):  # exact types: no subclasses
            spec.append(_conv(m, shape, out))
            shape = spec[-1]["shape"]
        elif type(m) is nn.MaxPool2d:
            k, s = _pair(m.kernel_size, "kernel_size", name), _pair(m.stride, "stride", name)
            if k != s or m.padding != 0 or m.dilation != 1 or m.ceil_mode or len(shape) != 3:
                raise ExportError(f"{name}: only non-overlapping pooling (kernel = stride, no "
                                  "padding) of a (C, H, W) input is supported")
            shape = [shape[0] // k, shape[1] // k, shape[2]]
            spec.append({"op": "max_pool2d", "k": k, "shape": shape})
        elif type(m) in (nn.Dropout, nn.Identity):
            continue  # identity at eval time
        elif type(m) in _ELEMENTWISE:
            spec.append({"op": _ELEMENTWISE[type(m)], "shape": shape})
        elif type(m) is nn.LeakyReLU:
            spec.append({"op": "leaky_relu", "slope": float(m.negative_slope), "shape": shape})
        elif type(m) is nn.ELU:
            spec.append({"op": "elu", "alpha": float(m.alpha), "shape": shape})
        else:
            raise ExportError(f"the {what}'s {name} layer cannot be exported for the browser")
    return shape


def export_decoder(model: VAE) -> tuple[list[dict[str, Any]], np.ndarray]:
    """(layer spec, flat float32 weights) of `model`'s decoder followed by its output sigmoid.

    Raises ExportError for a layer the spec cannot express (the caller then decodes with
    PyTorch, or onnxruntime, instead). The model is only read. A foreign model (an OnnxVAE)
    has no torch layers: its decoder.onnx graph is translated instead.
    """
    if getattr(model, "foreign", False):
        # deferred: onnx_spec needs onnx and onnxruntime, heavy and only for foreign models
        from .onnx_spec import onnx_decoder_spec

        return onnx_decoder_spec(model)
    out, spec = _Writer(), []
    shape = [model.cfg.latent_dim]
    n_labels = int(getattr(model, "n_labels", 0))
    if n_labels:  # the model's _decode concatenates [z, one-hot] before the first layer
        shape = [shape[0] + n_labels]
        spec.append({"op": "one_hot", "classes": n_labels, "shape": shape})
    shape = _export_layers(_leaves(model.decoder), shape, out, spec, "decoder")
    if _size(shape) != 28 * 28 or (len(shape) == 3 and shape[2] != 1):
        raise ExportError(f"the decoder's output has shape {shape}, not one 28x28 image")
    if len(shape) == 3:
        spec.append({"op": "flatten", "shape": [_size(shape)]})
    spec.append({"op": "sigmoid", "shape": [_size(shape)]})
    return spec, out.array()


def export_classifier(net: nn.Module) -> tuple[list[dict[str, Any]], np.ndarray]:
    """(layer spec, flat float32 weights) of a digit classifier (vae_core.classifier's CNN):
    784 pixels in [0, 1] in, the 10 logits out. Batch norms are folded into the convolution
    before them (eval mode), so the browser runs convolutions, pooling and dense layers only.
    Raises ExportError for a layer the spec cannot express."""
    layers: list[nn.Module] = [nn.Unflatten(1, (1, 28, 28))]
    for m in _leaves(net):
        if type(m) is nn.BatchNorm2d:
            if not layers or type(layers[-1]) is not nn.Conv2d:
                raise ExportError("a BatchNorm2d must follow a Conv2d to be exported")
            layers[-1] = _folded(layers[-1], m)
        else:
            layers.append(m)
    out, spec = _Writer(), []
    shape = _export_layers(layers, [28 * 28], out, spec, "classifier")
    if len(shape) != 1:
        raise ExportError(f"the classifier's output has shape {shape}, not a vector of logits")
    return spec, out.array()
