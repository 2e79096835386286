"""cadenza.onnx: export of inference graphs to ONNX.

``export(model_or_fn, example_inputs, path)`` traces one call under ``cadenza.no_grad()`` (put
the model in ``eval()`` first), turns lifted parameters and buffers into ONNX initializers and
maps each primitive of the captured graph to ONNX nodes. The model is checked with
``onnx.checker``. Ops without a lowering are all reported in one error with their source lines.
``onnx`` (and ``onnxruntime``, for round trips) load lazily: ``pip install cadenza[onnx]``.
"""
from __future__ import annotations

import math
import re

import numpy as np

__all__ = ["export", "is_in_onnx_export", "UnsupportedOpsError"]

_EXPORTING = [False]


class UnsupportedOpsError(RuntimeError):
    """The graph holds primitives with no ONNX lowering; ``ops`` lists (op name, source)."""

    def __init__(self, msg, ops):
        super().__init__(msg)
        self.ops = ops


class _Unsupported(Exception):
    pass


def _require_onnx():
    try:
        import onnx
        from onnx import helper, numpy_helper
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("cadenza.onnx.export needs the 'onnx' package: "
                          "pip install cadenza[onnx]") from e
    return onnx, helper, numpy_helper


def is_in_onnx_export() -> bool:
    return _EXPORTING[0]


# ---------------------------------------------------------------------------- tracing
def _trace(model_or_fn, args):
    import cadenza
    from .._tensor import Tensor
    from ..graph.trace import Tracer
    from ..compiler.guards import flatten_result
    names = {}
    if hasattr(model_or_fn, "named_parameters"):
        for n, p in model_or_fn.named_parameters():
            names[id(p)] = n
        if hasattr(model_or_fn, "named_buffers"):
            for n, b in model_or_fn.named_buffers():
                names[id(b)] = n
    tr = Tracer(names=names)
    with cadenza.no_grad():
        with tr:
            for i, a in enumerate(args):
                if isinstance(a, Tensor):
                    tr.add_arg(a, i, f"input{i}")
            result = model_or_fn(*args)
            res = tr.finish(result, flatten_result)
    return res


# ---------------------------------------------------------------------------- lowering context
class _Ctx:
    def __init__(self, helper, numpy_helper, opset):
        self.helper, self.nh, self.opset = helper, numpy_helper, opset
        self.nodes, self.inits, self.names = [], [], {}
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

    def operand(self, x, dtype):
        """A node input: a Value's name, or a Python/NumPy scalar as a constant of ``dtype``."""
        from ..graph.ir import Value
        if isinstance(x, Value):
            return self.name(x)
        if isinstance(x, (int, float, bool, np.generic, np.ndarray)):
            return self.const(np.asarray(x, dtype=dtype))
        raise _Unsupported(f"operand {type(x).__name__}")


def _vals(node):
    from ..graph.ir import Value
    return [x for x in node.inputs if isinstance(x, Value)]


def _first_dtype(node):
    vs = _vals(node)
    return vs[0].dtype if vs else node.out.dtype


_SIMPLE = {  # cadenza name -> ONNX op, for ops whose inputs map one to one with no attributes
    "add": "Add", "sub": "Sub", "mul": "Mul", "div": "Div", "pow": "Pow",
    "maximum": "Max", "minimum": "Min", "where": "Where", "matmul": "MatMul",
    "neg": "Neg", "exp": "Exp", "log": "Log", "sqrt": "Sqrt", "relu": "Relu",
    "tanh": "Tanh", "sigmoid": "Sigmoid", "abs": "Abs", "sin": "Sin", "cos": "Cos",
    "erf": "Erf", "floor": "Floor", "ceil": "Ceil", "sign": "Sign", "reciprocal": "Reciprocal",
    "clone": "Identity", "contiguous": "Identity",
    "eq": "Equal", "lt": "Less", "gt": "Greater", "le": "LessOrEqual", "ge": "GreaterOrEqual",
    "logical_not": "Not", "logical_and": "And", "logical_or": "Or",
}


def _simple(ctx, node, out):
    if node.attrs:
        raise _Unsupported("attributes")
    op = _SIMPLE[node.op_name]
    # comparisons and where: a scalar takes the other operand's dtype
    dt = node.out.dtype if op not in ("Equal", "Less", "Greater", "LessOrEqual",
                                      "GreaterOrEqual", "Where") else \
        (_vals(node)[-1].dtype if op == "Where" else _first_dtype(node))
    ins = []
    for i, x in enumerate(node.inputs):
        ins.append(ctx.operand(x, np.bool_ if (op == "Where" and i == 0) else dt))
    ctx.node(op, ins, out)


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
        raise _Unsupported("attributes")
    x = ctx.name(node.inputs[0])
    dt = node.out.dtype
    if ctx.opset >= 20:
        ctx.node("Gelu", [x], out, approximate="tanh" if tanh else "none")
        return
    half = ctx.const(np.asarray(0.5, dt))
    one = ctx.const(np.asarray(1.0, dt))
    if tanh:
        x3 = ctx.node("Mul", [ctx.node("Mul", [x, x]), x])
        inner = ctx.node("Add", [x, ctx.node("Mul", [x3, ctx.const(np.asarray(0.044715, dt))])])
        t = ctx.node("Tanh", [ctx.node("Mul", [inner, ctx.const(
            np.asarray(math.sqrt(2 / math.pi), dt))])])
    else:
        t = ctx.node("Erf", [ctx.node("Div", [x, ctx.const(np.asarray(math.sqrt(2.0), dt))])])
    ctx.node("Mul", [ctx.node("Mul", [x, half]), ctx.node("Add", [t, one])], out)


