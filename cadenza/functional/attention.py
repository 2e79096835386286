"""Scaled dot-product attention (Vaswani et al., 2017): float32 CPU tensors run the fused
primitive of ops/attention.py, everything else (float64, dropout, a mask that needs a gradient,
batch dims that broadcast, CuPy) a composite over matmul and softmax; and
multi_head_attention_forward (the computation of nn.MultiheadAttention)."""
from __future__ import annotations

import math

import numpy as np

from .. import ops
from ..ops._registry import apply
from ..ops.softmax_fused import Softmax
from ..ops.attention import fused_attention
from .._creation import _created
from .._tensor_base import TensorBase as Tensor, _make
from ..errors import ShapeError, DTypeError, fmt_shape
from .conv import linear
from ..autograd.node import relabel
from .dropout import dropout
from .activation import softmax
from .._creation import zeros as _zeros

__all__ = ["scaled_dot_product_attention", "multi_head_attention_forward"]


def _check(q, k, v, attn_mask, is_causal, enable_gqa):
    for name, t in (("query", q), ("key", k), ("value", v)):
        if not isinstance(t, Tensor):
            raise TypeError(f"scaled_dot_product_attention: expected {name} to be a Tensor, got "
                            f"{type(t).__name__}")
        if t.ndim < 2:
            raise ShapeError(f"scaled_dot_product_attention: expected {name} (..., L, E) with at "
                             f"least 2 dims, got {fmt_shape(t.shape)}")
        if not t.is_floating_point():
            raise DTypeError(f"scaled_dot_product_attention: expected floating {name}, got "
                             f"{t.dtype.name}")
    if q.dtype is not k.dtype or q.dtype is not v.dtype:
        raise DTypeError(f"scaled_dot_product_attention: expected query, key and value of one "
                         f"dtype, got {q.dtype.name}, {k.dtype.name}, {v.dtype.name}")
    if q.shape[-1] != k.shape[-1]:
        raise ShapeError(f"scaled_dot_product_attention: expected query.shape[-1] == "
                         f"key.shape[-1], got query {fmt_shape(q.shape)} and key "
                         f"{fmt_shape(k.shape)}")
    if k.shape[-2] != v.shape[-2]:
        raise ShapeError(f"scaled_dot_product_attention: expected key.shape[-2] == "
                         f"value.shape[-2], got key {fmt_shape(k.shape)} and value "
                         f"{fmt_shape(v.shape)}")
    if is_causal and attn_mask is not None:
        raise RuntimeError("scaled_dot_product_attention: Explicit attn_mask should not be set "
                           "when is_causal=True (give one or the other)")
    if attn_mask is not None and attn_mask.dtype.name != "bool" and \
            attn_mask.dtype is not q.dtype and not attn_mask.is_floating_point():
        raise RuntimeError(f"scaled_dot_product_attention: Expected attn_mask dtype to be bool "
                           f"or float or to match query dtype, got {attn_mask.dtype.name}")
    if enable_gqa and q.ndim >= 3 and k.ndim >= 3:
        hq, hk = q.shape[-3], k.shape[-3]
        if hk == 0 or hq % hk or v.shape[-3] != hk:
            raise ShapeError(f"scaled_dot_product_attention: expected query heads ({hq}) to be "
                             f"a multiple of key/value heads, got key {fmt_shape(k.shape)} and "
                             f"value {fmt_shape(v.shape)}")


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor,
                                 attn_mask: Tensor | None = None, dropout_p: float = 0.0,
                                 is_causal: bool = False, scale: float | None = None,
                                 enable_gqa: bool = False) -> Tensor:
    """softmax(Q K^T * scale + mask) V, scale = 1 / sqrt(E) by default.

    attn_mask: bool (True = the position takes part) or float (added to the scores), broadcast
    to (..., L, S). is_causal masks the upper triangle (query i sees keys j <= i). enable_gqa
    repeats each key/value head for its group of query heads. Rows whose keys are all masked
    give zeros (as torch's math backend), not NaN.

    >>> q = cadenza.randn(1, 2, 4, 8)
    >>> scaled_dot_product_attention(q, q, q, is_causal=True).shape
    cadenza.Size([1, 2, 4, 8])
    """
    _check(query, key, value, attn_mask, is_causal, enable_gqa)
    out = _attention(query, key, value, attn_mask, dropout_p, is_causal, scale, enable_gqa)
    if query.ndim == 4 and dropout_p == 0.0 and (attn_mask is None or
                                                 not attn_mask.requires_grad):
        # torch's CPU flash kernel: one node over query, key and value
        return relabel(_in_query_order(out, query),
                       "ScaledDotProductFlashAttentionForCpuBackward0", (query, key, value))
    return out


