"""A model's decoder as a small layer spec plus flat float32 weights, for decoding elsewhere;
the reference digit classifier in the same form, to read the decoded digit there too.

The browser's latent pad (ui/latent_pad) runs these specs with hand-written Float32Array
kernels; `decode_with_spec` / `run_spec` are the NumPy reference of the same arithmetic, so a
test can check a spec against `model.decode` (or the classifier) without a browser.

Conventions of the spec (a list of dicts, each with an "op"):

* activations flow as one flat vector per code; 3-D tensors are stored channels-last (H, W, C)
  so a convolution's innermost loop runs over contiguous channels in both the activations and
  the weights. "shape" in each layer is its output shape: [n] or [H, W, C].
* "linear": W as [out, in] (PyTorch's layout, one dot product per output), then the bias.
* "unflatten": a PyTorch (C, H, W) view of the flat vector, transposed to (H, W, C);
  "flatten" is its inverse.
* "conv2d" / "conv_transpose2d": W as [cout, k, k, cin] / [cin, k, k, cout], then the bias;
  stride, padding and output_padding as in PyTorch (square kernels, no groups or dilation).
* "relu", "leaky_relu" (slope), "elu" (alpha), "sigmoid", "tanh": element-wise.
* the decoder's output sigmoid is the spec's last layer, so the spec maps z to pixels in [0, 1].
* "max_pool2d": non-overlapping k x k max pooling (stride k, no padding; floor of H / k).
* Dropout is skipped: the spec is the decoder in eval mode. A classifier's batch norms are
  folded into the convolution before them (`export_classifier`).
* a conditional decoder (p(x|y,z)) starts with {"op": "one_hot", "classes": K, "shape":
  [Z + K]}: the class label, as a one-hot vector (or a row of class weights), is appended to
  z, and the first "linear" takes [z, one-hot] as the model's does. `spec_classes` reads K.

Offsets ("w", "b") count float32 elements into the flat weight array; "b" is -1 without bias.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from .errors import ExportError
from .model import VAE

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
    PyTorch instead). The model is only read.
    """
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


def spec_classes(spec: list[dict[str, Any]]) -> int:
    """The number of classes a conditional decoder's spec takes as one-hot input (0: none)."""
    return int(spec[0]["classes"]) if spec and spec[0]["op"] == "one_hot" else 0


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


# --- the NumPy reference ---------------------------------------------------------------------

def _param(weights: np.ndarray, offset: int, shape: tuple[int, ...]) -> np.ndarray:
    return weights[offset:offset + int(np.prod(shape))].reshape(shape).astype(np.float64)


def _conv2d(x: np.ndarray, wt: np.ndarray, s: int, p: int, shape: list[int]) -> np.ndarray:
    """x [B,H,W,C], wt [cout,k,k,cin] -> [B,hout,wout,cout]: a sum of k*k shifted matmuls."""
    hout, wout, _ = shape
    k = wt.shape[1]
    xp = np.pad(x, ((0, 0), (p, p), (p, p), (0, 0)))
    y = np.zeros((x.shape[0], hout, wout, wt.shape[0]))
    for ky in range(k):
        for kx in range(k):
            patch = xp[:, ky:ky + s * (hout - 1) + 1:s, kx:kx + s * (wout - 1) + 1:s, :]
            y += patch @ wt[:, ky, kx, :].T
    return y


def _conv_t2d(x: np.ndarray, wt: np.ndarray, s: int, p: int, shape: list[int]) -> np.ndarray:
    """x [B,H,W,cin], wt [cin,k,k,cout]: input (iy, ix) adds into output (iy*s-p+ky, ...)."""
    b, h, w, _ = x.shape
    hout, wout, cout = shape
    k = wt.shape[1]
    # A buffer wide enough for every tap before cropping the padding away.
    full = np.zeros((b, (h - 1) * s + k + hout, (w - 1) * s + k + wout, cout))
    for ky in range(k):
        for kx in range(k):
            full[:, ky:ky + s * (h - 1) + 1:s, kx:kx + s * (w - 1) + 1:s, :] += x @ wt[:, ky, kx, :]
    return full[:, p:p + hout, p:p + wout, :]