def _reshape(ctx, node, out):
    ctx.node("Reshape", [ctx.name(node.inputs[0]), ctx.i64(node.out.shape)], out)


def _expand(ctx, node, out):
    ctx.node("Expand", [ctx.name(node.inputs[0]), ctx.i64(node.out.shape)], out)


def _permute(ctx, node, out):
    nd = len(node.inputs[0].shape)
    ctx.node("Transpose", [ctx.name(node.inputs[0])], out,
             perm=[int(d) % nd for d in node.attrs["dims"]])


def _cat(ctx, node, out):
    nd = len(node.out.shape)
    ctx.node("Concat", [ctx.name(v) for v in node.inputs], out,
             axis=int(node.attrs.get("dim", 0)) % nd)


def _getitem(ctx, node, out):
    x = node.inputs[0]
    index = node.attrs["index"]
    if not isinstance(index, tuple):
        index = (index,)
    if any(not (isinstance(i, (slice, int, np.integer)) or i is Ellipsis or i is None)
           or isinstance(i, bool) for i in index):
        raise _Unsupported("advanced indexing")
    if sum(i is Ellipsis for i in index) > 1:
        raise _Unsupported("index")
    nd = len(x.shape)
    n_real = sum(1 for i in index if i is not None and i is not Ellipsis)
    if Ellipsis in index:
        k = index.index(Ellipsis)
        index = index[:k] + (slice(None),) * (nd - n_real) + index[k + 1:]
    starts, ends, axes, steps, squeeze, unsq = [], [], [], [], [], []
    dim = 0
    out_pos = 0
    for i in index:
        if i is None:
            unsq.append(out_pos)
            out_pos += 1
            continue
        n = x.shape[dim]
        if isinstance(i, slice):
            s, e, st = i.indices(n)
            if st <= 0:
                raise _Unsupported("negative step")
            if (s, e, st) != (0, n, 1):
                starts.append(s), ends.append(max(e, s)), axes.append(dim), steps.append(st)
            out_pos += 1
        else:
            j = int(i) % n
            starts.append(j), ends.append(j + 1), axes.append(dim), steps.append(1)
            squeeze.append(dim)
        dim += 1
    cur = ctx.name(x)
    if axes:
        cur = ctx.node("Slice", [cur, ctx.i64(starts), ctx.i64(ends), ctx.i64(axes),
                                 ctx.i64(steps)])
    if squeeze:
        cur = ctx.node("Squeeze", [cur, ctx.i64(squeeze)])
    if unsq:
        cur = ctx.node("Unsqueeze", [cur, ctx.i64(unsq)])
    ctx.node("Identity", [cur], out)


_REDUCE = {"sum": "ReduceSum", "amax": "ReduceMax", "amin": "ReduceMin", "prod": "ReduceProd",
           "sum_to": "ReduceSum"}


def _reduce(ctx, node, out):
    x = node.inputs[0]
    nd = len(x.shape)
    op = _REDUCE[node.op_name]
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
    if not dims:
        r = ctx.node("Identity", [src])
    elif op == "ReduceSum" and ctx.opset >= 13 or ctx.opset >= 18:
        r = ctx.node(op, [src, ctx.i64(sorted(dims))], keepdims=int(keep))
    else:
        r = ctx.node(op, [src], axes=sorted(dims), keepdims=int(keep))
    if reshape_to is not None:
        r = ctx.node("Reshape", [r, ctx.i64(reshape_to)])
    ctx.node("Identity", [r], out)


def _softmax(ctx, node, out):
    a = node.attrs
    if a.get("causal"):
        raise _Unsupported("causal mask")
    x = ctx.name(node.inputs[0])
    scale = a.get("scale", 1.0)
    if scale != 1.0:
        x = ctx.node("Mul", [x, ctx.const(np.asarray(scale, node.out.dtype))])
    nd = len(node.out.shape)
    op = "Softmax" if node.op_name == "softmax" else "LogSoftmax"
    ctx.node(op, [x], out, axis=int(a.get("dim", -1)) % nd)


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


