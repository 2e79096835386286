"""Scaled dot-product attention as one primitive: softmax(scale Q K^T + mask) V for float32
CPU tensors, with a backward primitive giving dQ, dK and dV from one pass.

The composite (cadenza/functional/attention.py) records two batched GEMMs (one small BLAS
call per head each, each waking OpenBLAS's threads), a softmax and their backward rules, with
(..., L, S) scores and probabilities between them, and computes the masked triangle. Measured
on W1's attention (B=16, H=4, T=128, E=64, causal) on a loaded 2-core VM, forward and
backward: composite 2.9 s, PyTorch 0.31 s, this primitive 0.095 s (one run, interleaved).
Here the C kernels of backend/ckernels.py compute each (batch, head) block by block with the
scores in cache, skip the masked triangle, and backward recomputes the probabilities instead
of keeping them. Without the kernels (no C compiler, a CuPy array) forward and backward run
the same formulas in NumPy/CuPy.

Float32 results are within rounding of the composite; F.scaled_dot_product_attention keeps
the composite for float64 (bit for bit as before), dropout, a mask that requires a gradient
and batch dims that broadcast between query, key and value. Higher-order gradients: under
``create_graph`` the backward rule is written in Tensor ops (the same formulas), so they work.
"""
from __future__ import annotations

import math

import numpy as np

from ._registry import Op, register, apply
from .._dispatch import state as _state
from ..backend import ckernels
from .elementwise import where
from .linalg import matmul
from .softmax_fused import Softmax, SoftmaxBackward, _causal_neg
from ..backend.cpu import address

__all__: list = []   # primitives only, used through fused_attention


def _repeat_heads(xp, a, rep):
    """(..., Hk, S, E) -> (..., Hk*rep, S, E), each head repeated for its query group."""
    return a if rep == 1 else xp.repeat(a, rep, axis=-3)


def _masked_scores(xp, q, k, mask, scale, causal):
    """scale Q K^T with the causal or additive mask, as the composite forms them."""
    s = xp.matmul(q, xp.swapaxes(k, -1, -2)) * q.dtype.type(scale)
    if causal:
        s += _causal_neg(s.shape[-2], s.shape[-1], s.dtype) if xp is np else \
            xp.asarray(_causal_neg(s.shape[-2], s.shape[-1], s.dtype))
    elif mask is not None:
        s = s + _additive(xp, mask, s.dtype)
    return s


def _additive(xp, mask, dtype):
    """A bool mask (True = takes part) as 0 / -inf; a float mask in ``dtype``."""
    if mask.dtype == np.bool_:
        return xp.where(mask, dtype.type(0), dtype.type(-np.inf))
    return mask.astype(dtype, copy=False)


def _probs(xp, q, k, mask, scale, causal):
    """softmax rows of the masked scores; all-masked rows are zeros (torch's math backend)."""
    s = _masked_scores(xp, q, k, mask, scale, causal)
    m = s.max(-1, keepdims=True)
    m = xp.where(xp.isinf(m), m.dtype.type(0), m)
    with np.errstate(invalid="ignore", over="ignore"):
        e = xp.exp(s - m)
    d = e.sum(-1, keepdims=True)
    return e / xp.where(d == 0, d.dtype.type(1), d)


def _rep(q, k):
    return q.shape[-3] // k.shape[-3] if q.ndim >= 3 else 1


_OFFSETS: dict = {}   # (shape, strides, batch, rep) -> (offsets, row stride): per model, few


