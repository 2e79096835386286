"""Scaled dot-product attention (Vaswani et al., 2017) as a composite over matmul and softmax."""
from __future__ import annotations

import math

import numpy as np

from .. import ops
from ..ops._registry import apply
from ..ops.softmax_fused import Softmax
from .._creation import _created
from .._tensor_base import TensorBase as Tensor, _make
from ..errors import ShapeError, DTypeError, fmt_shape
from .dropout import dropout

__all__ = ["scaled_dot_product_attention"]


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
    L, S = query.shape[-2], key.shape[-2]
    if scale is None:
        scale = 1.0 / math.sqrt(query.shape[-1])
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
