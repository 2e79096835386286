"""Fused normalisation primitives: layer_norm and rms_norm over the trailing ``k`` dims.

As composites, a layer norm records ~8 ops forward (mean, sub, square, mean, add, rsqrt, mul,
affine) and ~20 backward over activation-sized tensors; bench/w1_gpt_train.py runs nine per
step. Here the forward is one row-blocked pass that keeps its temporaries in cache, and the
first-order backward is a derivative primitive (``*_backward``: grad_input in one pass) whose own
backward is written in Tensor ops, so higher-order gradients still work (DESIGN.md section 2).

Notation per normalised row of n values: s = 1/sqrt(var + eps) (layer norm: var of x - mean;
rms norm: mean(x^2)), xh = (x - mean) s (rms: x s), y = xh w + b, v = g w for an upstream g.
P(z) = z - mean(z) - xh mean(z xh) (rms: z - xh mean(z xh)) is the symmetric projection with
d xh / d x = s P, so grad_input = s P(v).
"""
from __future__ import annotations

import numpy as np

from ._registry import Op, register, apply
from .reduce import Sum
from ..backend import ckernels_rows
from ..backend.cpu import address

__all__: list = []   # primitives only, used through ops.apply



_CHUNK = 1 << 19  # elements per block (measured: fewer, larger blocks beat cache-sized ones here)


def _rows(a, n):
    return np.ascontiguousarray(a).reshape(-1, n)