def _label_rows(y: Any, b: int, k: int) -> np.ndarray:
    """One-hot rows [b, k] for y: one class index, b indices, or rows of class weights
    (float [b, k] or one [k]), as `vae_core.one_hot_labels` takes them."""
    if y is None:
        raise ExportError(f"this decoder is conditional: give a class label y (0..{k - 1})")
    t = np.asarray(y)
    if t.dtype.kind == "f":
        rows = t.reshape(1, -1) if t.ndim == 1 else t
        if rows.ndim != 2 or rows.shape[1] != k or len(rows) not in (1, b):
            raise ExportError(f"label weights must have shape [{b}, {k}] or [{k}], "
                              f"got {list(t.shape)}")
        return np.broadcast_to(rows.astype(np.float64), (b, k))
    idx = t.reshape(-1).astype(np.int64)
    if len(idx) not in (1, b) or not ((0 <= idx) & (idx < k)).all():
        raise ExportError(f"labels must be 1 or {b} class indices in 0..{k - 1}, got {t}")
    return np.eye(k)[np.broadcast_to(idx, (b,))]


def decode_with_spec(spec: list[dict[str, Any]], weights: np.ndarray,
                     z: np.ndarray, y: Any = None) -> np.ndarray:
    """Pixels [B, 28, 28] in [0, 1] for codes z [B, Z] (or [Z]), computed in float64 from the
    spec alone: the reference the browser's kernels are written against. A conditional spec
    needs the labels y (see `_label_rows`); an unconditional one takes none."""
    if y is not None and not spec_classes(spec):
        raise ExportError("this decoder is unconditional: it takes no label y")
    x = run_spec(spec, weights, np.atleast_2d(np.asarray(z, dtype=np.float64)), y)
    return x.reshape(len(x), 28, 28)


def run_spec(spec: list[dict[str, Any]], weights: np.ndarray, x: np.ndarray,
             y: Any = None) -> np.ndarray:
    """Any exported spec (a decoder's or export_classifier's) on flat inputs x [B, n], in
    float64: outputs [B, m] (pixels, or a classifier's logits)."""
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    b = x.shape[0]
    for layer in spec:
        op, shape = layer["op"], layer["shape"]
        if op == "one_hot":
            x = np.concatenate([x, _label_rows(y, b, layer["classes"])], 1)
        elif op == "linear":
            x = x @ _param(weights, layer["w"], (layer["out"], layer["in"])).T
        elif op == "unflatten":
            h, w, c = shape
            x = x.reshape(b, c, h, w).transpose(0, 2, 3, 1)
        elif op == "flatten":
            x = x.transpose(0, 3, 1, 2).reshape(b, -1) if x.ndim == 4 else x
        elif op in ("conv2d", "conv_transpose2d"):
            k, cin, cout = layer["k"], layer["cin"], layer["cout"]
            if op == "conv2d":
                x = _conv2d(x, _param(weights, layer["w"], (cout, k, k, cin)),
                            layer["stride"], layer["padding"], shape)
            else:
                x = _conv_t2d(x, _param(weights, layer["w"], (cin, k, k, cout)),
                              layer["stride"], layer["padding"], shape)
        elif op == "max_pool2d":
            k, (h, w, c) = layer["k"], shape
            x = x[:, :h * k, :w * k].reshape(b, h, k, w, k, c).max(axis=(2, 4))
        elif op == "relu":
            x = np.maximum(x, 0.0)
        elif op == "leaky_relu":
            x = np.where(x > 0, x, layer["slope"] * x)
        elif op == "elu":
            x = np.where(x > 0, x, layer["alpha"] * np.expm1(np.minimum(x, 0.0)))
        elif op == "sigmoid":
            x = 1.0 / (1.0 + np.exp(-x))
        elif op == "tanh":
            x = np.tanh(x)
        else:
            raise ExportError(f"unknown op {op!r} in the spec")
        if op in ("linear", "conv2d", "conv_transpose2d") and layer["b"] >= 0:
            x = x + _param(weights, layer["b"], (layer.get("out") or layer["cout"],))
    return x.reshape(b, -1)
