"""Batch normalisation as primitives over x (N, C, ...) per channel c (the N and spatial
elements of c are its M values), instead of a composite of ~8 ops forward and ~20 backward over
activation-sized tensors (16% of a ResNet-18 training step):

- ``batch_norm_stats(x)``: (2, C), the mean and the biased variance of each channel (not
  differentiable: the ops below take it as an input and give the gradient through it);
- ``batch_norm(x, stats, w, b)``: (x - mean) / sqrt(var + eps) * w + b. ``training=True``:
  stats are x's own batch statistics and the gradient in x is the total one through them;
  False: stats are constants (the running estimates);
- ``batch_norm_backward(g, x, stats, w)``: the training-mode input gradient
  s w (g - mean(g) - xh mean(g xh)), s = 1/sqrt(var + eps), xh = (x - mean) s;
- ``batch_norm_param_grad(g, x, stats)``: (2, C), sum(g xh) and sum(g) per channel (the weight
  and bias gradients in one pass).

Each runs as one C kernel (backend/ckernels.py: sums in double in a fixed order, so a float64
step compiled gives the bits of eager, which calls the same kernel), else the NumPy form below
(also double sums; it may round differently from the C kernel). The derivative primitives'
own backwards are written in Tensor ops, so higher-order gradients work (DESIGN.md section 2).
"""
from __future__ import annotations

import numpy as np

from ._registry import Op, register, apply
from ..backend import ckernels
from ..backend.cpu import address

__all__: list = []   # primitives only, used through functional.batch_norm


def _ncs(a):
    """``a`` as a C-contiguous (N, C, S) array."""
    a = np.ascontiguousarray(a) if type(a) is np.ndarray else a
    return a.reshape(a.shape[0], a.shape[1], -1)


def _dtype(*arrays):
    """The arrays' common dtype (None entries skipped; read from .dtype, so device arrays
    never convert)."""
    return np.result_type(*(a.dtype for a in arrays if a is not None))


def _flat(a, dt):
    return None if a is None else np.ascontiguousarray(a, dtype=dt).reshape(-1)


def _call(name, arrays, out, *rest):
    """Run C kernel ``name`` on (N, C, S) ``arrays`` (None passes NULL) writing ``out``; False
    when the NumPy form must run."""
    fn = ckernels.kernel(name, *[a for a in arrays if a is not None], out)
    if fn is None:
        return False
    x = arrays[0]
    fn(*[ckernels.ptr(a) for a in arrays], address(out), *x.shape, *rest)
    return True


def _channel_sums(a, b, ma, mb):
    """sum (a - ma) and sum (a - ma)(b - mb) per channel of (N, C, S) arrays, in float64."""
    da = a - ma[:, None] if ma is not None else a.astype(np.float64)
    return da.sum((0, 2), dtype=np.float64), (da * (b - mb[:, None])).sum((0, 2),
                                                                          dtype=np.float64)


def _stats_fwd(xp, x):
    x3 = _ncs(x)
    n, c, s = x3.shape
    out = xp.empty((2, c), dtype=x.dtype)
    if xp is np and _call("bn_stats", (x3,), out):
        return out
    m = x3.sum((0, 2), dtype=np.float64) / (n * s)
    _, sq = _channel_sums(x3, x3, m, m)
    out[0], out[1] = m, sq / (n * s)
    return out


def _scale(stats, w, eps):
    """w / sqrt(var + eps) per channel (computed in float64, then x's dtype)."""
    s = 1.0 / np.sqrt(stats[1].astype(np.float64) + eps)
    return (s if w is None else s * w).astype(stats.dtype)


def _bn_fwd(xp, x, stats, w=None, b=None, *, eps=1e-5, training=True):
    dt = _dtype(x, stats, w, b)
    x3 = _ncs(x.astype(dt, copy=False))
    stats = stats.astype(dt, copy=False)
    out = xp.empty(x3.shape, dtype=dt)
    if xp is np and _call("bn_apply", (x3, np.ascontiguousarray(stats), _flat(w, dt),
                                       _flat(b, dt)), out, float(eps)):
        return out.reshape(x.shape)
    sc = _scale(stats, None if w is None else w.reshape(-1).astype(dt), eps)
    y = (x3 - stats[0][:, None]) * sc[:, None]
    if b is not None:
        y += b.reshape(-1).astype(dt)[:, None]
    return y.reshape(x.shape)