def _blocked_rows(fn, xp, n, shape, dtype, *arrays):
    """Apply a row-wise chain ``fn`` to blocks of rows of (R, n) views of ``arrays`` (None
    entries pass through); NumPy's temporaries of a cache-sized block stay in cache."""
    if xp is not np:
        return fn(*(a if a is None or a.ndim <= 1 else a.reshape(-1, n) for a in arrays)
                  ).reshape(shape)
    # weights/biases arrive flattened (1-d) and broadcast over rows; a 1-d input (x of the
    # normalised shape alone) is one row, and then every operand is viewed as (1, n)
    flat = [a if a is None or (a.ndim <= 1 and len(shape) > 1) else _rows(a, n)
            for a in arrays]
    rows = flat[0].shape[0]
    step = max(1, _CHUNK // max(n, 1))
    if rows <= step:
        return fn(*flat).astype(dtype, copy=False).reshape(shape)
    out = np.empty((rows, n), dtype=dtype)
    for i in range(0, rows, step):
        out[i:i + step] = fn(*(a if a is None or a.ndim <= 1 else a[i:i + step] for a in flat))
    return out.reshape(shape)


_MEAN_VECS: dict = {}


def _row_mean(x):
    """Mean of each row of a 2-d array, (rows, 1). For NumPy a BLAS matrix-vector product
    with a 1/n vector: several times faster than ``mean(1)`` on short rows."""
    if type(x) is not np.ndarray or x.dtype.kind != "f":
        return x.mean(1, keepdims=True)
    key = (x.shape[1], x.dtype.str)
    v = _MEAN_VECS.get(key)
    if v is None:
        v = _MEAN_VECS[key] = np.full(x.shape[1], 1.0 / x.shape[1], dtype=x.dtype)
    return (x @ v)[:, None]


def _row_dot(a, b):
    """sum(a * b) per row, (rows, 1), without the product temporary for NumPy."""
    if type(a) is np.ndarray and type(b) is np.ndarray:
        return np.einsum("ij,ij->i", a, b)[:, None]
    return (a * b).sum(1, keepdims=True)


def _stats(x, center, eps):
    """(x - mean) or x, and s = 1/sqrt(var + eps), per row of a 2-d block."""
    d = x - _row_mean(x) if center else x
    var = _row_dot(d, d)
    var *= 1.0 / max(x.shape[1], 1)
    var += eps
    s = np.sqrt(var, out=var)
    np.divide(1.0, s, out=s)
    return d, s


def _norm_fwd(center, eps):
    def fn(x, w, b):
        d, s = _stats(x, center, eps)
        if center:  # d is a fresh array (for the rms norm it is x itself)
            d *= s
            y = d
        else:
            y = d * s
        if w is not None:
            y *= w
        if b is not None:
            y += b
        return y
    return fn


def _norm_bwd(center, eps):
    # grad_input = s (v - mean(v) - xh mean(v xh)), v = g w (rms: without the mean(v) term)
    def fn(g, x, w):
        d, s = _stats(x, center, eps)
        xh = d * s
        v = g * w if w is not None else g
        n = max(x.shape[1], 1)
        c = _row_dot(v, xh)
        c *= 1.0 / n
        xh *= c
        r = v - xh
        if center:
            r -= _row_mean(v)
        r *= s
        return r
    return fn


def _c_rows(name, xp, *arrays):
    """(the float32 C kernel ``name`` of backend/ckernels_rows.py, the arrays made
    C-contiguous) for host float32 arrays (None entries pass through), else (None, arrays)."""
    if xp is not np or any(a is not None and a.dtype != np.float32 for a in arrays):
        return None, arrays
    arrays = tuple(ckernels_rows.contiguous(a) for a in arrays)
    return ckernels_rows.kernel(name, *arrays), arrays


def _size(shape, k):
    n = 1
    for d in shape[len(shape) - k:]:
        n *= d
    return n


def _norm_onnx(ctx, node, out):
    """layer_norm / rms_norm over the trailing k dims. LayerNorm maps to opset 17's
    LayerNormalization; RMSNorm (an ONNX op only from opset 23, which onnxruntime releases of
    2024 lack) is decomposed: x / sqrt(mean(x^2) + eps) * w."""
    x = node.inputs[0]
    w = node.inputs[1] if len(node.inputs) > 1 and ctx.is_value(node.inputs[1]) else None
    b = node.inputs[2] if len(node.inputs) > 2 and ctx.is_value(node.inputs[2]) else None
    k, eps = int(node.attrs.get("k", 1)), float(node.attrs.get("eps", 1e-5))
    nd, dt = len(x.shape), node.out.dtype
    if x.dtype != dt:
        raise ctx.Unsupported("mixed dtypes")
    axes = list(range(nd - k, nd))
    xn = ctx.name(x)
    if node.op.center and ctx.opset >= 17:
        scale = ctx.name(w) if w is not None else ctx.const(np.ones(x.shape[nd - k:], dt))
        ins = [xn, scale] + ([ctx.name(b)] if b is not None else [])
        ctx.node("LayerNormalization", ins, out, axis=nd - k, epsilon=eps)
        return
    if node.op.center:
        xn = ctx.node("Sub", [xn, ctx.reduce("ReduceMean", xn, axes, True)])
    ms = ctx.reduce("ReduceMean", ctx.node("Mul", [xn, xn]), axes, True)
    r = ctx.node("Sqrt", [ctx.node("Add", [ms, ctx.const(np.asarray(eps, dt))])])
    y = ctx.node("Div", [xn, r])
    if w is not None:
        y = ctx.node("Mul", [y, ctx.name(w)])
    if b is not None:
        y = ctx.node("Add", [y, ctx.name(b)])
    ctx.node("Identity", [y], out)


class _NormBase(Op):
    kind, onnx = "reduce", staticmethod(_norm_onnx)
    center = True

    @classmethod
    def forward(cls, xp, x, w=None, b=None, *, k=1, eps=1e-5):
        n = _size(x.shape, k)
        wf = None if w is None else w.reshape(-1)
        bf = None if b is None else b.reshape(-1)
        dtype = np.result_type(x, *(a for a in (w, b) if a is not None))
        if x.size == 0 or n == 0:
            return xp.zeros(x.shape, dtype)
        fn, (x, wf, bf) = _c_rows("norm", xp, x, wf, bf)
        if fn is not None and all(a is None or a.size == n for a in (wf, bf)):
            # float32: one C pass per row
            out = np.empty(x.shape, np.float32)
            fn(address(x), ckernels_rows.ptr(wf), ckernels_rows.ptr(bf), address(out),
               x.size // n, n, int(cls.center), eps)
            return out
        if xp is not np:
            return _norm_fwd(cls.center, eps)(x.reshape(-1, n), wf, bf).astype(
                dtype, copy=False).reshape(x.shape)
        return _blocked_rows(_norm_fwd(cls.center, eps), xp, n, x.shape, dtype, x, wf, bf)

    @classmethod
    def backward(cls, c, g):
        x, w = c.saved[0], c.saved[1]
        b = c.saved[2] if len(c.saved) > 2 else None
        k, eps = c.attrs.get("k", 1), c.attrs.get("eps", 1e-5)
        lead = tuple(range(g.ndim - k))
        gx = gw = gb = None
        if c.next[0] is not None:
            gx = apply(cls.derivative, g, x, w, k=k, eps=eps)
        need_w = w is not None and c.next[1] is not None
        need_b = b is not None and len(c.next) > 2 and c.next[2] is not None
        if need_w and need_b and lead and tuple(g.shape) == tuple(x.shape) and \
                g.dtype == x.dtype:
            # both in one pass over g and x (the bias gradient is g's sum over rows)
            both = apply(cls.weight_grad, g, x, k=k, eps=eps, bias=True)
            return (gx, both[0], both[1])
        if need_w:
            gw = apply(cls.weight_grad, g, x, k=k, eps=eps)
        if need_b:
            gb = g.sum(lead) if lead else g
        return (gx, gw, gb)[:len(c.saved)]


class _NormBackwardBase(Op):
    """grad_input of the norm for upstream g (saved: g, x, w)."""
    kind, onnx = "reduce", None
    center = True
    primal = None

    @classmethod
    def forward(cls, xp, g, x, w=None, *, k=1, eps=1e-5):
        n = _size(x.shape, k)
        wf = None if w is None else w.reshape(-1)
        dtype = np.result_type(g, x, *(() if w is None else (w,)))
        if x.size == 0 or n == 0:
            return xp.zeros(x.shape, dtype)
        if g.shape == x.shape and (wf is None or wf.size == n):
            fn, (g, x, wf) = _c_rows("norm_bwd", xp, g, x, wf)
            if fn is not None:
                out = np.empty(x.shape, np.float32)
                fn(address(g), address(x), ckernels_rows.ptr(wf), address(out),
                   x.size // n, n, int(cls.center), eps)
                return out
        if xp is not np:
            return _norm_bwd(cls.center, eps)(g.reshape(-1, n), x.reshape(-1, n), wf).astype(
                dtype, copy=False).reshape(x.shape)
        return _blocked_rows(_norm_bwd(cls.center, eps), xp, n, x.shape, dtype, g, x, wf)

    # out = s P(v), v = g w. With upstream h and u = s P(h) (P is symmetric):
    #   d/dg = u w,  d/dw = sum_rows(g u),
    #   d/dx = -(s^2 / n) F xh - s^2 P(z), where F = <h, v> - mean(v) <h, 1> - c <h, xh>,
    #   c = mean(v xh), z = <h, xh> v / n + c h (row sums <.,.>; the rms form drops the mean
    #   terms); from d s / dx = -s^2 xh / n and d xh / dx = s P.
    @classmethod
    def backward(cls, c, h):
        g, x, w = c.saved
        k, eps = c.attrs.get("k", 1), c.attrs.get("eps", 1e-5)
        lead = tuple(range(x.ndim - k))
        dims = tuple(range(x.ndim - k, x.ndim))
        dg = dx = dw = None
        if c.next[0] is not None or (w is not None and c.next[2] is not None):
            u = apply(cls, h, x, None, k=k, eps=eps)
            if c.next[0] is not None:
                dg = u * w if w is not None else u
            if w is not None and c.next[2] is not None:
                gu = g * u
                dw = gu.sum(lead) if lead else gu
        if c.next[1] is not None:
            n = _size(tuple(x.shape), k)
            center = cls.center
            d = x - x.mean(dims, keepdim=True) if center else x
            s = ((d * d).mean(dims, keepdim=True) + eps).rsqrt()
            xh = d * s
            v = g * w if w is not None else g
            cc = (v * xh).mean(dims, keepdim=True)
            hx = (h * xh).sum(dims, keepdim=True)
            F = (h * v).sum(dims, keepdim=True) - cc * hx
            if center:
                F = F - v.mean(dims, keepdim=True) * h.sum(dims, keepdim=True)
            z = hx * v * (1.0 / n) + cc * h
            pz = z - xh * (z * xh).mean(dims, keepdim=True)
            if center:
                pz = pz - z.mean(dims, keepdim=True)
            s2 = s * s
            dx = -(s2 * F * xh * (1.0 / n) + s2 * pz)
        return dg, dx, dw


def _norm_wgrad(center, eps):
    def fn(g, x):
        d, s = _stats(x, center, eps)
        xh = d * s  # a new array: d is x itself for the rms norm
        xh *= g
        return xh.sum(0)
    return fn


class _NormWeightGradBase(Op):
    """sum over rows of g * xh: the weight gradient, one blocked pass over g and x. With
    ``bias``: (2, *norm shape), the weight gradient then the bias gradient (g's sum over rows,
    as ``g.sum(lead)`` computes it) from the same pass."""
    kind, onnx = "reduce", None
    center = True

    @classmethod
    def forward(cls, xp, g, x, *, k=1, eps=1e-5, bias=False):
        n = _size(x.shape, k)
        nshape = x.shape[x.ndim - k:]
        dtype = np.result_type(g, x)
        oshape = ((2,) if bias else ()) + nshape
        if x.size == 0 or n == 0:
            return xp.zeros(oshape, dtype)
        if g.shape == x.shape:
            kern, (g, x) = _c_rows("norm_wgrad", xp, g, x)
            if kern is not None:
                out = np.empty(oshape, np.float32)
                if kern(address(g), address(x), address(out), x.size // n, n,
                        int(cls.center), eps, int(bias)) == 0:
                    return out
        fn = _norm_wgrad(cls.center, eps)
        if xp is not np:
            gw = fn(g.reshape(-1, n), x.reshape(-1, n)).astype(dtype).reshape(nshape)
        else:
            g2, x2 = _rows(g, n), _rows(x, n)
            step = max(1, _CHUNK // n)
            acc = np.zeros(n, dtype=dtype)
            for i in range(0, x2.shape[0], step):
                acc += fn(g2[i:i + step], x2[i:i + step])
            gw = acc.reshape(nshape)
        if not bias:
            return gw
        # the bias gradient exactly as the separate sum computed it (float64 bits unchanged)
        gb = Sum.forward(xp, g, dims=tuple(range(g.ndim - k)))
        return xp.stack([gw, gb.astype(dtype, copy=False)])

    # out = sum_rows(g xh(x)) (and sum_rows(g)); with upstream h (broadcast over rows):
    #   d/dg = h xh (+ h_b),  d/dx = s P(g h)  (the norm's input gradient for upstream g h)
    @classmethod
    def backward(cls, c, h):
        g, x = c.saved
        k, eps = c.attrs.get("k", 1), c.attrs.get("eps", 1e-5)
        hb = None
        if c.attrs.get("bias", False):
            h, hb = h[0], h[1]
        dg = dx = None
        if c.next[0] is not None:
            dg = h * apply(cls.primal, x, None, None, k=k, eps=eps)
            if hb is not None:
                dg = dg + hb
        if c.next[1] is not None:
            dx = apply(cls.primal.derivative, g * h, x, None, k=k, eps=eps)
        return dg, dx


@register
class LayerNormWeightGrad(_NormWeightGradBase):
    name = row_kernel = "layer_norm_weight_grad"
    center = True


@register
class RmsNormWeightGrad(_NormWeightGradBase):
    name = row_kernel = "rms_norm_weight_grad"
    center = False


@register
class LayerNormBackward(_NormBackwardBase):
    name = row_kernel = "layer_norm_backward"
    center = True


@register
class LayerNorm(_NormBase):
    """(x - mean) / sqrt(var + eps) * w + b over the trailing k dims (var biased)."""
    name = row_kernel = "layer_norm"
    center = True
    derivative = LayerNormBackward
    weight_grad = LayerNormWeightGrad


@register
class RmsNormBackward(_NormBackwardBase):
    name = row_kernel = "rms_norm_backward"
    contiguous_result = False   # elementwise maths in torch: the input's layout
    center = False


@register
class RmsNorm(_NormBase):
    """x / sqrt(mean(x^2) + eps) * w over the trailing k dims."""
    name = row_kernel = "rms_norm"
    contiguous_result = False   # elementwise maths in torch: the input's layout
    center = False
    derivative = RmsNormBackward
    weight_grad = RmsNormWeightGrad


LayerNormWeightGrad.primal = LayerNorm
RmsNormWeightGrad.primal = RmsNorm
