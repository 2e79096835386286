"""Embedding lookups and one-hot encoding."""
from __future__ import annotations

import numpy as np

from .. import ops
from .._tensor import Tensor, _make
from ..autograd.grad_mode import no_grad
from ..errors import ShapeError, DTypeError, fmt_shape
from ..ops.index import one_hot

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
    idx = np.asarray(input._host() if hasattr(input, "_host") else input._data)
    if idx.size and (idx.min() < -n or idx.max() >= n):
        raise IndexError(f"embedding: expected indices in [0, {n}), got values in "
                         f"[{int(idx.min())}, {int(idx.max())}]")
    if padding_idx is not None:
        if not -n <= padding_idx < n:
            raise ValueError(f"embedding: expected padding_idx in [-{n}, {n}), got {padding_idx}")
        padding_idx = padding_idx % n
    if max_norm is not None:
        _renorm_rows(weight, np.unique(idx), max_norm, norm_type)
    out = weight[input]  # (*input.shape, dim); gradients scatter-add back into weight rows
    if scale_grad_by_freq:
        counts = np.bincount(idx.reshape(-1) % n, minlength=n)
        s = _make((1.0 / counts[idx % n])[..., None].astype(weight._data.dtype))
        # value unchanged, gradient scaled by 1 / count: s out + (1 - s) out.detach()
        out = out * s + out.detach() * (1 - s)
    if padding_idx is not None:
        pad = (input == padding_idx).unsqueeze(-1)
        out = ops.where(pad, out.detach(), out)
    return out


def _renorm_rows(weight, rows, max_norm, norm_type):
    with no_grad():
        w = weight._data
        sel = w[rows]
        norms = np.linalg.norm(sel.astype(np.float64), ord=norm_type, axis=1)
        scale = np.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0)
        w[rows] = (sel * scale[:, None]).astype(w.dtype)
        weight._vc[0] += 1