def _in_query_order(out: Tensor, query: Tensor) -> Tensor:
    """``out`` laid out in the query's memory order, as torch's CPU kernel for 4-d inputs
    (no dropout, a mask without gradient) returns it: heads split from a (B, L, H*D) projection
    give a (B, L, H, D)-ordered output, so ``out.transpose(1, 2).view(B, L, H*D)`` works as
    under torch. A query whose last dim is strided is read as a contiguous copy there, so its
    output is contiguous."""
    st = query._data.strides
    if query.shape[-1] > 1 and st[-1] != query._data.itemsize:
        return out
    big = [d for d in range(3) if query.shape[d] > 1]   # size-1 dims fit any order
    order = sorted(big, key=lambda d: -st[d])
    if order == big:
        return out
    perm = tuple(d for d in range(3) if query.shape[d] == 1) + tuple(order) + (3,)
    inverse = tuple(perm.index(d) for d in range(4))
    return out.permute(perm).contiguous().permute(inverse)


def _attention(query, key, value, attn_mask, dropout_p, is_causal, scale, enable_gqa):
    """The attention of scaled_dot_product_attention (checked arguments), contiguous."""
    L, S = query.shape[-2], key.shape[-2]
    if scale is None:
        scale = 1.0 / math.sqrt(query.shape[-1])
    if dropout_p == 0.0 and (enable_gqa or query.ndim < 3 or key.ndim < 3 or
                             query.shape[-3] == key.shape[-3]):
        # one primitive with C kernels for float32 CPU tensors (cadenza/ops/attention.py)
        out = fused_attention(query, key, value, attn_mask, scale, is_causal)
        if out is not None:
            return out
    if enable_gqa and query.ndim >= 3 and key.ndim >= 3 and key.shape[-3] != query.shape[-3]:
        rep = query.shape[-3] // key.shape[-3]
        key = key.repeat_interleave(rep, dim=-3)      # (..., Hq, S, E)
        value = value.repeat_interleave(rep, dim=-3)  # (..., Hq, S, Ev)
    dt = query._data.dtype
    if attn_mask is None and (dt == np.float32 or dt == np.float64):
        # one fused primitive for scale, causal mask and softmax (cadenza/ops/softmax_fused.py)
        scores = ops.matmul(query, key.transpose(-2, -1))  # (..., L, S)
        attn = apply(Softmax, scores, dim=-1, scale=float(scale), causal=bool(is_causal))
        if dropout_p > 0.0:
            attn = dropout(attn, dropout_p, training=True)
        return ops.matmul(attn, value)
    scores = ops.matmul(query, key.transpose(-2, -1)) * scale  # (..., L, S)
    masked = False
    if is_causal:
        # shape-only: a graph constant while compile traces, not a lifted input
        keep = _created(_make(np.tril(np.ones((L, S), dtype=bool))))
        scores = scores.masked_fill(~keep, -math.inf)
        masked = True
    elif attn_mask is not None:
        try:
            np.broadcast_shapes(tuple(attn_mask.shape), tuple(scores.shape))
        except ValueError:
            raise ShapeError(f"scaled_dot_product_attention: expected attn_mask to broadcast to "
                             f"(..., L, S) = {fmt_shape(scores.shape)}, got "
                             f"{fmt_shape(attn_mask.shape)}") from None
        if attn_mask.dtype.name == "bool":
            scores = ops.where(attn_mask, scores, -math.inf)
        else:
            scores = scores + attn_mask.to(scores.dtype)
        masked = True
    # softmax with m = max detached; a fully masked row has m = -inf: use 0 there so that
    # exp(-inf - 0) = 0 and the row becomes all zeros instead of NaN
    m = scores.detach().amax(-1, keepdim=True)
    if masked:
        m = ops.where(ops.isinf(m), 0.0, m)
    e = (scores - m).exp()
    denom = e.sum(-1, keepdim=True)
    if masked:
        denom = ops.where(denom == 0, 1.0, denom)
    attn = e / denom
    if dropout_p > 0.0:
        attn = dropout(attn, dropout_p, training=True)
    return ops.matmul(attn, value)