def _bn_bwd(xp, g, x, stats, w=None, *, eps=1e-5):
    dt = _dtype(g, x, stats, w)
    g3, x3 = _ncs(g.astype(dt, copy=False)), _ncs(x.astype(dt, copy=False))
    stats = np.ascontiguousarray(stats.astype(dt, copy=False))
    out = xp.empty(x3.shape, dtype=dt)
    if xp is np and _call("bn_bwd", (g3, x3, stats, _flat(w, dt)), out, float(eps)):
        return out.reshape(x.shape)
    n, _, s = x3.shape
    sd = 1.0 / np.sqrt(stats[1].astype(np.float64) + eps)
    sg, sgx = _channel_sums(g3, x3, None, stats[0].astype(np.float64))
    k1, k2 = (sg / (n * s)).astype(dt), (sgx * sd * sd / (n * s)).astype(dt)
    a = (sd if w is None else sd * w.reshape(-1)).astype(dt)
    gx = ((g3 - k1[:, None]) - (x3 - stats[0][:, None]) * k2[:, None]) * a[:, None]
    return gx.reshape(x.shape)


def _param_fwd(xp, g, x, stats, *, eps=1e-5):
    dt = _dtype(g, x, stats)
    g3, x3 = _ncs(g.astype(dt, copy=False)), _ncs(x.astype(dt, copy=False))
    stats = np.ascontiguousarray(stats.astype(dt, copy=False))
    out = xp.empty((2, x3.shape[1]), dtype=dt)
    if xp is np and _call("bn_param", (g3, x3, stats), out, float(eps)):
        return out
    sg, sgx = _channel_sums(g3, x3, None, stats[0].astype(np.float64))
    out[0], out[1] = sgx / np.sqrt(stats[1].astype(np.float64) + eps), sg
    return out


def _cshape(x):
    return (1, x.shape[1]) + (1,) * (len(x.shape) - 2)


def _dims(x):
    return (0,) + tuple(range(2, len(x.shape)))


def _parts(x, stats, eps):
    """(x - mean, s) as Tensors broadcast over x, s = 1/sqrt(var + eps) (for the Tensor-op
    rules below)."""
    cs = _cshape(x)
    d = x - stats[0].reshape(cs)
    return d, (stats[1].reshape(cs) + eps).rsqrt()


def _bn_onnx(ctx, node, out):
    """BatchNormalization (inference form) with the stats' rows as mean and variance."""
    x, stats = node.inputs[0], node.inputs[1]
    dt = node.out.dtype
    C = x.shape[1]
    rows = [ctx.node("Gather", [ctx.name(stats), ctx.const(np.asarray(i, np.int64))], axis=0)
            for i in (0, 1)]
    ins = list(node.inputs) + [None] * (4 - len(node.inputs))
    wb = [ctx.name(v) if ctx.is_value(v) else ctx.const(np.full(C, fill, dt))
          for v, fill in zip(ins[2:4], (1, 0))]
    ctx.node("BatchNormalization", [ctx.name(x), *wb, *rows], out,
             epsilon=float(node.attrs.get("eps", 1e-5)))


def _stats_onnx(ctx, node, out):
    x = node.inputs[0]
    axes = list(_dims(x))
    C = x.shape[1]
    mean = ctx.reduce("ReduceMean", ctx.name(x), axes, True)
    d = ctx.node("Sub", [ctx.name(x), mean])
    var = ctx.reduce("ReduceMean", ctx.node("Mul", [d, d]), axes, True)
    rows = [ctx.node("Reshape", [v, ctx.i64([1, C])]) for v in (mean, var)]
    ctx.node("Concat", rows, out, axis=0)


@register
class BatchNormStats(Op):
    """(2, C): each channel's mean and biased variance over N and the spatial dims."""
    name, kind, saves = "batch_norm_stats", "library", "none"
    differentiable = False
    forward = staticmethod(_stats_fwd)
    onnx = staticmethod(_stats_onnx)


