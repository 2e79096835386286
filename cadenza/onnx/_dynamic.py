"""Dynamic axes for ONNX export: which traced sizes follow which input axis.

A trace has static shapes. To tell which sizes depend on a dynamic axis, the export traces the
function again once per axis symbol with that symbol's size changed (inputs resized along the
axis by wrapping their values, so token ids stay valid) and compares the two graphs node by
node. Every size is then a product ``coef * sym1 * sym2 ...`` (``B*T`` rows before a Linear) or
irregular; products are rebuilt at run time from ``Shape`` of the inputs, which is what
Reshape/Expand targets, causal masks and ``arange`` constants need. Anything else that
changed with the size (an attribute such as a clamp bound, a scalar operand, a constant other
than ``arange``, a slice bound) cannot be expressed and is reported as an unsupported node.
"""
from __future__ import annotations

import math

import numpy as np

from .._creation import from_numpy
from ._base import Unsupported, same as _same

def _normalize(dynamic_axes, in_names, out_names, ndims):
    """{name: {axis: symbol}} from torch.onnx.export's forms (dict or list of axes)."""
    out = {}
    for name, axes in dynamic_axes.items():
        if name not in in_names and name not in out_names:
            raise ValueError(f"cadenza.onnx.export: dynamic_axes names {name!r}, expected one "
                             f"of the input/output names {in_names + out_names}")
        if isinstance(axes, dict):
            items = list(axes.items())
        else:
            items = [(a, f"{name}_dim{a}") for a in axes]
        nd = ndims[name]
        d = {}
        for a, sym in items:
            if not isinstance(a, int) or not -nd <= a < nd:
                raise ValueError(f"cadenza.onnx.export: dynamic_axes[{name!r}]: expected axes "
                                 f"in [-{nd}, {nd}), got {a!r}")
            d[a % nd] = str(sym)
        out[name] = d
    return out


