"""Lowering of captured graph nodes to ONNX nodes: one handler per primitive.

A handler ``h(ctx, node, out)`` appends ONNX nodes computing ``node.out`` under the name
``out``, or raises ``Unsupported`` (the export then lists the op with its source line). Sizes
come from the traced (static) shapes; ``ctx.dims`` (set by dynamic-axes export) turns the
ones that follow a dynamic axis into run-time values, see ``_dynamic.py``.
"""
from __future__ import annotations

import math

import numpy as np

from ..graph.ir import Value
from ._base import Unsupported
from ._index import getitem


def _vals(node):
    return [x for x in node.inputs if isinstance(x, Value)]


def _first_dtype(node):
    vs = _vals(node)
    return vs[0].dtype if vs else node.out.dtype


SIMPLE = {  # cadenza name -> ONNX op, for ops whose inputs map one to one with no attributes
    "add": "Add", "sub": "Sub", "mul": "Mul", "div": "Div", "pow": "Pow",
    "maximum": "Max", "minimum": "Min", "where": "Where", "matmul": "MatMul",
    "neg": "Neg", "exp": "Exp", "log": "Log", "sqrt": "Sqrt", "relu": "Relu",
    "tanh": "Tanh", "sigmoid": "Sigmoid", "abs": "Abs", "sin": "Sin", "cos": "Cos",
    "tan": "Tan", "asin": "Asin", "acos": "Acos", "atan": "Atan", "sinh": "Sinh",
    "cosh": "Cosh", "round": "Round",
    "erf": "Erf", "floor": "Floor", "ceil": "Ceil", "sign": "Sign", "reciprocal": "Reciprocal",
    "clone": "Identity", "contiguous": "Identity",
    "eq": "Equal", "lt": "Less", "gt": "Greater", "le": "LessOrEqual", "ge": "GreaterOrEqual",
    "logical_not": "Not", "logical_and": "And", "logical_or": "Or", "logical_xor": "Xor",
    "isinf": "IsInf", "isnan": "IsNaN",
}
_COMPARE = ("Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual")


def _inputs_of(ctx, node, op):
    """Operand names; a scalar takes the dtype the op computes in (comparisons: the tensor's,
    Where: its value operand's, with a bool condition)."""
    if op == "Where":
        dt = _vals(node)[-1].dtype
    elif op in _COMPARE:
        dt = _first_dtype(node)
    else:
        dt = node.out.dtype
    return [ctx.operand(x, np.bool_ if (op == "Where" and i == 0) else dt)
            for i, x in enumerate(node.inputs)]


def _simple(ctx, node, out):
    if node.attrs:
        raise Unsupported("attributes")
    op = SIMPLE[node.op_name]
    ctx.node(op, _inputs_of(ctx, node, op), out)


def _ne(ctx, node, out):
    ctx.node("Not", [ctx.node("Equal", _inputs_of(ctx, node, "Equal"))], out)


def _rsqrt(ctx, node, out):
    ctx.node("Reciprocal", [ctx.node("Sqrt", [ctx.name(node.inputs[0])])], out)


def _isfinite(ctx, node, out):
    x = ctx.name(node.inputs[0])
    ctx.node("Not", [ctx.node("Or", [ctx.node("IsInf", [x]), ctx.node("IsNaN", [x])])], out)


def _linear(ctx, node, out):
    x, w = node.inputs[0], node.inputs[1]
    b = node.inputs[2] if len(node.inputs) > 2 else None
    if b is not None and not hasattr(b, "shape"):
        b = None
    if len(x.shape) == 2 and len(w.shape) == 2:
        ins = [ctx.name(x), ctx.name(w)] + ([ctx.name(b)] if b is not None else [])
        ctx.node("Gemm", ins, out, transB=1)
        return
    wt = ctx.node("Transpose", [ctx.name(w)], perm=list(range(len(w.shape)))[::-1])
    if b is None:
        ctx.node("MatMul", [ctx.name(x), wt], out)
    else:
        mm = ctx.node("MatMul", [ctx.name(x), wt])
        ctx.node("Add", [mm, ctx.name(b)], out)


