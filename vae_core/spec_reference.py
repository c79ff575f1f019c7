"""The NumPy reference of the latent pad's layer spec (the conventions are vae_core/export.py's):
`run_spec` / `decode_with_spec` compute, in float64, what the browser's Float32Array kernels
(ui/frontend/latent_pad/decoder.js) are written against, so a test can check a spec against
`model.decode`, the classifier or onnxruntime without a browser."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .errors import ExportError

_ERF = np.vectorize(math.erf, otypes=[np.float64])  # NumPy has no erf of its own


def spec_classes(spec: list[dict[str, Any]]) -> int:
    """The number of classes a conditional decoder's spec takes as one-hot input (0: none)."""
    return int(spec[0]["classes"]) if spec and spec[0]["op"] == "one_hot" else 0


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
        elif op == "upsample":
            x = x.repeat(layer["k"], axis=1).repeat(layer["k"], axis=2)
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
        elif op == "softplus":
            x = np.logaddexp(0.0, x)
        elif op == "gelu":
            x = 0.5 * x * (1.0 + _ERF(x / math.sqrt(2.0)))
        else:
            raise ExportError(f"unknown op {op!r} in the spec")
        if op in ("linear", "conv2d", "conv_transpose2d") and layer["b"] >= 0:
            x = x + _param(weights, layer["b"], (layer.get("out") or layer["cout"],))
    return x.reshape(b, -1)