class Dims:
    """Per traced value, each size as (coef, symbols) or None (irregular)."""

    def __init__(self):
        self.base: dict = {}      # symbol -> size in the example
        self.src: dict = {}       # symbol -> (input Value, axis): where to read it at run time
        self.mono: dict = {}      # value id -> [(coef, (sym, ...)) or None per dim]
        self.alt_nodes: dict = {}  # value id -> [(symbol, alt size, node of the other trace)]
        self.out_axes: dict = {}  # output name -> {axis: symbol}
        self.in_axes: dict = {}
        self._cache: dict = {}

    # ------------------------------------------------------------------ building
    @classmethod
    def build(cls, retrace, args, arg_pos, res, in_names, out_names, dynamic_axes):
        self = cls()
        arg_vals = {L.src[1]: L.value for L in res.lifted if L.src[0] == "arg"}
        outs = [v for v, lab in zip(res.graph.outputs, res.graph.output_labels)
                if lab.startswith("out")]
        ndims = {n: args[p].ndim for n, p in zip(in_names, arg_pos)}
        ndims.update({n: len(v.shape) for n, v in zip(out_names, outs)})
        axes = _normalize(dynamic_axes, in_names, out_names, ndims)
        for name, d in axes.items():
            if name not in in_names:
                continue
            p = arg_pos[in_names.index(name)]
            for a, sym in d.items():
                n = args[p].shape[a]
                if self.base.setdefault(sym, n) != n:
                    raise ValueError(f"cadenza.onnx.export: dynamic axis {sym!r} has size "
                                     f"{self.base[sym]} and {n} in the example inputs")
                self.src.setdefault(sym, (arg_vals[p], a))
        self.in_axes = {n: d for n, d in axes.items() if n in in_names}
        self.out_axes = {n: d for n, d in axes.items() if n in out_names}
        for name, d in self.out_axes.items():
            for sym in d.values():
                if sym not in self.base:
                    raise ValueError(f"cadenza.onnx.export: output axis symbol {sym!r} of "
                                     f"{name!r} is not a dynamic axis of any input")
        nodes0 = res.graph.nodes
        for sym, n in self.base.items():
            alt = n - 1 if n > 2 else n + 1   # stays >= 2: models may branch on a size of 1
            new = list(args)
            for name, d in self.in_axes.items():
                p = arg_pos[in_names.index(name)]
                for a, s in d.items():
                    if s == sym:   # wrap the values along the axis: ids stay in range
                        arr = np.take(new[p].numpy(), np.arange(alt) % n, axis=a)
                        new[p] = from_numpy(np.ascontiguousarray(arr))
            try:
                res1 = retrace(tuple(new))
            except Exception as e:
                raise ValueError(f"cadenza.onnx.export: tracing again with dynamic axis "
                                 f"{sym!r} = {alt} (example: {n}) failed: {e}") from e
            nodes1 = res1.graph.nodes
            for k, (a0, a1) in enumerate(zip(nodes0, nodes1)):
                if a0.op_name != a1.op_name or len(a0.out.shape) != len(a1.out.shape):
                    break
            else:
                k = None if len(nodes0) == len(nodes1) else min(len(nodes0), len(nodes1))
            if k is not None:
                where = nodes0[k].src if k < len(nodes0) else "the end"
                raise ValueError(f"cadenza.onnx.export: the traced graph changes when dynamic "
                                 f"axis {sym!r} changes from {n} to {alt} (first at {where}): "
                                 "the code branches on that size; export with static shapes")
            for a0, a1 in zip(nodes0, nodes1):
                self.alt_nodes.setdefault(a0.out.id, []).append((sym, alt, a1))
        for nd in nodes0:
            self.mono[nd.out.id] = [self._fit(nd.out.id, d, s)
                                    for d, s in enumerate(nd.out.shape)]
        return self

    def _fit(self, vid, d, d0):
        """Size d0 of dim d as coef * product of the symbols it scales with, or None."""
        syms = []
        for sym, alt, n1 in self.alt_nodes.get(vid, ()):
            d1 = n1.out.shape[d]
            if d1 == d0:
                continue
            if d1 * self.base[sym] != d0 * alt:
                return None
            syms.append(sym)
        div = math.prod(self.base[s] for s in syms)
        return (d0 // div, tuple(syms)) if d0 % div == 0 else None

    # ------------------------------------------------------------------ queries
    def is_static(self, v, d) -> bool:
        m = self.mono.get(v.id)
        return m is None or (m[d] is not None and not m[d][1])

    def check_static(self, v, what):
        if not all(self.is_static(v, d) for d in range(len(v.shape))):
            raise ValueError(f"cadenza.onnx.export: {what} has a size that follows a dynamic "
                             "axis; export with static shapes")

    def check_static_dim(self, v, d, what):
        if not self.is_static(v, d):
            raise Unsupported(f"{what} along a dynamic axis")

    def labels(self, v, name):
        """value_info dims of input or output ``name``: ints, or symbol names for sizes that
        follow dynamic axes (the user's name where dynamic_axes gives one)."""
        user = self.in_axes.get(name) or self.out_axes.get(name) or {}
        out = []
        for d, size in enumerate(v.shape):
            m = self.mono[v.id][d] if v.id in self.mono else (size, ())
            if d in user:
                if m is not None and not m[1]:
                    raise ValueError(f"cadenza.onnx.export: dynamic_axes marks axis {d} of "
                                     f"{name!r}, but its size {size} is static in the graph")
                out.append(user[d])
            elif m is None:
                out.append(None)
            elif not m[1]:
                out.append(int(size))
            else:
                out.append("*".join(([str(m[0])] if m[0] != 1 else []) + list(m[1])))
        return out

    def check_attrs(self, node):
        """Attributes or scalar operands that changed with a size (not re-derivable)."""
        for sym, alt, n1 in self.alt_nodes.get(node.out.id, ()):
            for key, a in node.attrs.items():
                if node.op == "const" or key in node.op.onnx_shape_attrs:
                    continue
                if not _same(a, n1.attrs.get(key)):
                    raise Unsupported(f"attribute {key} follows dynamic axis {sym!r}")
            for a, b in zip(node.inputs, n1.inputs):
                if not hasattr(a, "shape") and not _same(a, b):
                    raise Unsupported(f"scalar operand {a!r} follows dynamic axis {sym!r}")

    def alt_index(self, node):
        """getitem's (index, indexed shape) in each other trace."""
        return [(n1.attrs["index"], n1.inputs[0].shape)
                for _, _, n1 in self.alt_nodes.get(node.out.id, ())]

    # ------------------------------------------------------------------ run-time sizes
    def _size(self, ctx, m):
        """A (1,) int64 tensor holding coef * product of symbols."""
        key = m
        if key not in self._cache:
            cur = None
            for sym in m[1]:
                v, a = self.src[sym]
                s = ctx.node("Gather", [ctx.node("Shape", [ctx.name(v)]), ctx.i64([a])])
                cur = s if cur is None else ctx.node("Mul", [cur, s])
            if m[0] != 1:
                cur = ctx.node("Mul", [cur, ctx.i64([m[0]])])
            self._cache[key] = cur
        return self._cache[key]

    def shape_input(self, ctx, v, shape=None):
        ms = self.mono.get(v.id)
        if ms is None or all(m is not None and not m[1] for m in ms):
            return ctx.i64(v.shape if shape is None else shape)
        pieces, static = [], []
        for size, m in zip(v.shape, ms):
            if m is None:
                raise Unsupported(f"size {size} is not a product of dynamic axes")
            if not m[1]:
                static.append(size)
                continue
            if static:
                pieces.append(ctx.i64(static))
                static = []
            pieces.append(self._size(ctx, m))
        if static:
            pieces.append(ctx.i64(static))
        return pieces[0] if len(pieces) == 1 else ctx.node("Concat", pieces, axis=0)

    def _scalar(self, ctx, v, d):
        m = self.mono[v.id][d]
        if m is None:
            raise Unsupported(f"size {v.shape[d]} is not a product of dynamic axes")
        if not m[1]:
            return ctx.const(np.asarray(v.shape[d], np.int64))
        return ctx.node("Squeeze", [self._size(ctx, m), ctx.i64([0])])

    def causal_mask(self, ctx, v, dt):
        """(L, S) additive mask 0 / -inf, key j <= query i, for scores v (..., L, S)."""
        nd = len(v.shape)
        if self.is_static(v, nd - 2) and self.is_static(v, nd - 1):
            L, S = v.shape[-2:]
            return ctx.const(np.where(np.tril(np.ones((L, S), bool)), 0.0, -np.inf).astype(dt),
                             "causal")
        zero, one = ctx.const(np.asarray(0, np.int64)), ctx.const(np.asarray(1, np.int64))
        rows = ctx.node("Range", [zero, self._scalar(ctx, v, nd - 2), one])
        cols = ctx.node("Range", [zero, self._scalar(ctx, v, nd - 1), one])
        keep = ctx.node("LessOrEqual", [ctx.node("Unsqueeze", [cols, ctx.i64([0])]),
                                        ctx.node("Unsqueeze", [rows, ctx.i64([1])])])
        return ctx.node("Where", [keep, ctx.const(np.asarray(0.0, dt)),
                                  ctx.const(np.asarray(-np.inf, dt))])

    def lower_const(self, ctx, node, out) -> bool:
        """A constant that changes with a size: ``arange(n)`` becomes Range; others fail."""
        a0 = node.attrs["value"]
        alts = [n1.attrs["value"] for _, _, n1 in self.alt_nodes.get(node.out.id, ())]
        if all(_same(a0, a1) for a1 in alts):
            return False

        def is_arange(a):
            return a.ndim == 1 and np.array_equal(a, np.arange(a.shape[0], dtype=a.dtype))
        if not (is_arange(a0) and all(is_arange(a1) for a1 in alts)):
            raise Unsupported("a constant that follows a dynamic axis (only arange(n) is "
                              "rebuilt at run time)")
        limit = self._scalar(ctx, node.out, 0)
        dt = a0.dtype
        if dt != np.int64:
            limit = ctx.node("Cast", [limit], to=ctx.helper.np_dtype_to_tensor_dtype(dt))
        ctx.node("Range", [ctx.const(np.asarray(0, dt)), limit, ctx.const(np.asarray(1, dt))],
                 out)
        return True