@register
class BatchNormParamGrad(Op):
    """(2, C): sum(g xh) and sum(g) per channel (the weight's and the bias's gradients)."""
    name, kind, onnx = "batch_norm_param_grad", "library", None
    forward = staticmethod(_param_fwd)

    # out[0] = sum(g xh(x)), out[1] = sum(g); upstream h (2, C): d/dg = h0 xh + h1,
    # d/dx = s P(g h0) (the input gradient for upstream g h0 with w = 1)
    @staticmethod
    def backward(c, h):
        g, x, stats = c.saved
        eps = c.attrs.get("eps", 1e-5)
        cs = _cshape(x)
        dg = dx = None
        if c.next[0] is not None:
            d, s = _parts(x, stats, eps)
            dg = d * s * h[0].reshape(cs) + h[1].reshape(cs)
        if c.next[1] is not None:
            dx = apply(BatchNormBackward, g * h[0].reshape(cs), x, stats, None, eps=eps)
        return dg, dx, None


@register
class BatchNormBackward(Op):
    """The training-mode input gradient s w P(g), P(z) = z - mean(z) - xh mean(z xh)."""
    name, kind, onnx = "batch_norm_backward", "library", None
    forward = staticmethod(_bn_bwd)

    # out = s w P(g) (P symmetric, per channel over its M values). With upstream h and
    # u = s P(h): d/dg = w u, d/dw = sum(g u) per channel, d/dx = -(s^2 / M) F xh - s^2 P(z)
    # with v = g w, c = mean(v xh), F = <h, v> - mean(v) <h, 1> - c <h, xh>,
    # z = <h, xh> v / M + c h (sums over the channel; as ops/normalization.py's layer norm)
    @staticmethod
    def backward(c, h):
        g, x, stats, w = c.saved
        eps = c.attrs.get("eps", 1e-5)
        cs, dims = _cshape(x), _dims(x)
        dg = dx = dw = None
        wc = w.reshape(cs) if w is not None else None
        if c.next[0] is not None or (w is not None and c.next[3] is not None):
            u = apply(BatchNormBackward, h, x, stats, None, eps=eps)
            if c.next[0] is not None:
                dg = u * wc if w is not None else u
            if w is not None and c.next[3] is not None:
                dw = (g * u).sum(dims)
        if c.next[1] is not None:
            n = x.numel() // x.shape[1]
            d, s = _parts(x, stats, eps)
            xh = d * s
            v = g * wc if w is not None else g
            cc = (v * xh).mean(dims, keepdim=True)
            hx = (h * xh).sum(dims, keepdim=True)
            F = (h * v).sum(dims, keepdim=True) - cc * hx \
                - v.mean(dims, keepdim=True) * h.sum(dims, keepdim=True)
            z = hx * v * (1.0 / n) + cc * h
            pz = z - xh * (z * xh).mean(dims, keepdim=True) - z.mean(dims, keepdim=True)
            s2 = s * s
            dx = -(s2 * F * xh * (1.0 / n) + s2 * pz)
        return dg, dx, None, dw


@register
class BatchNorm(Op):
    """(x - mean) / sqrt(var + eps) * w + b per channel, (mean, var) the rows of stats."""
    name, kind = "batch_norm", "library"
    forward = staticmethod(_bn_fwd)
    onnx = staticmethod(_bn_onnx)

    @staticmethod
    def backward(c, g):
        x, stats, w, b = c.saved
        eps, training = c.attrs.get("eps", 1e-5), c.attrs.get("training", True)
        nxt = c.next
        gx = gw = gb = None
        need_w = w is not None and nxt[2] is not None
        need_b = b is not None and nxt[3] is not None
        if training:
            if nxt[0] is not None:
                gx = apply(BatchNormBackward, g, x, stats, w, eps=eps)
            if need_w or need_b:
                p = apply(BatchNormParamGrad, g, x, stats, eps=eps)
                gw, gb = (p[0] if need_w else None), (p[1] if need_b else None)
        else:   # the stats are constants: an affine map per channel
            cs, dims = _cshape(x), _dims(x)
            d, s = _parts(x, stats, eps)
            if nxt[0] is not None:
                gx = g * (s * w.reshape(cs) if w is not None else s)
            if need_w:
                gw = (g * d * s).sum(dims)
            if need_b:
                gb = g.sum(dims)
        return gx, None, gw, gb


def batch_norm_stats(x):
    return apply(BatchNormStats, x)


def batch_norm(x, stats, w, b, eps, training):
    """The primitive on validated operands (see functional.batch_norm)."""
    return apply(BatchNorm, x, stats, w, b, eps=float(eps), training=bool(training))