def _layout(a, batch, rep=1):
    """``a`` (its batch dims broadcast to ``batch``) as the kernels read it: the element
    offset of each batch matrix (flat int64, each repeated ``rep`` times: a key/value head for
    its query group) and its row stride; rows contiguous (else a copy)."""
    isz = a.itemsize
    st = a.strides
    if (a.shape[-1] > 1 and st[-1] != isz) or any(s % isz for s in st):
        a = np.ascontiguousarray(a)
        st = a.strides
    key = (a.shape, st, batch, rep)
    got = _OFFSETS.get(key)
    if got is None:
        b = np.broadcast_to(a, tuple(batch) + a.shape[-2:])
        off = np.zeros(tuple(batch), np.int64)
        for d, n in enumerate(batch):
            off += (np.arange(n, dtype=np.int64) * (b.strides[d] // isz)).reshape(
                (n,) + (1,) * (len(batch) - d - 1))
        off = off.reshape(-1)
        if rep > 1:
            off = np.repeat(off, rep)
        got = (off, b.strides[-2] // isz if b.shape[-2] > 1 else 0, address(off))
        if len(_OFFSETS) > 256:
            _OFFSETS.clear()
        _OFFSETS[key] = got
    return (a,) + got


def _kernel_args(q, k, v, mask):
    """The operands with their per-head offsets, row strides and offsets' addresses for the C
    kernels (key/value offsets repeated over each query group), and the mask (additive float32,
    broadcast to (..., L, S) in its own batch dims only)."""
    batch, L, S = q.shape[:-2], q.shape[-2], k.shape[-2]
    rep = _rep(q, k)
    m = (None, None, 0, None)
    if mask is not None:
        a = _additive(np, mask, np.dtype(np.float32))
        a = a.reshape((1,) * (len(batch) + 2 - a.ndim) + a.shape)
        a = np.broadcast_to(a, a.shape[:-2] + (L, S))
        if a.strides[-1] != 4 and S > 1:
            a = np.ascontiguousarray(a)
        m = _layout(a, batch)
    return (_layout(q, batch), _layout(k, k.shape[:-2], rep), _layout(v, v.shape[:-2], rep),
            m, rep)


def _kernels(*arrays):
    """The float32 kernels when every operand suits them, else None."""
    if not all(type(a) is np.ndarray and a.dtype == np.float32 for a in arrays):
        return None
    return ckernels.attention_kernels()


def _forward(xp, q, k, v, mask=None, *, scale=1.0, causal=False):
    fns = _kernels(q, k, v) if xp is np else None
    if fns is None:
        rep = _rep(q, k)
        p = _probs(xp, q, _repeat_heads(xp, k, rep), mask, scale, causal)
        return xp.matmul(p, _repeat_heads(xp, v, rep))
    L, Dv = q.shape[-2], v.shape[-1]
    # the offset arrays (second items) stay referenced until the kernel returns: the C code
    # reads them through their addresses, and _OFFSETS may have dropped them meanwhile
    (q, qoff, qs, qo), (k, koff, ks, ko), (v, voff, vs, vo), (m, moff, ms, mo), _ = \
        _kernel_args(q, k, v, mask)
    out = np.empty(q.shape[:-2] + (L, Dv), np.float32)
    fns[0](address(q), address(k), address(v), ckernels.ptr(m), address(out), qo,
           ko, vo, mo, math.prod(q.shape[:-2]), L, k.shape[-2], q.shape[-1], Dv, qs, ks, vs,
           ms, scale, int(causal))
    del qoff, koff, voff, moff      # (alive until here)
    return out


def merges(q_shape, k_shape, v_shape) -> bool:
    """Whether the backward can write its gradients ``merged``: q, k, v of one shape (B, H,
    L, D), the heads of one (B, L, 3, H, D) projection."""
    return len(q_shape) == 4 and tuple(q_shape) == tuple(k_shape) == tuple(v_shape)


def _merged_views(xp, flat, shape):
    """dq, dk, dv (B, H, L, D) as views of ``flat`` laid out as (B, L, 3, H, D)."""
    B, H, L, D = shape
    m = flat.reshape(B, L, 3, H, D)
    return [xp.swapaxes(m[:, :, i], 1, 2) for i in range(3)]


def _backward(xp, g, q, k, v, mask=None, *, scale=1.0, causal=False, merged=False):
    """(dq, dk, dv) flattened into one array (one output per primitive). ``merged``
    (``merges``: set by graph/passes/combine_padded_sums.py, never in eager): the array is
    the (B, L, 3, H, D) gradient of the projection q, k and v are the heads of, each element
    x + 0 as the sum of their padded gradients would give it."""
    if merged and not merges(q.shape, k.shape, v.shape):
        raise ValueError(f"scaled_dot_product_attention_backward: merged gradients need q, k "
                         f"and v of one 4-d shape, got {q.shape}, {k.shape}, {v.shape}")
    fns = _kernels(q, k, v, g) if xp is np else None
    rep = _rep(q, k)
    if fns is None:
        kr, vr = _repeat_heads(xp, k, rep), _repeat_heads(xp, v, rep)
        p = _probs(xp, q, kr, mask, scale, causal)
        dv = xp.matmul(xp.swapaxes(p, -1, -2), g)
        dp = xp.matmul(g, xp.swapaxes(vr, -1, -2))
        ds = p * (dp - (p * dp).sum(-1, keepdims=True)) * p.dtype.type(scale)
        dq, dk = xp.matmul(ds, kr), xp.matmul(xp.swapaxes(ds, -1, -2), q)
        if rep > 1:
            dk = dk.reshape(k.shape[:-3] + (k.shape[-3], rep) + dk.shape[-2:]).sum(-3)
            dv = dv.reshape(v.shape[:-3] + (v.shape[-3], rep) + dv.shape[-2:]).sum(-3)
        if merged:
            return (xp.stack([xp.swapaxes(d, 1, 2) for d in (dq, dk, dv)], axis=2) +
                    dq.dtype.type(0)).reshape(-1)
        return xp.concatenate([dq.reshape(-1), dk.reshape(-1), dv.reshape(-1)])
    L, S, D, Dv = q.shape[-2], k.shape[-2], q.shape[-1], v.shape[-1]
    # the offset arrays (second items) stay referenced until the kernel returns (as forward)
    (q, qoff, qs, qo), (k, koff, ks, ko), (v, voff, vs, vo), (m, moff, ms, mo), rep = \
        _kernel_args(q, k, v, mask)
    g, goff, gs, go = _layout(g, q.shape[:-2])  # a transposed view as the model's is read as is
    bh = math.prod(q.shape[:-2])
    nq, nk = bh * L * D, bh // rep * S * D
    flat = np.empty(nq + nk + bh // rep * S * Dv, np.float32)
    if merged:
        outs = _merged_views(np, flat, q.shape)
    else:
        outs = [flat[:nq].reshape(q.shape), flat[nq:nq + nk].reshape(k.shape),
                flat[nq + nk:].reshape(v.shape)]
    # each gradient's per-head offsets and row stride (rows contiguous: no copies)
    (dq, dqoff, dqs, dqo), (dk, dkoff, dks, dko), (dv, dvoff, dvs, dvo) = (
        _layout(o, o.shape[:-2]) for o in outs)
    fns[1](address(q), address(k), address(v), ckernels.ptr(m), address(g), address(dq),
           address(dk), address(dv), qo, ko, vo, mo, go, dqo, dko, dvo, bh, rep, L, S, D, Dv,
           qs, ks, vs, ms, gs, dqs, dks, dvs, scale, int(causal))
    del qoff, koff, voff, moff, goff, dqoff, dkoff, dvoff      # (alive until here)
    return flat


def _split(flat, q, k, v):
    """The packed (dq, dk, dv) of _backward as three tensors."""
    nq, nk = q.numel(), k.numel()
    return (flat[:nq].reshape(q.shape), flat[nq:nq + nk].reshape(k.shape),
            flat[nq + nk:].reshape(v.shape))


def _grads_in_tensor_ops(g, q, k, v, mask, scale, causal, need):
    """The backward formulas in Tensor ops (differentiable: create_graph's higher orders)."""
    rep = _rep(q, k)
    kr = k if rep == 1 else k.repeat_interleave(rep, dim=-3)
    vr = v if rep == 1 else v.repeat_interleave(rep, dim=-3)
    s = matmul(q, kr.mT)
    if mask is None:
        p = apply(Softmax, s, dim=-1, scale=float(scale), causal=bool(causal))
    else:
        add = where(mask, 0.0, -math.inf).to(s.dtype) if mask.dtype.name == "bool" else \
            mask.to(s.dtype)
        z = s * scale + add
        mx = z.detach().amax(-1, keepdim=True)
        e = (z - where(mx.isinf(), 0.0, mx)).exp()
        den = e.sum(-1, keepdim=True)
        p = e / where(den == 0, 1.0, den)
    ds = apply(SoftmaxBackward, matmul(g, vr.mT), p, dim=-1, scale=float(scale),
               causal=bool(causal))
    dq = matmul(ds, kr) if need[0] else None
    dk = matmul(ds.mT, q) if need[1] else None
    dv = matmul(p.mT, g) if need[2] else None
    if rep > 1:
        dk, dv = (None if d is None else
                  d.reshape(*d.shape[:-3], d.shape[-3] // rep, rep, *d.shape[-2:]).sum(-3)
                  for d in (dk, dv))
    return dq, dk, dv


@register
class ScaledDotProductAttention(Op):
    """softmax(scale q k^T + mask) v for q (..., Hq, L, E), k (..., Hk, S, E), v (..., Hk, S,
    Ev) with Hq a multiple of Hk (grouped-query heads), equal other batch dims; mask None or
    bool (True = takes part) / float (added), broadcast to (..., L, S); causal: key j <= i."""
    name, kind = "scaled_dot_product_attention", "library"
    forward = staticmethod(_forward)

    @staticmethod
    def onnx(ctx, node, out):
        """MatMul, Mul by the scale, the mask (Trilu for causal) and Softmax, MatMul. Rows whose
        keys are all masked give zeros as in eager (any NaN row of a masked Softmax does)."""
        q, k, v, mask = (list(node.inputs) + [None])[:4]
        a = node.attrs
        dt = node.out.dtype
        nd = len(q.shape)
        names = [ctx.name(k), ctx.name(v)]
        if nd >= 3 and k.shape[-3] != q.shape[-3]:    # grouped-query heads: repeat k and v's
            if ctx.dims is not None:
                raise ctx.Unsupported("grouped-query attention with dynamic axes")
            rep = q.shape[-3] // k.shape[-3]
            for i, x in enumerate((k, v)):
                shp = list(x.shape)
                u = ctx.node("Unsqueeze", [names[i], ctx.i64([nd - 2])])
                e = ctx.node("Expand", [u, ctx.i64(shp[:-2] + [rep] + shp[-2:])])
                names[i] = ctx.node("Reshape", [e, ctx.i64(shp[:-3] + [shp[-3] * rep] +
                                                          shp[-2:])])
        perm = list(range(nd))
        perm[-2], perm[-1] = perm[-1], perm[-2]
        s = ctx.node("MatMul", [ctx.name(q), ctx.node("Transpose", [names[0]], perm=perm)])
        s = ctx.node("Mul", [s, ctx.const(np.asarray(a["scale"], dt))])
        if a["causal"]:
            size = ctx.node("Shape", [s], start=nd - 2)
            ones = ctx.node("Expand", [ctx.const(np.asarray(1.0, dt)), size])
            keep = ctx.node("Cast", [ctx.node("Trilu", [ones], upper=0)], to=9)
            s = ctx.node("Where", [keep, s, ctx.const(np.asarray(-np.inf, dt))])
        elif ctx.is_value(mask):
            if mask.dtype == np.bool_:
                s = ctx.node("Where", [ctx.name(mask), s, ctx.const(np.asarray(-np.inf, dt))])
            else:
                m = ctx.name(mask)
                if mask.dtype != dt:
                    m = ctx.node("Cast", [m], to=1 if dt == np.float32 else 11)
                s = ctx.node("Add", [s, m])
        p = ctx.node("Softmax", [s], axis=-1)
        if ctx.is_value(mask):   # rows with every key masked: zeros, not Softmax's NaNs
            p = ctx.node("Where", [ctx.node("IsNaN", [p]), ctx.const(np.asarray(0.0, dt)), p])
        ctx.node("MatMul", [p, names[1]], out)

    @staticmethod
    def backward(c, g):
        q, k, v, mask = c.saved
        scale, causal = c.attrs["scale"], c.attrs["causal"]
        need = [c.next[i] is not None for i in range(3)]
        if _state.grad_enabled:      # create_graph: a backward that is itself differentiable
            return _grads_in_tensor_ops(g, q, k, v, mask, scale, causal, need) + (None,)
        flat = apply(ScaledDotProductAttentionBackward, g, q, k, v, mask, scale=scale,
                     causal=causal)
        dq, dk, dv = _split(flat, q, k, v)
        return (dq if need[0] else None, dk if need[1] else None, dv if need[2] else None,
                None)


@register
class ScaledDotProductAttentionBackward(Op):
    """(dq, dk, dv) of ScaledDotProductAttention for upstream g, flattened into one array.
    Not differentiable: under create_graph the forward's backward uses Tensor ops instead."""
    name, kind, onnx = "scaled_dot_product_attention_backward", "library", None
    differentiable = False
    forward = staticmethod(_backward)


# keys per head the kernels take: each thread holds (64 query rows + head dims) x S floats
MAX_KEYS = 1 << 16


def fused_attention(query, key, value, attn_mask, scale: float, is_causal: bool):
    """The primitive where it serves the call (float32 NumPy tensors and the kernels built,
    no dropout handled by the caller, equal batch dims or grouped-query heads, a mask that
    needs no gradient, no autocast region: its GEMMs lower the precision), else None: the
    caller runs the composite."""
    q = query._data
    if type(q) is not np.ndarray or q.dtype != np.float32 or q.size == 0 or \
            not 0 < key.shape[-2] <= MAX_KEYS or _state.autocast is not None or \
            ckernels.attention_kernels() is None:
        return None
    if query.ndim != key.ndim or query.shape[:-3] != key.shape[:-3] or \
            key.shape[:-2] != value.shape[:-2]:
        return None
    if query.ndim >= 3 and query.shape[-3] != key.shape[-3] and (
            key.shape[-3] == 0 or query.shape[-3] % key.shape[-3]):
        return None
    if attn_mask is not None:
        if attn_mask.requires_grad or type(attn_mask._data) is not np.ndarray or \
                attn_mask.ndim > query.ndim or attn_mask.ndim == 0:
            return None
        try:
            np.broadcast_shapes(tuple(attn_mask.shape), tuple(query.shape[:-1]) +
                                (key.shape[-2],))
        except ValueError:
            return None
    return apply(ScaledDotProductAttention, query, key, value, attn_mask, scale=float(scale),
                 causal=bool(is_causal))
