"""Fused softmax-family primitives: softmax (with an optional scale and causal mask, for
attention), log_softmax and per-sample cross entropy over class indices.

As composites these record ~6 ops forward and ~12 backward each over (B, H, T, T) attention
scores or (N, V) logits; bench/w1_gpt_train.py showed them among the largest non-matmul costs.
Each forward is one row-blocked pass whose temporaries stay in cache, and each first-order
backward is a derivative primitive whose own backward is written in Tensor ops, so
higher-order gradients still work (DESIGN.md section 2).
"""
from __future__ import annotations

import numpy as np

from ._registry import Op, register, apply
from ..backend import ckernels_rows
from ..backend.cpu import fp_quiet
from .elementwise import where
from .index import gather
from ..backend.cpu import address

__all__: list = []   # primitives only, used through ops.apply



_CHUNK = 1 << 15  # elements per block: the temporaries of a block stay in L2 cache
_MASKS: dict = {}


def _causal_neg(L, S, dtype):
    """(L, S) additive mask: 0 where key j <= query i (torch's tril(ones(L, S))), else -inf."""
    key = (L, S, np.dtype(dtype).str)
    m = _MASKS.get(key)
    if m is None:
        m = np.where(np.tril(np.ones((L, S), dtype=bool)), 0.0, -np.inf).astype(dtype)
        m.setflags(write=False)
        if len(_MASKS) > 64:
            _MASKS.clear()
        _MASKS[key] = m
    return m


