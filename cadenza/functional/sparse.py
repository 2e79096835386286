"""Embedding lookups and one-hot encoding."""
from __future__ import annotations

import numpy as np

from .. import ops
from .._creation import zeros, ones
from .._tensor_base import TensorBase as Tensor
from ..dtypes import float64
from ..autograd.grad_mode import no_grad
from ..errors import ShapeError, DTypeError, fmt_shape
from ..ops.index import one_hot, checked_index

__all__ = ["embedding", "one_hot"]


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
    input = checked_index(input, "embedding", n, 0, IndexError)   # -1 would wrap; torch raises
    if padding_idx is not None:
        if not -n <= padding_idx < n:
            raise ValueError(f"embedding: expected padding_idx in [-{n}, {n}), got {padding_idx}")
        padding_idx = padding_idx % n
    if max_norm is not None:
        _renorm_rows(weight, input.reshape(-1) % n, max_norm, norm_type)
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
    return out


def _renorm_rows(weight, rows, max_norm, norm_type):
    """Scale the looked-up ``rows`` of ``weight`` in place to norm <= max_norm (norms in
    float64, as torch). Recorded ops and a setitem, so a compiled graph renormalises on every
    call; a row looked up twice gets the same value written twice."""
    with no_grad():
        sel = weight[rows].to(float64)
        norms = ops.norm(sel, norm_type, 1)
        scale = ops.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0)
        weight[rows] = (sel * scale.unsqueeze(1)).to(weight.dtype)