def _gelu(ctx, node, out, tanh=False):
    if node.attrs:
        raise Unsupported("attributes")
    x = ctx.name(node.inputs[0])
    dt = node.out.dtype
    if ctx.opset >= 20:
        ctx.node("Gelu", [x], out, approximate="tanh" if tanh else "none")
        return
    half = ctx.const(np.asarray(0.5, dt))
    one = ctx.const(np.asarray(1.0, dt))
    if tanh:  # 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        x3 = ctx.node("Mul", [ctx.node("Mul", [x, x]), x])
        inner = ctx.node("Add", [x, ctx.node("Mul", [x3, ctx.const(np.asarray(0.044715, dt))])])
        t = ctx.node("Tanh", [ctx.node("Mul", [inner, ctx.const(
            np.asarray(math.sqrt(2 / math.pi), dt))])])
    else:     # 0.5 x (1 + erf(x / sqrt(2)))
        t = ctx.node("Erf", [ctx.node("Div", [x, ctx.const(np.asarray(math.sqrt(2.0), dt))])])
    ctx.node("Mul", [ctx.node("Mul", [x, half]), ctx.node("Add", [t, one])], out)


def _norm(ctx, node, out):
    """layer_norm / rms_norm over the trailing k dims. LayerNorm maps to opset 17's
    LayerNormalization; RMSNorm (an ONNX op only from opset 23, which onnxruntime releases of
    2024 lack) is decomposed: x / sqrt(mean(x^2) + eps) * w."""
    x = node.inputs[0]
    w = node.inputs[1] if len(node.inputs) > 1 and isinstance(node.inputs[1], Value) else None
    b = node.inputs[2] if len(node.inputs) > 2 and isinstance(node.inputs[2], Value) else None
    k, eps = int(node.attrs.get("k", 1)), float(node.attrs.get("eps", 1e-5))
    nd, dt = len(x.shape), node.out.dtype
    if x.dtype != dt:
        raise Unsupported("mixed dtypes")
    axes = list(range(nd - k, nd))
    xn = ctx.name(x)
    if node.op_name == "layer_norm" and ctx.opset >= 17:
        scale = ctx.name(w) if w is not None else ctx.const(np.ones(x.shape[nd - k:], dt))
        ins = [xn, scale] + ([ctx.name(b)] if b is not None else [])
        ctx.node("LayerNormalization", ins, out, axis=nd - k, epsilon=eps)
        return
    if node.op_name == "layer_norm":
        xn = ctx.node("Sub", [xn, ctx.reduce("ReduceMean", xn, axes, True)])
    ms = ctx.reduce("ReduceMean", ctx.node("Mul", [xn, xn]), axes, True)
    r = ctx.node("Sqrt", [ctx.node("Add", [ms, ctx.const(np.asarray(eps, dt))])])
    y = ctx.node("Div", [xn, r])
    if w is not None:
        y = ctx.node("Mul", [y, ctx.name(w)])
    if b is not None:
        y = ctx.node("Add", [y, ctx.name(b)])
    ctx.node("Identity", [y], out)


def _reshape(ctx, node, out):
    ctx.node("Reshape", [ctx.name(node.inputs[0]), ctx.shape_of(node.out)], out)


def _expand(ctx, node, out):
    ctx.node("Expand", [ctx.name(node.inputs[0]), ctx.shape_of(node.out)], out)


def _permute(ctx, node, out):
    nd = len(node.inputs[0].shape)
    ctx.node("Transpose", [ctx.name(node.inputs[0])], out,
             perm=[int(d) % nd for d in node.attrs["dims"]])


def _cat(ctx, node, out):
    nd = len(node.out.shape)
    ctx.node("Concat", [ctx.name(v) for v in node.inputs], out,
             axis=int(node.attrs.get("dim", 0)) % nd)