_HANDLERS = {name: _simple for name in _SIMPLE}
_HANDLERS.update({
    "linear": _linear, "gelu": _gelu, "gelu_tanh": lambda c, n, o: _gelu(c, n, o, tanh=True),
    "reshape": _reshape, "view": _reshape, "expand": _expand, "permute": _permute,
    "cat": _cat, "getitem": _getitem, "softmax": _softmax, "log_softmax": _softmax,
    "cast": _cast, "clamp": _clamp, "pad_constant": _pad, "unfold": _unfold,
    "max_pool2d": _max_pool,
})
_HANDLERS.update({k: _reduce for k in _REDUCE})


def _clean(name):
    return re.sub(r"[^A-Za-z0-9_.]", "_", name)


# ---------------------------------------------------------------------------- export
def export(model_or_fn, example_inputs, path, input_names=None, output_names=None,
           opset_version: int = 17):
    """Trace ``model_or_fn(*example_inputs)`` under no_grad and write an ONNX model to ``path``
    (a file path or a writable binary file). Returns the ``onnx.ModelProto``.

    Inputs and outputs get ``input_names`` / ``output_names`` (default ``input{i}``,
    ``output{i}``); lifted parameters and buffers become initializers named after the module's
    attribute paths. Shapes are the example's (static)."""
    onnx, helper, numpy_helper = _require_onnx()
    from .._tensor import Tensor
    from ..graph.ir import has_refs
    if not isinstance(example_inputs, (tuple, list)):
        example_inputs = (example_inputs,)
    args = tuple(example_inputs)
    _EXPORTING[0] = True
    try:
        res = _trace(model_or_fn, args)
    finally:
        _EXPORTING[0] = False
    g = res.graph
    ctx = _Ctx(helper, numpy_helper, opset_version)
    arg_pos = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
    if input_names is not None and len(input_names) != len(arg_pos):
        raise ValueError(f"cadenza.onnx.export: {len(input_names)} input_names for "
                         f"{len(arg_pos)} tensor inputs")
    graph_inputs = []
    used = set()
    for L in res.lifted:
        v = L.value
        if L.src[0] == "arg":
            k = arg_pos.index(L.src[1])
            nm = input_names[k] if input_names else f"input{k}"
            graph_inputs.append(helper.make_tensor_value_info(
                nm, helper.np_dtype_to_tensor_dtype(v.dtype), list(v.shape)))
        else:
            nm = _clean(L.name)
            while nm in used:
                nm += "_"
            ctx.inits.append(numpy_helper.from_array(np.ascontiguousarray(L.array), nm))
        used.add(nm)
        ctx.names[v.id] = nm
    unsupported = []
    for node in g.nodes:
        if node.op == "input":
            continue
        out = f"v{node.out.id}"
        ctx.names[node.out.id] = out
        if node.op == "const":
            ctx.inits.append(numpy_helper.from_array(np.ascontiguousarray(
                node.attrs["value"]), out))
            continue
        name = node.op_name
        h = _HANDLERS.get(name) if not isinstance(node.op, str) else None
        if h is None or has_refs(node.attrs):
            unsupported.append((name, node.src, "no ONNX lowering" if h is None
                                else "traced tensor index"))
            continue
        try:
            h(ctx, node, out)
        except _Unsupported as e:
            unsupported.append((name, node.src, str(e)))
    if unsupported:
        lines = "\n".join(f"  - {n} at {src or '<unknown>'} ({why})" for n, src, why in
                          unsupported)
        raise UnsupportedOpsError(
            f"cadenza.onnx.export: {len(unsupported)} op(s) have no ONNX lowering:\n{lines}",
            [(n, s) for n, s, _ in unsupported])
    # state write-backs (e.g. train-mode running stats) are not part of an inference graph
    outs = [(v, lab) for v, lab in zip(g.outputs, g.output_labels) if lab.startswith("out")]
    if output_names is not None and len(output_names) != len(outs):
        raise ValueError(f"cadenza.onnx.export: {len(output_names)} output_names for "
                         f"{len(outs)} tensor outputs")
    graph_outputs = []
    for k, (v, _) in enumerate(outs):
        nm = output_names[k] if output_names else f"output{k}"
        ctx.node("Identity", [ctx.name(v)], nm)
        graph_outputs.append(helper.make_tensor_value_info(
            nm, helper.np_dtype_to_tensor_dtype(v.dtype), list(v.shape)))
    graph = helper.make_graph(ctx.nodes, "cadenza", graph_inputs, graph_outputs,
                              initializer=ctx.inits)
    model = helper.make_model(graph, producer_name="cadenza",
                              opset_imports=[helper.make_opsetid("", opset_version)])
    model.ir_version = min(model.ir_version, 8 if opset_version <= 17 else 9)
    onnx.checker.check_model(model, full_check=True)
    if hasattr(path, "write"):
        path.write(model.SerializeToString())
    else:
        onnx.save(model, str(path))
    return model
