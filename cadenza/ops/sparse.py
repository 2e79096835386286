"""The sparse COO primitive: the product of a sparse matrix, given by its (2, nnz) indices and
(nnz,) values, with a dense matrix or vector. ``cadenza.sparse`` and the sparse tensor class
(``cadenza/_tensor.py``) call it; gradients flow to the values and to the dense operand."""
from __future__ import annotations

import numpy as np

from ._registry import Op, register, apply
from ..errors import ShapeError, DTypeError, fmt_shape

__all__: list = []   # no top-level names: torch.sparse.mm / torch.spmm live in cadenza.sparse


@register
class SparseMm(Op):
    """out[r] = sum over entries (r, c, v) of v * dense[c], for a sparse (rows, dense rows)
    matrix; duplicate entries add up (uncoalesced input is fine)."""
    name, kind, onnx = "sparse_mm", "library", None

    @staticmethod
    def forward(xp, indices, values, dense, rows=0):
        out = xp.zeros((rows,) + dense.shape[1:], dtype=np.result_type(values, dense))
        if indices.shape[1]:
            v = values.reshape(values.shape + (1,) * (dense.ndim - 1))
            xp.add.at(out, indices[0], v * dense[indices[1]])
        return out

    # d out / d dense = the transposed sparse matrix; d out / d values[e] = dense[c_e] . g[r_e]
    @staticmethod
    def backward(c, g):
        idx, values, dense = c.saved
        gv = gd = None
        if c.next[1] is not None:
            prod = g.index_select(0, idx[0]) * dense.index_select(0, idx[1])
            gv = prod.sum(tuple(range(1, prod.ndim))) if prod.ndim > 1 else prod
        if c.next[2] is not None:
            gd = apply(SparseMm, idx.flip(0), values, g, rows=c.shape(2)[0])
        return None, gv, gd


def sparse_mm(indices, values, dense, rows):
    """The (rows, k) sparse matrix of ``indices`` (2, nnz) and ``values`` (nnz,) times
    ``dense`` (k, ...)."""
    if values._data.ndim != 1:
        raise ShapeError(f"sparse.mm: expected a sparse matrix with scalar values, got values "
                         f"of shape {fmt_shape(values.shape)}")
    if values._data.dtype != dense._data.dtype:
        raise DTypeError(f"sparse.mm: expected the sparse and dense operands to have the same "
                         f"dtype, got {values.dtype.name} and {dense.dtype.name}")
    return apply(SparseMm, indices, values, dense, rows=int(rows))