# ---------------------------------------------------------------------------- reductions
REDUCE = {"sum": "ReduceSum", "amax": "ReduceMax", "amin": "ReduceMin", "prod": "ReduceProd",
          "sum_to": "ReduceSum"}


def _reduce(ctx, node, out):
    x = node.inputs[0]
    nd = len(x.shape)
    op = REDUCE[node.op_name]
    if node.op_name == "sum_to":  # reduce to a broadcast-compatible shape
        target = tuple(node.attrs["shape"])
        lead = nd - len(target)
        dims = list(range(lead)) + [lead + i for i, s in enumerate(target)
                                    if s == 1 and x.shape[lead + i] != 1]
        keep, reshape_to = True, target
    else:
        dims = node.attrs.get("dims")
        dims = list(range(nd)) if dims is None else [int(d) % nd for d in
                                                     (dims if isinstance(dims, (tuple, list))
                                                      else (dims,))]
        keep, reshape_to = bool(node.attrs.get("keepdim", False)), None
    src = ctx.name(x)
    if x.dtype != node.out.dtype:
        src = ctx.node("Cast", [src], to=ctx.helper.np_dtype_to_tensor_dtype(node.out.dtype))
    r = ctx.reduce(op, src, dims, keep) if dims else ctx.node("Identity", [src])
    if reshape_to is not None:
        r = ctx.node("Reshape", [r, ctx.shape_of(node.out, reshape_to)])
    ctx.node("Identity", [r], out)


def _argsort(ctx, node, out):
    """argsort along dim as TopK with k = the dim's size: both put equal keys in index order
    (cadenza sorts stably; ONNX TopK breaks ties towards the lower index)."""
    x = node.inputs[0]
    d = int(node.attrs.get("dim", -1)) % len(x.shape)
    if ctx.dims is not None:
        ctx.dims.check_static_dim(x, d, "argsort")
    _, idx = ctx.node_n("TopK", [ctx.name(x), ctx.i64([x.shape[d]])], 2, axis=d,
                        largest=int(bool(node.attrs.get("descending", False))), sorted=1)
    ctx.node("Identity", [idx], out)


def _argmax(ctx, node, out):
    x = node.inputs[0]
    dim, keep = node.attrs.get("dim"), bool(node.attrs.get("keepdim", False))
    op = "ArgMax" if node.op_name == "argmax" else "ArgMin"
    src = ctx.name(x)
    if dim is None:   # over the flattened tensor
        src, dim = ctx.node("Reshape", [src, ctx.i64([-1])]), 0
        r = ctx.node(op, [src], axis=0, keepdims=0)
        ctx.node("Reshape", [r, ctx.i64(node.out.shape)], out)
        return
    # NumPy and ONNX (select_last_index=0) both return the first extreme on ties
    ctx.node(op, [src], out, axis=int(dim) % len(x.shape), keepdims=int(keep))


# ---------------------------------------------------------------------------- softmax & co
def _softmax(ctx, node, out):
    """softmax(x * scale + mask) with the causal mask cadenza uses (key j <= query i, torch's
    tril(ones(L, S))) added as 0 / -inf, in the order the eager kernel applies them."""
    a = node.attrs
    dt = node.out.dtype
    x = ctx.name(node.inputs[0])
    nd = len(node.out.shape)
    dim = int(a.get("dim", -1)) % nd
    scale = a.get("scale", 1.0)
    if scale != 1.0:
        x = ctx.node("Mul", [x, ctx.const(np.asarray(scale, dt))])
    if a.get("causal"):
        if dim != nd - 1 or nd < 2:
            raise Unsupported("causal mask off the last dim")
        if ctx.dims is not None:
            mask = ctx.dims.causal_mask(ctx, node.inputs[0], dt)
        else:
            L, S = node.out.shape[-2:]
            mask = ctx.const(np.where(np.tril(np.ones((L, S), bool)), 0.0, -np.inf).astype(dt),
                             "causal")
        x = ctx.node("Add", [x, mask])
    op = "Softmax" if node.op_name == "softmax" else "LogSoftmax"
    ctx.node(op, [x], out, axis=dim)