def _rowwise(fn, xp, dim, tail, out_shape, dtype, *arrays):
    """Run ``fn(*blocks, axis)`` over blocks of the arrays, reducing along ``dim``. For NumPy
    and the last dim, blocks are cache-sized groups of (-1, *tail) rows (tail: the trailing
    shape a block must keep whole, e.g. (L, S) for a causal mask); otherwise one call."""
    x = arrays[0]
    nd = x.ndim
    if x.size == 0:
        return xp.zeros(out_shape, dtype)
    if xp is not np or dim != nd - 1:
        return fn(*arrays, axis=dim).astype(dtype, copy=False)
    inner = 1
    for d in tail:
        inner *= d
    flat = [np.ascontiguousarray(a).reshape((-1,) + tail) for a in arrays]
    rows = flat[0].shape[0]
    step = max(1, _CHUNK // max(inner, 1))
    if rows <= step:
        return fn(*flat, axis=-1).astype(dtype, copy=False).reshape(out_shape)
    out = np.empty((rows,) + tail, dtype=dtype)
    for i in range(0, rows, step):
        out[i:i + step] = fn(*(f[i:i + step] for f in flat), axis=-1)
    return out.reshape(out_shape)


def _c_last(name, xp, dim, *arrays):
    """(the float32 C kernel ``name`` of backend/ckernels_rows.py, the arrays made
    C-contiguous, rows, row length) when ``dim`` is the last of same-shaped non-empty host
    float32 arrays; else (None, ...): the NumPy form runs."""
    x = arrays[0]
    if xp is not np or x.ndim == 0 or x.size == 0 or dim != x.ndim - 1 or \
            any(a.dtype != np.float32 or a.shape != x.shape for a in arrays):
        return None, arrays, 0, 0
    arrays = tuple(ckernels_rows.contiguous(a) for a in arrays)
    n = x.shape[-1]
    return ckernels_rows.kernel(name, *arrays), arrays, x.size // n, n


def _causal_rows(shape, causal):
    """The kernels' causal argument: the query count L (rows r see keys j <= r % L), or 0."""
    return int(shape[-2]) if causal else 0


def _tail(shape, causal):
    return tuple(shape[-2:]) if causal and len(shape) >= 2 else tuple(shape[-1:])


# ----------------------------------------------------------------------------- softmax
_BAND = 16  # query rows per band of the causal softmax (its exp dominates: small bands)
_BAND_BWD = 64  # and of its backward (cheap ufuncs: fewer, longer inner loops pay more)


def _causal_bands(L, S, band=None):
    """(r0, r1, c1) row bands of a causal (L, S) score matrix: rows r0..r1 see keys < c1 only,
    so the masked upper triangle is neither exponentiated nor read (about half the work)."""
    band = band or _BAND
    return [(r0, min(r0 + band, L), min(r0 + band, S)) for r0 in range(0, L, band)]


def _causal_softmax(x, scale):
    """softmax(x * scale + causal mask) over the last dim of NumPy x (..., L, S), banded."""
    L, S = x.shape[-2], x.shape[-1]
    x3 = x.reshape(-1, L, S)
    out = np.empty(x3.shape, dtype=x.dtype)
    neg = _causal_neg(L, S, x.dtype)
    nb = max(1, (_CHUNK * 4) // max(_BAND * S, 1))
    for b0 in range(0, x3.shape[0], nb):
        b1 = b0 + nb
        for r0, r1, c1 in _causal_bands(L, S):
            z = x3[b0:b1, r0:r1, :c1] * scale
            z += neg[r0:r1, :c1]
            z -= z.max(-1, keepdims=True)
            np.exp(z, out=z)
            z /= z.sum(-1, keepdims=True)
            out[b0:b1, r0:r1, :c1] = z
            if c1 < S:
                out[b0:b1, r0:r1, c1:] = 0
    return out.reshape(x.shape)


def _causal_softmax_bwd(g, y, scale):
    """scale y (g - sum(g y)) for a causal softmax output y (zero above the diagonal)."""
    L, S = y.shape[-2], y.shape[-1]
    g3, y3 = g.reshape(-1, L, S), y.reshape(-1, L, S)
    out = np.empty(y3.shape, dtype=np.result_type(g, y))
    nb = max(1, (_CHUNK * 4) // max(_BAND_BWD * S, 1))
    for b0 in range(0, y3.shape[0], nb):
        b1 = b0 + nb
        for r0, r1, c1 in _causal_bands(L, S, _BAND_BWD):
            yb = y3[b0:b1, r0:r1, :c1]
            t = g3[b0:b1, r0:r1, :c1] * yb
            t -= yb * t.sum(-1, keepdims=True)
            if scale != 1.0:
                t *= scale
            out[b0:b1, r0:r1, :c1] = t
            if c1 < S:
                out[b0:b1, r0:r1, c1:] = 0
    return out.reshape(y.shape)


def _softmax_fn(xp, scale, neg):
    def fn(x, axis):
        if scale != 1.0 or neg is not None:
            z = x * scale if scale != 1.0 else x.copy()
            if neg is not None:
                z += neg
            z -= z.max(axis, keepdims=True)
        else:
            z = x - x.max(axis, keepdims=True)
        xp.exp(z, out=z)
        z /= z.sum(axis, keepdims=True)
        return z
    return fn


def _softmax_bwd_fn(scale):
    # scale * y (g - sum(g y))
    def fn(g, y, axis):
        t = g * y
        s = t.sum(axis, keepdims=True)
        t -= y * s
        if scale != 1.0:
            t *= scale
        return t
    return fn


def _softmax_onnx(onnx_op):
    def lower(ctx, node, out):
        """softmax(x * scale + mask) with the causal mask cadenza uses (key j <= query i,
        torch's tril(ones(L, S))) added as 0 / -inf, in the order the eager kernel applies
        them."""
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
                raise ctx.Unsupported("causal mask off the last dim")
            if ctx.dims is not None:
                mask = ctx.dims.causal_mask(ctx, node.inputs[0], dt)
            else:
                L, S = node.out.shape[-2:]
                mask = ctx.const(np.where(np.tril(np.ones((L, S), bool)), 0.0, -np.inf).astype(
                    dt), "causal")
            x = ctx.node("Add", [x, mask])
        ctx.node(onnx_op, [x], out, axis=dim)
    return lower


@register
class SoftmaxBackward(Op):
    """scale * y * (g - sum(g * y, dim)) for upstream g and softmax output y."""
    name, kind, onnx = "softmax_backward", "reduce", None
    row_kernel = "softmax_backward"

    @staticmethod
    def forward(xp, g, y, *, dim=-1, scale=1.0, causal=False):
        dim = dim % y.ndim if y.ndim else 0
        if not causal or y.ndim >= 2:
            fn, (g2, y2), rows, n = _c_last("softmax_bwd", xp, dim, g, y)
            if fn is not None:     # float32: one C pass per row
                out = np.empty(y2.shape, np.float32)
                fn(address(g2), address(y2), address(out), rows, n,
                   _causal_rows(y.shape, causal), scale)
                return out
        if causal and xp is np and y.size and dim == y.ndim - 1 and g.shape == y.shape:
            return _causal_softmax_bwd(g, y, scale)
        with np.errstate(invalid="ignore"):
            return _rowwise(_softmax_bwd_fn(scale), xp, dim, _tail(y.shape, False), y.shape,
                            np.result_type(g, y), g, y)

    # out = scale y (g - s), s = sum(g y). With upstream h:
    #   d/dg = scale y (h - sum(h y))  (this op again),
    #   d/dy = scale (h (g - s) - g sum(h y))
    @staticmethod
    def backward(c, h):
        g, y = c.saved
        dim, scale = c.attrs.get("dim", -1), c.attrs.get("scale", 1.0)
        causal = c.attrs.get("causal", False)
        dg = apply(SoftmaxBackward, h, y, dim=dim, scale=scale, causal=causal) \
            if c.next[0] is not None else None
        dy = None
        if c.next[1] is not None:
            s = (g * y).sum(dim, keepdim=True)
            hy = (h * y).sum(dim, keepdim=True)
            dy = h * (g - s) - g * hy
            if scale != 1.0:
                dy = dy * scale
        return dg, dy


@register
class Softmax(Op):
    """softmax(x * scale + mask) along dim; ``causal`` masks keys j > query i over the last
    two dims (is_causal attention). Rows of -inf give NaN, as torch."""
    name, kind, onnx = "softmax", "reduce", _softmax_onnx("Softmax")
    row_kernel = "softmax"
    saves = "output"

    @staticmethod
    def forward(xp, x, *, dim=-1, scale=1.0, causal=False):
        if x.ndim == 0:
            return xp.ones_like(x)
        dim = dim % x.ndim
        neg = None
        if not causal or x.ndim >= 2:
            fn, (x2,), rows, n = _c_last("softmax", xp, dim, x)
            if fn is not None:
                out = np.empty(x2.shape, np.float32)
                fn(address(x2), address(out), rows, n, _causal_rows(x.shape, causal),
                   scale)
                return out
        if causal and xp is np and x.size and dim == x.ndim - 1:
            return _causal_softmax(x, scale)
        if causal:
            neg = _causal_neg(x.shape[-2], x.shape[-1], x.dtype)
            if xp is not np:
                neg = xp.asarray(neg)
        with fp_quiet():
            return _rowwise(_softmax_fn(xp, scale, neg), xp, dim, _tail(x.shape, causal), x.shape,
                            x.dtype, x)

    # d/dx = scale y (g - sum(g y)); masked positions have y = 0 and get no gradient
    @staticmethod
    def backward(c, g):
        a = c.attrs
        # y is zero above the diagonal of a causal softmax: its backward skips that part
        return (apply(SoftmaxBackward, g, c.out, dim=a.get("dim", -1), scale=a.get("scale", 1.0),
                      causal=a.get("causal", False)),)


# ----------------------------------------------------------------------------- log_softmax
def _log_softmax_fn(x, axis):
    z = x - x.max(axis, keepdims=True)
    s = np.exp(z).sum(axis, keepdims=True)
    np.log(s, out=s)
    z -= s
    return z


def _log_softmax_bwd_fn(g, y, axis):
    # g - exp(y) sum(g)
    e = np.exp(y)
    e *= g.sum(axis, keepdims=True)
    return g - e


@register
class LogSoftmaxBackward(Op):
    """g - exp(y) * sum(g, dim) for upstream g and log_softmax output y."""
    name, kind, onnx = "log_softmax_backward", "reduce", None
    row_kernel = "log_softmax_backward"

    @staticmethod
    def forward(xp, g, y, *, dim=-1):
        dim = dim % y.ndim if y.ndim else 0
        fn, (g2, y2), rows, n = _c_last("log_softmax_bwd", xp, dim, g, y)
        if fn is not None:
            out = np.empty(y2.shape, np.float32)
            fn(address(g2), address(y2), address(out), rows, n)
            return out
        if xp is not np:
            return g - xp.exp(y) * g.sum(dim, keepdims=True)
        with np.errstate(invalid="ignore"):
            return _rowwise(_log_softmax_bwd_fn, xp, dim, _tail(y.shape, False), y.shape,
                            np.result_type(g, y), g, y)

    # out = g - e S, e = exp(y), S = sum(g). With upstream h:
    #   d/dg = h - sum(h e),  d/dy = -h e S
    @staticmethod
    def backward(c, h):
        g, y = c.saved
        dim = c.attrs.get("dim", -1)
        dg = dy = None
        he = h * y.exp()
        if c.next[0] is not None:
            dg = h - he.sum(dim, keepdim=True)
        if c.next[1] is not None:
            dy = -(he * g.sum(dim, keepdim=True))
        return dg, dy


@register
class LogSoftmax(Op):
    """x - max - log(sum(exp(x - max))) along dim."""
    name, kind, onnx = "log_softmax", "reduce", _softmax_onnx("LogSoftmax")
    row_kernel = "log_softmax"
    saves = "output"

    @staticmethod
    def forward(xp, x, *, dim=-1):
        if x.ndim == 0:
            return xp.zeros_like(x)
        dim = dim % x.ndim
        fn, (x2,), rows, n = _c_last("log_softmax", xp, dim, x)
        if fn is not None:
            out = np.empty(x2.shape, np.float32)
            fn(address(x2), address(out), rows, n)
            return out
        if xp is not np:
            z = x - x.max(dim, keepdims=True)
            return z - xp.log(xp.exp(z).sum(dim, keepdims=True))
        with np.errstate(invalid="ignore", divide="ignore"):
            return _rowwise(_log_softmax_fn, xp, dim, _tail(x.shape, False), x.shape, x.dtype,
                            x)

    # d/dx = g - exp(y) sum(g)
    @staticmethod
    def backward(c, g):
        return (apply(LogSoftmaxBackward, g, c.out, dim=c.attrs.get("dim", -1)),)


# ----------------------------------------------------------------------------- cross entropy
def _c_cross_entropy(xp, g, x, t, ignore_index):
    """Cross entropy's float32 C kernel (g None: the per-row losses, else the (N, C)
    gradient), or None: the NumPy form runs (other dtypes, no compiler, and targets out of
    range, whose IndexError the NumPy form raises)."""
    if xp is not np or x.dtype != np.float32 or t.dtype != np.int64 or x.ndim != 2 or \
            t.shape != x.shape[:1] or x.size == 0 or \
            (g is not None and (g.dtype != np.float32 or g.shape != t.shape)):
        return None
    x, t, g = (ckernels_rows.contiguous(a) for a in (x, t, g))
    fn = ckernels_rows.kernel("cross_entropy", x, g)
    if fn is None:
        return None
    out = np.empty(x.shape if g is not None else x.shape[:1], np.float32)
    bad = np.empty(x.shape[0], np.int8)
    fn(address(x), address(t), ckernels_rows.ptr(g), address(out), address(bad),
       x.shape[0], x.shape[1], int(ignore_index))
    return None if bad.any() else out


def _lse_rows(x):
    """log(sum(exp(x))) per row of a 2-d array, blocked."""
    n, C = x.shape
    out = np.empty(n, dtype=x.dtype)
    step = max(1, _CHUNK // max(C, 1))
    for i in range(0, n, step):
        b = x[i:i + step]
        m = b.max(1, keepdims=True)
        z = b - m
        np.exp(z, out=z)
        s = z.sum(1)
        np.log(s, out=s)
        out[i:i + step] = s + m[:, 0]
    return out


@register
class CrossEntropyBackward(Op):
    """(softmax(x) - one_hot(t)) * g[:, None] on rows whose target is not ignore_index, else 0
    (x: (N, C) logits, t: (N,) class indices, g: (N,) upstream)."""
    name, kind, onnx = "cross_entropy_backward", "reduce", None
    row_kernel = "cross_entropy_backward"

    @staticmethod
    def forward(xp, g, x, t, *, ignore_index=-100):
        out = _c_cross_entropy(xp, g, x, t, ignore_index)
        if out is not None:
            return out
        keep = t != ignore_index
        ts = xp.where(keep, t, 0)
        gk = xp.where(keep, g, 0).astype(x.dtype)
        n, C = x.shape
        if xp is not np:
            p = xp.exp(x - x.max(1, keepdims=True))
            p /= p.sum(1, keepdims=True)
            p[xp.arange(n), ts] -= 1
            return p * gk[:, None]
        out = np.empty(x.shape, dtype=np.result_type(g, x))
        step = max(1, _CHUNK // max(C, 1))
        for i in range(0, n, step):
            p = x[i:i + step] - x[i:i + step].max(1, keepdims=True)
            np.exp(p, out=p)
            p *= (gk[i:i + step] / p.sum(1))[:, None]
            p[np.arange(p.shape[0]), ts[i:i + step]] -= gk[i:i + step]
            out[i:i + step] = p
        return out

    # out = gk (p - e_t), p = softmax(x), gk = g * keep. With upstream h:
    #   d/dg = keep (sum(h p) - h[t]),  d/dx = gk p (h - sum(h p)) = gk softmax_backward(h, p)
    @staticmethod
    def backward(c, h):
        g, x, t = c.saved
        ii = c.attrs.get("ignore_index", -100)
        keep = (t != ii).to(x.dtype)
        p = apply(Softmax, x, dim=1)
        dg = dx = None
        if c.next[0] is not None:
            ts = where(t != ii, t, 0)
            ht = gather(h, 1, ts.unsqueeze(1)).squeeze(1)
            dg = ((h * p).sum(1) - ht) * keep
        if c.next[1] is not None:
            dx = apply(SoftmaxBackward, h, p, dim=1) * (g * keep).unsqueeze(1)
        return dg, dx, None


@register
class CrossEntropy(Op):
    autocast = "fp32"
    """Per-sample cross entropy of (N, C) logits against (N,) class indices:
    logsumexp(x_n) - x_n[t_n], and 0 where t_n == ignore_index."""
    name, kind, onnx = "cross_entropy", "reduce", None
    row_kernel = "cross_entropy"

    @staticmethod
    def forward(xp, x, t, *, ignore_index=-100):
        out = _c_cross_entropy(xp, None, x, t, ignore_index)
        if out is not None:
            return out
        keep = t != ignore_index
        ts = xp.where(keep, t, 0)
        n = x.shape[0]
        if xp is not np:
            m = x.max(1, keepdims=True)
            lse = xp.log(xp.exp(x - m).sum(1)) + m[:, 0]
        else:
            lse = _lse_rows(x)
        loss = lse - x[xp.arange(n), ts]
        return xp.where(keep, loss, 0).astype(x.dtype, copy=False)

    # d/dx = g (softmax(x) - one_hot(t)) on kept rows
    @staticmethod
    def backward(c, g):
        x, t = c.saved
        ii = c.attrs.get("ignore_index", -100)
        return apply(CrossEntropyBackward, g, x, t, ignore_index=ii), None


# ----------------------------------------------------------------------------- nll loss
def _nll_rows(x, t):
    """(x as (N, C), t as (N,)) of nll_loss's input (C,) or (N, C) and target () or (N,)."""
    return (x.reshape(1, -1) if x.ndim == 1 else x), t.reshape(-1)


@register
class NllLoss(Op):
    """nll_loss of (N, C) (or (C,)) log-probabilities against class indices, without class
    weights, its reduction folded in: -x[n, t_n] per sample (0 where t_n == ignore_index),
    summed ('sum'), divided by the count of the other targets ('mean': NaN when there is none,
    its gradient 0), or as it is ('none'). F.nll_loss's eager path: one op where the composite
    records three or more (the same values: -p summed is -(sum p), the quotient by -count the
    composite's). Targets are checked by the caller."""
    name, kind, onnx = "nll_loss", "library", None

    @staticmethod
    def forward(xp, x, t, *, reduction="mean", ignore_index=-100):
        x2, t2 = _nll_rows(x, t)
        keep = t2 != ignore_index
        every = bool(keep.all())
        picked = x2[xp.arange(t2.shape[0]), t2 if every else xp.where(keep, t2, 0)]
        if reduction == "none":
            loss = -picked if every else xp.where(keep, -picked, 0).astype(x.dtype, copy=False)
            return loss.reshape(t.shape)
        if not every:
            picked = xp.where(keep, picked, 0).astype(x.dtype, copy=False)
        s = xp.add.reduce(picked) if xp is np else picked.sum()
        if reduction == "sum":
            return -s
        count = t2.shape[0] if every else int(keep.sum())
        if count == 0:
            return xp.asarray(np.nan, dtype=x.dtype)
        return xp.divide(s, xp.asarray(-count, dtype=x.dtype))

    # d/dx = the per-sample factors (-g, or -g / count for 'mean') at [n, t_n]
    @staticmethod
    def backward(c, g):
        x, t = c.saved
        red, ii = c.attrs.get("reduction", "mean"), c.attrs.get("ignore_index", -100)
        if red == "mean":
            count = int((t._data != ii).sum())
            v = g / -float(max(count, 1))
        else:
            v = -g
        return apply(NllLossBackward, v, t, classes=int(x.shape[-1]), ndim=x.ndim,
                     ignore_index=ii), None


@register
class NllLossBackward(Op):
    """NllLoss's input gradient: zeros of the input's shape (``ndim`` 1 or 2, ``classes``
    columns) holding ``v`` (per sample, or one value for all) at [n, t_n] for the targets
    t_n != ignore_index. Linear in ``v``: its gradient is the entries at those places."""
    name, kind, onnx = "nll_loss_backward", "library", None

    @staticmethod
    def forward(xp, v, t, *, classes, ndim, ignore_index=-100):
        t2 = t.reshape(-1)
        n = t2.shape[0]
        out = xp.zeros((n, classes), dtype=v.dtype)
        keep = t2 != ignore_index
        rows = xp.arange(n)
        vals = v.reshape(-1) if v.ndim else v
        if not bool(keep.all()):
            rows, t2 = rows[keep], t2[keep]
            vals = vals[keep] if v.ndim else vals
        out[rows, t2] = vals
        return out if ndim == 2 else out.reshape(classes)

    # v's gradient: h[n, t_n] at the kept targets (0 elsewhere), summed when v is one value
    @staticmethod
    def backward(c, h):
        v, t = c.saved
        ii = c.attrs.get("ignore_index", -100)
        red = "none" if v.ndim else "sum"
        return -apply(NllLoss, h, t, reduction=red, ignore_index=ii), None
