"""The nodes on an ONNX decoder's data path (z to the image) as the latent pad's spec layers
(vae_core/export.py's conventions), for vae_core/onnx_spec.py.

Every tensor's value at a batch of 2 is known beforehand (onnxruntime ran the graph), so a
Reshape needs no shape arithmetic: the shapes before and after say what changed. Layers keep
their weights as float64 arrays ("W" in the spec's layout, "B" per output channel) until
onnx_spec lays them out, so a later Add or BatchNormalization can fold into them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import ExportError

ELEMENTWISE = {"Relu": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh", "Softplus": "softplus"}
LAYOUT = {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout"}
SHAPE_ONLY = {"Shape", "Size"}  # their outputs depend on a tensor's shape, not its values
_WEIGHTED = {"linear", "conv2d", "conv_transpose2d"}


def attr(node: Any, name: str, default: Any) -> Any:
    """A node attribute's value (bytes decoded), or `default` when the node does not set it."""
    for a in node.attribute:
        if a.name == name:
            # the AttributeProto fields by type: f, i, s, floats, ints (no onnx import needed)
            value = {1: a.f, 2: a.i, 3: a.s, 6: list(a.floats), 7: list(a.ints)}.get(a.type, a)
            return value.decode() if isinstance(value, bytes) else value
    return default


def node_name(node: Any) -> str:
    return f"{node.op_type} node {node.name or node.output[0]!r}"