def _cast(ctx, node, out):
    ctx.node("Cast", [ctx.name(node.inputs[0])], out,
             to=ctx.helper.np_dtype_to_tensor_dtype(node.out.dtype))


def _clamp(ctx, node, out):
    dt = node.out.dtype
    x = node.inputs[0]
    lo = node.attrs.get("min", node.inputs[1] if len(node.inputs) > 1 else None)
    hi = node.attrs.get("max", node.inputs[2] if len(node.inputs) > 2 else None)
    ins = [ctx.name(x), "" if lo is None else ctx.operand(lo, dt),
           "" if hi is None else ctx.operand(hi, dt)]
    ctx.node("Clip", ins, out)


def _pad(ctx, node, out):
    pads = node.attrs["pads"]
    nd = len(node.out.shape)
    pads = list(pads) + [(0, 0)] * (nd - len(pads))
    onnx_pads = [int(p[0]) for p in pads] + [int(p[1]) for p in pads]
    ctx.node("Pad", [ctx.name(node.inputs[0]), ctx.i64(onnx_pads),
                     ctx.const(np.asarray(node.attrs.get("value", 0.0), node.out.dtype))], out,
             mode="constant")


def _unfold(ctx, node, out):
    """im2col as a grouped convolution with one-hot kernels: channel (c, i, j) of the result
    picks input channel c at window offset (i, j), the order unfold uses."""
    x = node.inputs[0]
    n, c, _, _ = x.shape
    a = node.attrs
    (kh, kw), (dh, dw), (ph, pw), (sh, sw) = a["kernel"], a["dilation"], a["padding"], \
        a["stride"]
    w = np.zeros((c * kh * kw, 1, kh, kw), dtype=x.dtype)
    for ch in range(c):
        for i in range(kh):
            for j in range(kw):
                w[ch * kh * kw + i * kw + j, 0, i, j] = 1
    conv = ctx.node("Conv", [ctx.name(x), ctx.const(w, "unfold_w")], group=int(c),
                    kernel_shape=[kh, kw], dilations=[dh, dw], pads=[ph, pw, ph, pw],
                    strides=[sh, sw])
    ctx.node("Reshape", [conv, ctx.i64(node.out.shape)], out)


def _max_pool(ctx, node, out):
    a = node.attrs
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = a["kernel"], a["stride"], a["padding"], \
        a["dilation"]
    ctx.node("MaxPool", [ctx.name(node.inputs[0])], out, kernel_shape=[kh, kw],
             strides=[sh, sw], pads=[ph, pw, ph, pw], dilations=[dh, dw],
             ceil_mode=int(bool(a.get("ceil_mode", False))))


HANDLERS = {name: _simple for name in SIMPLE}
HANDLERS.update({
    "linear": _linear, "gelu": _gelu, "gelu_tanh": lambda c, n, o: _gelu(c, n, o, tanh=True),
    "layer_norm": _norm, "rms_norm": _norm,
    "reshape": _reshape, "view": _reshape, "expand": _expand, "permute": _permute,
    "cat": _cat, "getitem": getitem, "softmax": _softmax, "log_softmax": _softmax,
    "cast": _cast, "clamp": _clamp, "pad_constant": _pad, "unfold": _unfold,
    "max_pool2d": _max_pool, "ne": _ne, "rsqrt": _rsqrt, "isfinite": _isfinite,
    "argsort": _argsort, "argmax": _argmax, "argmin": _argmax,
})
HANDLERS.update({k: _reduce for k in REDUCE})
# handlers that read traced tensors inside attributes (Refs): the others refuse such nodes
REF_AWARE = {"getitem"}
