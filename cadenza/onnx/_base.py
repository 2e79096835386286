"""Shared pieces of ONNX lowering: the graph under construction (``Ctx``), the error a
handler raises for a node it cannot lower, and attribute comparison across traces."""
from __future__ import annotations

import numpy as np

from ..graph.ir import Value


class Unsupported(Exception):
    pass


BIG = 2 ** 63 - 1   # an ONNX Slice end meaning "to the end of the dim"


def same(a, b) -> bool:
    """Structural equality of attributes (arrays by value), for comparing two traces."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)
                and a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b))
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return type(a) is type(b) and len(a) == len(b) and all(map(same, a, b))
    if type(a) is not type(b):
        return False
    try:
        return bool(a == b)
    except Exception:  # objects without a usable ==: compare identity
        return a is b


class Ctx:
    """The ONNX graph under construction: nodes, initializers, Value id -> ONNX name."""

    def __init__(self, helper, numpy_helper, opset):
        self.helper, self.nh, self.opset = helper, numpy_helper, opset
        self.nodes, self.inits, self.names = [], [], {}
        self.dims = None      # dynamic-axes export: a _dynamic.Dims, else static shapes
        self._n = 0

    def fresh(self, base="t"):
        self._n += 1
        return f"{base}_{self._n}"

    def name(self, v):
        return self.names[v.id]

    def const(self, arr, base="c"):
        arr = np.asarray(arr)
        n = self.fresh(base)
        self.inits.append(self.nh.from_array(arr, n))
        return n

    def i64(self, xs):
        return self.const(np.asarray(xs, dtype=np.int64), "shape")

    def node(self, op, inputs, out=None, **attrs):
        out = out or self.fresh(op.lower())
        self.nodes.append(self.helper.make_node(op, list(inputs), [out], **attrs))
        return out

    def node_n(self, op, inputs, n_out, **attrs):
        """A node with several outputs (TopK): their names."""
        outs = [self.fresh(op.lower()) for _ in range(n_out)]
        self.nodes.append(self.helper.make_node(op, list(inputs), outs, **attrs))
        return outs

    def operand(self, x, dtype):
        """A node input: a Value's name, or a Python/NumPy scalar as a constant of ``dtype``."""
        if isinstance(x, Value):
            return self.name(x)
        if isinstance(x, (int, float, bool, np.generic, np.ndarray)):
            return self.const(np.asarray(x, dtype=dtype))
        raise Unsupported(f"operand {type(x).__name__}")

    def shape_of(self, v: Value, shape=None):
        """An int64 shape input for ``v``'s (or ``shape``'s) sizes: a constant, or computed at
        run time where a size follows a dynamic axis."""
        if self.dims is not None:
            return self.dims.shape_input(self, v, shape)
        return self.i64(v.shape if shape is None else shape)

    def reduce(self, op, x, axes, keepdims):
        """ReduceX over ``axes``: axes became an input in opset 13 (ReduceSum) / 18 (others)."""
        if op == "ReduceSum" and self.opset >= 13 or self.opset >= 18:
            return self.node(op, [x, self.i64(sorted(axes))], keepdims=int(keepdims))
        return self.node(op, [x], axes=sorted(axes), keepdims=int(keepdims))
