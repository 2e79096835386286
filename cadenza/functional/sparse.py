"""Embedding lookups and one-hot encoding."""
from __future__ import annotations

import numpy as np

from .. import ops
from .._creation import zeros, ones, tensor as _tensor
from .._tensor_base import TensorBase as Tensor
from ..dtypes import float64
from ..autograd.function import Function
from ..autograd.grad_mode import no_grad, state as grad_state
from .. import _tensor_base as _tb
from ..errors import ShapeError, DTypeError, fmt_shape
from ..ops.index import one_hot, checked_index, select_error
from .._trace_hooks import untraceable
from ..autograd.node import relabel

__all__ = ["embedding", "embedding_bag", "one_hot"]


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None,
              max_norm: float | None = None, norm_type: float = 2.0,
              scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Rows of ``weight`` (num_embeddings, dim) at the integer indices ``input``.

    padding_idx: that row's output gets no gradient. max_norm: rows looked up are first
    renormalised in place to norm <= max_norm (as torch). scale_grad_by_freq: each row's
    gradient is divided by how often it occurs in the batch.

    >>> embedding(cadenza.tensor([1, 0]), cadenza.eye(3))
    tensor([[0., 1., 0.],
            [1., 0., 0.]])
    """
    if not isinstance(input, Tensor) or input._data.dtype.kind not in "iu":
        dt = input.dtype.name if isinstance(input, Tensor) else type(input).__name__
        raise DTypeError(f"embedding: expected integer indices (int64 or int32), got {dt}")
    if weight.ndim != 2:
        raise ShapeError(f"embedding: expected a 2-d weight (num_embeddings, embedding_dim), got "
                         f"{fmt_shape(weight.shape)}")
    n = weight.shape[0]
    # -1 would wrap; torch raises (its index_select's class)
    input = checked_index(input, "embedding", n, 0, select_error(weight.shape, 0))
    if padding_idx is not None:
        if not -n <= padding_idx < n:
            raise ValueError(f"embedding: expected padding_idx in [-{n}, {n}), got {padding_idx}")
        padding_idx = padding_idx % n
    if max_norm is not None:
        _renorm_rows(weight, input.reshape(-1) % n, max_norm, norm_type)
    if sparse and weight._requires_grad and grad_state.grad_enabled:
        return _SparseGradEmbedding.apply(weight, input, padding_idx, scale_grad_by_freq)
    out = weight[input]  # (*input.shape, dim); gradients scatter-add back into weight rows
    if scale_grad_by_freq:
        # occurrences of each row, with recorded ops (not np.bincount on the indices' array),
        # so a compiled graph recounts them on every call
        rows = input % n
        counts = zeros(n, dtype=float64).index_add(0, rows.reshape(-1),
                                                   ones(rows.numel(), dtype=float64))
        s = (1.0 / counts[rows]).unsqueeze(-1).to(weight.dtype)
        # value unchanged, gradient scaled by 1 / count: s out + (1 - s) out.detach()
        out = out * s + out.detach() * (1 - s)
    if padding_idx is not None:
        pad = (input == padding_idx).unsqueeze(-1)
        out = ops.where(pad, out.detach(), out)
    return relabel(out, "EmbeddingBackward0", (weight,))   # (torch's one node)


class _SparseGradEmbedding(Function):
    """``embedding(..., sparse=True)``: the weight's gradient is a sparse COO tensor with one
    entry per looked-up index (uncoalesced, padding_idx entries left out), as torch's
    embedding_sparse_backward (which refuses scale_grad_by_freq)."""

    @staticmethod
    def forward(ctx, weight, input, padding_idx, scale_grad_by_freq):
        ctx.input, ctx.padding_idx, ctx.scale = input, padding_idx, scale_grad_by_freq
        ctx.weight_shape = tuple(weight.shape)
        return weight[input]

    @staticmethod
    def backward(ctx, grad):
        if ctx.scale:
            raise RuntimeError("embedding_backward: scale_grad_by_freq not supported with "
                               "sparse gradients")
        n, dim = ctx.weight_shape
        idx = ctx.input.reshape(-1) % n
        vals = grad.reshape(-1, dim)
        if ctx.padding_idx is not None:
            keep = idx != ctx.padding_idx
            idx, vals = idx[keep], vals[keep]
        return _tb.sparse_coo(idx.unsqueeze(0), vals, ctx.weight_shape), None, None, None


def _renorm_rows(weight, rows, max_norm, norm_type):
    """Scale the looked-up ``rows`` of ``weight`` in place to norm <= max_norm (norms in
    float64, as torch). Recorded ops and a setitem, so a compiled graph renormalises on every
    call; a row looked up twice gets the same value written twice."""
    with no_grad():
        sel = weight[rows].to(float64)
        norms = ops.norm(sel, norm_type, 1)
        scale = ops.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0)
        weight[rows] = (sel * scale.unsqueeze(1)).to(weight.dtype)


def embedding_bag(input: Tensor, weight: Tensor, offsets: Tensor | None = None,
                  max_norm: float | None = None, norm_type: float = 2, scale_grad_by_freq=False,
                  mode: str = "mean", sparse: bool = False,
                  per_sample_weights: Tensor | None = None, include_last_offset: bool = False,
                  padding_idx: int | None = None) -> Tensor:
    """Sum, mean or max of the embeddings of each bag of indices: ``input`` 2-d (B, N) holds
    B bags of N; 1-d ``input`` with ``offsets`` (each bag's start) holds bags of any length.
    ``padding_idx`` entries are left out (not counted in the mean); empty bags give zeros;
    ``per_sample_weights`` scale each embedding (mode 'sum').

    >>> embedding_bag(cadenza.tensor([0, 2, 1]), cadenza.eye(3), cadenza.tensor([0, 2]))
    tensor([[0.5000, 0.0000, 0.5000],
            [0.0000, 1.0000, 0.0000]])
    """
    op = "embedding_bag"
    if mode not in ("sum", "mean", "max"):
        raise ValueError(f"{op}: mode has to be one of sum, mean or max, got {mode!r}")
    if per_sample_weights is not None:
        if mode != "sum":
            raise NotImplementedError(f"embedding_bag: per_sample_weights was not None. "
                                      f"per_sample_weights is only supported for mode='sum' "
                                      f"(got mode='{mode}'). Please open a feature request "
                                      f"on GitHub.")
        if tuple(per_sample_weights.shape) != tuple(input.shape):
            raise ValueError(f"{op}: expected per_sample_weights of the input's shape "
                             f"{tuple(input.shape)}, got {tuple(per_sample_weights.shape)}")
    if input.ndim == 2:
        if offsets is not None:
            raise ValueError("if input is 2D, then offsets has to be None, as input is treated "
                             "is a mini-batch of fixed length sequences. However, found "
                             f"offsets of type {type(offsets).__name__}")
        B, N = input.shape
        starts = np.arange(B) * N
        flat = input.reshape(-1)
        psw = None if per_sample_weights is None else per_sample_weights.reshape(-1)
        L = B * N
    elif input.ndim == 1:
        if offsets is None:
            raise ValueError("offsets has to be a 1D Tensor but got None")
        untraceable(f"{op} with offsets", "the bags' extents come from the offsets' values",
                    offsets)
        starts = np.asarray(offsets._host()).astype(np.int64).reshape(-1)
        flat, psw, L = input, per_sample_weights, input.shape[0]
        if include_last_offset:
            starts, last = starts[:-1], starts[-1]
            L = int(last)
        if starts.size and (starts[0] != 0 or np.any(np.diff(starts) < 0)):
            raise ValueError(f"{op}: expected offsets to start at 0 and be non-decreasing, "
                             f"got {starts.tolist()}")
    else:
        raise ValueError(f"{op}: input has to be 1D or 2D Tensor, but got Tensor of dimension "
                         f"{input.ndim}")
    if padding_idx is not None:
        n = weight.shape[0]
        if not -n <= padding_idx < n:
            raise ValueError(f"{op}: padding_idx must be within num_embeddings")
        padding_idx = padding_idx % n
    B = len(starts)
    ends = np.append(starts[1:], L)
    flat = flat[:L] if flat.shape[0] != L else flat
    if psw is not None and psw.shape[0] != L:
        psw = psw[:L]
    emb = embedding(flat, weight, None, max_norm, norm_type, scale_grad_by_freq)   # (L, D)
    if psw is not None:
        emb = emb * psw.unsqueeze(1)
    # member[b, i]: position i belongs to bag b and is not padding
    pos = np.arange(L)
    member = (pos[None, :] >= starts[:, None]) & (pos[None, :] < ends[:, None])
    member_t = _tensor(member)
    if padding_idx is not None:
        member_t = member_t & (flat != padding_idx).reshape(1, L)
    if mode == "max":
        big = ops.where(member_t.unsqueeze(2), emb.unsqueeze(0), float("-inf"))   # (B, L, D)
        if not L:
            return zeros(B, weight.shape[1], dtype=weight.dtype, device=weight.device)
        has = member_t.long().sum(1, keepdim=True) > 0
        return ops.where(has, big.max(1)[0], 0.0)
    m = member_t.to(emb.dtype)
    out = ops.matmul(m, emb)                                                  # (B, D)
    if mode == "mean":
        out = out / ops.clamp(m.sum(1, keepdim=True), min=1.0)
    return out