def _additive_mask(mask, dtype, what):
    """Bool masks (True = masked out) become -inf/0 additive masks; float masks pass."""
    if mask is None:
        return None
    if mask.dtype.name == "bool":
        return _zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill(mask, -math.inf)
    if not mask.is_floating_point():
        raise TypeError(f"MultiheadAttention: only bool and floating types of {what} are "
                        f"supported, got {mask.dtype}")
    return mask.to(dtype)


def multi_head_attention_forward(query: Tensor, key: Tensor, value: Tensor,
                                 embed_dim_to_check: int, num_heads: int, in_proj_weight,
                                 in_proj_bias, bias_k, bias_v, add_zero_attn: bool,
                                 dropout_p: float, out_proj_weight, out_proj_bias,
                                 training: bool = True, key_padding_mask=None,
                                 need_weights: bool = True, attn_mask=None,
                                 use_separate_proj_weight: bool = False, q_proj_weight=None,
                                 k_proj_weight=None, v_proj_weight=None, static_k=None,
                                 static_v=None, average_attn_weights: bool = True,
                                 is_causal: bool = False):
    """Multi-head attention of (L, N, E) queries over (S, N, E_k/E_v) keys and values (or
    unbatched (L, E)): input projections, optional bias_k/bias_v rows and a zero row,
    masks (bool: True = masked out, or additive floats), softmax attention per head, output
    projection. Returns ``(output, weights)`` (weights None unless need_weights).

    >>> E = 4
    >>> x = cadenza.randn(3, 2, E)
    >>> out, w = multi_head_attention_forward(
    ...     x, x, x, E, 2, cadenza.randn(3 * E, E), None, None, None, False, 0.0,
    ...     cadenza.randn(E, E), None)
    >>> out.shape, w.shape
    (cadenza.Size([3, 2, 4]), cadenza.Size([2, 3, 3]))
    """
    batched = query.ndim == 3
    if not batched:
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    L, N, E = query.shape
    if E != embed_dim_to_check:
        raise ShapeError(f"multi_head_attention_forward: was expecting embedding dimension "
                         f"of {embed_dim_to_check}, but got {E}")
    H = num_heads
    hd = E // H
    if hd * H != E:
        raise ShapeError(f"embed_dim {E} not divisible by num_heads {H}")
    if is_causal and attn_mask is None:
        raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use the "
                           "Transformer module method `generate_square_subsequent_mask` to "
                           "create this mask.")
    b = in_proj_bias
    if not use_separate_proj_weight and query is key and key is value:
        # self-attention: one (3E, E) projection, as torch's packed in-projection (one GEMM
        # forward and one per gradient instead of three, no weight slices to pad back)
        q, k, v = linear(query, in_proj_weight, b).chunk(3, -1)
    else:
        bq, bk, bv = (None, None, None) if b is None else (b[:E], b[E:2 * E], b[2 * E:])
        if use_separate_proj_weight:
            wq, wk, wv = q_proj_weight, k_proj_weight, v_proj_weight
        else:
            wq, wk, wv = in_proj_weight[:E], in_proj_weight[E:2 * E], in_proj_weight[2 * E:]
        q, k, v = linear(query, wq, bq), linear(key, wk, bk), linear(value, wv, bv)
    dt = q.dtype
    attn_mask = _additive_mask(attn_mask, dt, "attn_mask")
    kpm = _additive_mask(key_padding_mask, dt, "key_padding_mask")
    if bias_k is not None and bias_v is not None:
        if static_k is not None or static_v is not None:
            raise RuntimeError("bias cannot be added to static key/value.")
        k = ops.cat([k, bias_k.expand(1, N, E)], 0)
        v = ops.cat([v, bias_v.expand(1, N, E)], 0)
        attn_mask = None if attn_mask is None else ops.pad(attn_mask, (0, 1))
        kpm = None if kpm is None else ops.pad(kpm, (0, 1))
    q = q.reshape(L, N * H, hd).transpose(0, 1)                 # (N*H, L, hd)
    k = k.reshape(k.shape[0], N * H, hd).transpose(0, 1) if static_k is None else static_k
    v = v.reshape(v.shape[0], N * H, hd).transpose(0, 1) if static_v is None else static_v
    S = k.shape[1]
    if add_zero_attn:
        k = ops.cat([k, _zeros(N * H, 1, hd, dtype=dt, device=k.device)], 1)
        v = ops.cat([v, _zeros(N * H, 1, hd, dtype=dt, device=v.device)], 1)
        S += 1
        attn_mask = None if attn_mask is None else ops.pad(attn_mask, (0, 1))
        kpm = None if kpm is None else ops.pad(kpm, (0, 1))
    mask = None
    if attn_mask is not None:
        if attn_mask.ndim == 2:
            if tuple(attn_mask.shape) != (L, S):
                raise ShapeError(f"MultiheadAttention: expected attn_mask shape {(L, S)}, got "
                                 f"{fmt_shape(attn_mask.shape)}")
            mask = attn_mask.reshape(1, L, S)
        else:
            if tuple(attn_mask.shape) != (N * H, L, S):
                raise ShapeError(f"MultiheadAttention: expected attn_mask shape "
                                 f"{(N * H, L, S)}, got {fmt_shape(attn_mask.shape)}")
            mask = attn_mask
    if kpm is not None:
        if tuple(kpm.shape) != (N, S):
            raise ShapeError(f"MultiheadAttention: expected key_padding_mask shape {(N, S)}, "
                             f"got {fmt_shape(kpm.shape)}")
        kpm = kpm.reshape(N, 1, 1, S).expand(N, H, 1, S).reshape(N * H, 1, S)
        mask = kpm if mask is None else mask + kpm
    y = attn = None
    if not need_weights and not (dropout_p > 0.0 and training):
        # the fused primitive where it serves (float32 CPU; softmax(q k^T / sqrt(hd) + mask) v
        # within rounding of the composite below), as torch's fast path without weights
        y = fused_attention(q, k, v, mask, 1.0 / math.sqrt(hd), False)
    if y is None:
        scores = (q * (1.0 / math.sqrt(hd))) @ k.transpose(-2, -1)   # (N*H, L, S)
        if mask is not None:
            scores = scores + mask
        attn = softmax(scores, dim=-1)
        if dropout_p > 0.0 and training:
            attn = dropout(attn, p=dropout_p)
        y = attn @ v                                                  # (N*H, L, hd)
    out = y.transpose(0, 1).reshape(L * N, E)                         # (L*N, E)
    out = linear(out, out_proj_weight, out_proj_bias).reshape(L, N, E)
    weights = None
    if need_weights:
        weights = attn.reshape(N, H, L, S)
        if average_attn_weights:
            weights = weights.mean(1)                             # (N, L, S)
        if not batched:
            weights = weights.squeeze(0)
    return (out if batched else out.squeeze(1)), weights