class Translator:
    """Walks the data path of `graph` (an onnx GraphProto) given every tensor's `values`."""

    def __init__(self, graph: Any, inputs: list[str], values: dict[str, np.ndarray],
                 n_classes: int) -> None:
        self.graph, self.values, self.n_classes = graph, values, n_classes
        self.z, self.y = inputs[0], (inputs[1] if n_classes else None)
        self.spec: list[dict[str, Any]] = []
        self.current = self.z
        self.softplus_input = ""  # the input of the last Softplus (see `torch_threshold`)

    def shape(self, name: str, loose: bool = False) -> list[int]:
        """A data tensor's shape without the batch axis: [n] or (C, H, W), nothing else. Between
        reshapes (`loose`) any shape will do: the pad holds those values as a flat vector."""
        s = list(self.values[name].shape)
        if not s or s[0] != 2 or len(s) not in (2, 4) and not (loose and len(s) > 1):
            raise ExportError(f"tensor {name!r} has shape {s} at batch 2: the browser holds "
                              "[N, n] or [N, C, H, W] activations only")
        return s[1:]

    def data_nodes(self) -> list[Any]:
        """The nodes that compute the output from z (and y), in graph (topological) order."""
        data = {self.z} | ({self.y} if self.y else set())
        on_path = []
        for node in self.graph.node:
            if node.op_type not in SHAPE_ONLY and any(i in data for i in node.input):
                data.update(o for o in node.output if o)
                on_path.append(node)
        needed = {self.graph.output[0].name}
        for node in reversed(on_path):
            if any(o in needed for o in node.output):
                needed.update(node.input)
        self.data = data
        return [n for n in on_path if any(o in needed for o in n.output)]

    def torch_threshold(self, node: Any, after: Any) -> bool:
        """torch's softplus as the dynamo exporter writes it: Where(Greater(x, 20), x,
        Softplus(x)). Above the threshold softplus(x) is x to float precision: skip the pair."""
        if node.op_type != "Greater" or after is None or after.op_type != "Where" or \
                not self.spec or self.spec[-1]["op"] != "softplus":
            return False
        x, t = self.softplus_input, node.input[1]
        return node.input[0] == x and t in self.values and self.values[t].size == 1 and \
            float(self.values[t]) >= 15 and list(after.input) == [node.output[0], x, self.current]

    def layers(self) -> list[dict[str, Any]]:
        """The spec layers of the data path, weights still as arrays."""
        nodes, skip = self.data_nodes(), 0
        for i, node in enumerate(nodes):
            if skip:
                skip -= 1
                self.current = node.output[0]
                continue
            data_in = [name for name in node.input if name in self.data]
            if self.torch_threshold(node, nodes[i + 1] if i + 1 < len(nodes) else None):
                skip = 1  # the Where after it: self.current stays the Softplus output
                continue
            if node.op_type == "Concat" and not self.spec and self.y and \
                    list(node.input) == [self.current, self.y] and attr(node, "axis", 1) in (1, -1):
                self.spec.append({"op": "one_hot", "classes": self.n_classes,
                                  "shape": [self.shape(self.current)[0] + self.n_classes]})
            elif data_in != [self.current] or (node.input[0] != self.current
                                               and node.op_type != "Add"):
                raise ExportError("the decoder graph is not a chain of layers the browser can "
                                  f"run ({node_name(node)})")
            else:
                self.translate(node)
            self.current = node.output[0]
        if self.current != self.graph.output[0].name:
            raise ExportError("the decoder's output is not computed from z")
        if self.y and (not self.spec or self.spec[0]["op"] != "one_hot"):
            raise ExportError("the conditional decoder does not start by appending y to z "
                              "(a Concat of [z, y]): the browser cannot run it")
        return self.spec

    def const(self, name: str, node: Any) -> np.ndarray:
        if name not in self.values:
            raise ExportError(f"{node_name(node)}: input {name!r} has no value")
        return self.values[name].astype(np.float64)

    def translate(self, node: Any) -> None:
        op = node.op_type
        if op in LAYOUT or op == "Cast" and attr(node, "to", 0) == 1:  # 1: float32, a no-op
            self.relayout(self.shape(self.current, True), self.shape(node.output[0], True))
            return
        x, out = self.shape(self.current), self.shape(node.output[0])
        spec_shape = x if len(x) == 1 else [x[1], x[2], x[0]]
        if op in ELEMENTWISE:
            self.spec.append({"op": ELEMENTWISE[op], "shape": spec_shape})
            self.softplus_input = self.current
        elif op == "Gelu" and attr(node, "approximate", "none") == "none":
            self.spec.append({"op": "gelu", "shape": spec_shape})
        elif op == "Resize":
            self.spec.append(self.upsample(node, x, out))
        elif op == "LeakyRelu":
            self.spec.append({"op": "leaky_relu", "slope": float(attr(node, "alpha", 0.01)),
                              "shape": spec_shape})
        elif op == "Elu":
            self.spec.append({"op": "elu", "alpha": float(attr(node, "alpha", 1.0)),
                              "shape": spec_shape})
        elif op in ("Gemm", "MatMul"):
            self.linear(node, x, out)
        elif op == "Add":
            last = self.last_weighted(node)
            other = node.input[1] if node.input[0] == self.current else node.input[0]
            bias = self.per_output(self.const(other, node), out, node)
            if x != out:
                raise ExportError(f"{node_name(node)} changes the shape {x} to {out}")
            last["B"] = bias if last["B"] is None else last["B"] + bias
        elif op in ("Conv", "ConvTranspose"):
            self.spec.append(self.conv(node, x, out))
        elif op == "BatchNormalization":
            self.fold_batch_norm(node, out)
        else:
            raise ExportError(f"the browser's latent pad has no {op} layer ({node_name(node)})")

    def relayout(self, x: list[int], out: list[int]) -> None:
        """Reshape-like ops: only how the pad stores the values can change, never the values.
        A (C, H, W) tensor is stored channels-last; any other shape as it is, flat."""
        if x == out:
            return
        if len(x) == 3 and self.spec and self.spec[-1]["op"] == "unflatten":
            self.spec.pop()  # unflatten then flatten: the values never moved
        elif len(x) == 3:
            self.spec.append({"op": "flatten", "shape": [int(np.prod(x))]})
        if len(out) == 3:
            self.spec.append({"op": "unflatten", "shape": [out[1], out[2], out[0]]})

    def linear(self, node: Any, x: list[int], out: list[int]) -> None:
        """Gemm (alpha * A @ B' + beta * C) or MatMul (A @ B) of a flat A and constant B."""
        if len(x) != 1 or attr(node, "transA", 0):
            raise ExportError(f"{node_name(node)} of a {x} input (or transA=1): the browser "
                              "multiplies flat vectors only")
        b = self.const(node.input[1], node)
        if b.ndim != 2:
            raise ExportError(f"{node_name(node)} by a {list(b.shape)} tensor: only a matrix")
        w = b if attr(node, "transB", 0) else b.T  # the spec's [out, in]
        bias = None
        if node.op_type == "Gemm":
            w = w * float(attr(node, "alpha", 1.0))
            if len(node.input) > 2 and node.input[2]:
                c = self.const(node.input[2], node)
                bias = float(attr(node, "beta", 1.0)) * self.per_output(c, out, node)
        if w.shape != (out[0], x[0]):
            raise ExportError(f"{node_name(node)}: a {list(w.shape)} weight cannot map "
                              f"{x[0]} to {out[0]} values")
        self.spec.append({"op": "linear", "in": x[0], "out": out[0], "W": w, "B": bias,
                          "shape": [out[0]]})

    def conv(self, node: Any, x: list[int], out: list[int]) -> dict[str, Any]:
        """Conv (W [cout, cin, k, k]) or ConvTranspose (W [cin, cout, k, k]) as the spec's
        channels-last layer; the output shape onnxruntime computed must be the pad's."""
        w = self.const(node.input[1], node)
        k, s = attr(node, "kernel_shape", list(w.shape[2:])), attr(node, "strides", [1, 1])
        p, op_pad = attr(node, "pads", [0, 0, 0, 0]), attr(node, "output_padding", [0, 0])
        if len(x) != 3 or w.ndim != 4 or attr(node, "group", 1) != 1 or \
                set(attr(node, "dilations", [1, 1])) != {1} or len(set(k)) != 1 or \
                len(set(s)) != 1 or len(set(p)) != 1 or len(set(op_pad)) != 1 or \
                attr(node, "auto_pad", "NOTSET") not in ("NOTSET", "VALID") or \
                attr(node, "output_shape", None) is not None:
            raise ExportError(f"{node_name(node)} (kernel {k}, strides {s}, pads {p}): the "
                              "browser has square kernels, one stride, symmetric padding, no "
                              "groups, dilation or output_shape")
        k, s, p, (h, wd) = k[0], s[0], p[0], x[1:]
        if node.op_type == "Conv":
            cin, cout = w.shape[1], w.shape[0]
            want = [cout, (h + 2 * p - k) // s + 1, (wd + 2 * p - k) // s + 1]
            layer: dict[str, Any] = {"op": "conv2d"}
        else:
            cin, cout = w.shape[0], w.shape[1]
            want = [cout, *((n - 1) * s - 2 * p + k + op_pad[0] for n in (h, wd))]
            layer = {"op": "conv_transpose2d", "output_padding": op_pad[0]}
        if cin != x[0] or want != out:
            raise ExportError(f"{node_name(node)} gives {out} from {x}, not {want}")
        bias = self.const(node.input[2], node) if len(node.input) > 2 and node.input[2] else None
        # Both ONNX layouts keep the kernel in the last two axes: move it before the channels.
        layer.update(k=k, stride=s, padding=p, cin=cin, cout=cout, W=w.transpose(0, 2, 3, 1),
                     B=bias, shape=[out[1], out[2], cout])
        return layer

    def upsample(self, node: Any, x: list[int], out: list[int]) -> dict[str, Any]:
        """Resize by nearest neighbour with one integer scale for H and W: every value
        repeated k x k times (onnx_spec's final check holds any coordinate mode to it)."""
        k = out[1] // x[1] if len(x) == 3 and x[1] else 0
        if len(x) != 3 or attr(node, "mode", "nearest") != "nearest" or k < 1 or \
                out != [x[0], x[1] * k, x[2] * k]:
            raise ExportError(f"{node_name(node)} ({attr(node, 'mode', 'nearest')}, {x} to "
                              f"{out}): the browser upsamples only by nearest neighbour, by one "
                              "integer factor")
        return {"op": "upsample", "k": k, "shape": [out[1], out[2], out[0]]}

    def per_output(self, c: np.ndarray, out: list[int], node: Any) -> np.ndarray:
        """A constant added to a layer's output as one value per output channel; ExportError
        when it varies along anything else (the pad's biases are per channel)."""
        try:
            rows = np.broadcast_to(c, (1, *out))[0].reshape(out[0], -1)
        except ValueError:
            rows = None
        if rows is None or c.ndim > len(out) + 1 or np.ptp(rows, axis=1).any():
            raise ExportError(f"{node_name(node)}: a constant of shape {list(c.shape)} added "
                              f"to a {out} tensor is not a bias")
        return rows[:, 0].copy()

    def last_weighted(self, node: Any) -> dict[str, Any]:
        last = self.spec[-1] if self.spec else None
        if last is None or last["op"] not in _WEIGHTED:
            raise ExportError(f"{node_name(node)} after {last['op'] if last else 'the input'}:"
                              " the browser folds it only into a linear or convolution layer")
        return last

    def fold_batch_norm(self, node: Any, out: list[int]) -> None:
        """Eval-mode batch norm (running statistics) folded into the layer before it."""
        last = self.last_weighted(node)
        gamma, beta, mean, var = (self.const(n, node) for n in node.input[1:5])
        scale = gamma / np.sqrt(var + float(attr(node, "epsilon", 1e-5)))
        w = last["W"]  # output channels: axis 0, or the last axis of a transposed conv's
        last["W"] = w * scale if last["op"] == "conv_transpose2d" else \
            w * scale.reshape(-1, *[1] * (w.ndim - 1))
        bias = last["B"] if last["B"] is not None else np.zeros(out[0])
        last["B"] = (bias - mean) * scale + beta
