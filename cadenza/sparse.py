"""``torch.sparse`` and the sparse COO constructor ``sparse_coo_tensor``.

A sparse COO tensor is a ``cadenza._tensor.SparseCooTensor``: a Tensor subclass holding an int64
``indices`` tensor (sparse_dim, nnz) and a ``values`` tensor (nnz, ...), with ``layout ==
cadenza.sparse_coo``. Its product with a dense matrix is the ``sparse_mm`` primitive
(``cadenza/ops/sparse.py``), differentiable in the values and the dense operand, which is what
graph networks (GCN, GAT) need: ``torch.sparse.mm(adj, x)``, ``torch.spmm``, ``adj @ x``.
"""
from __future__ import annotations

import numpy as np

from . import dtypes as _dt
from ._creation import tensor as _tensor, ones, arange, zeros
from ._dispatch import state as _state
from ._tensor import _sparse, _sparse_matmul
from ._tensor_base import TensorBase

__all__ = ["mm", "addmm", "sum", "softmax", "log_softmax", "sparse_coo_tensor", "spmm",
           "FloatTensor", "DoubleTensor", "LongTensor"]


def sparse_coo_tensor(indices, values, size=None, *, dtype=None, device=None,
                      requires_grad=False, check_invariants=None, is_coalesced=None):
    """A sparse COO tensor with entries ``values[k]`` at ``indices[:, k]``; size defaults to
    one more than the largest index of each sparse dim (then the values' dense dims)."""
    idx = indices if isinstance(indices, TensorBase) else _tensor(np.asarray(indices))
    if idx._data.dtype.kind not in "iu":
        raise RuntimeError(f"sparse_coo_tensor: indices must be an int64 tensor, got "
                           f"{idx.dtype.name}")
    idx = idx.long()
    vals = values if isinstance(values, TensorBase) else _tensor(values, dtype=dtype)
    if dtype is not None and vals.dtype is not _dt.to_dtype(dtype):
        vals = vals.to(dtype)
    if device is not None:
        vals, idx = vals.to(device), idx.to(device)
    if idx.ndim != 2:
        raise RuntimeError(f"sparse_coo_tensor: indices must be sparse_dim x nnz, but got: "
                           f"{tuple(idx.shape)}")
    nd, nnz = idx.shape
    if vals.ndim == 0 or vals.shape[0] != nnz:
        raise RuntimeError(f"sparse_coo_tensor: indices and values must have the same number "
                           f"of elements, but got {nnz} and "
                           f"{vals.shape[0] if vals.ndim else 0}")
    host = idx._host()
    if nnz and host.min() < 0:
        raise RuntimeError(f"sparse_coo_tensor: found negative index {int(host.min())}")
    top = host.max(1) + 1 if nnz else np.zeros(nd, np.int64)
    if size is None:
        size = tuple(int(t) for t in top) + tuple(vals.shape[1:])
    size = tuple(int(s) for s in size)
    if len(size) != nd + vals.ndim - 1:
        raise RuntimeError(f"sparse_coo_tensor: number of dimensions must be sparse_dim "
                           f"({nd}) + dense_dim ({vals.ndim - 1}), but got {len(size)}")
    for d in range(nd):
        if top[d] > size[d]:
            raise RuntimeError(f"size is inconsistent with indices: for dim {d}, size is "
                               f"{size[d]} but found index {int(top[d]) - 1}")
    out = _sparse(idx, vals, size, bool(is_coalesced))
    return out.requires_grad_(True) if requires_grad else out


def _check_sparse(op, x):
    if not (isinstance(x, TensorBase) and x.is_sparse):
        raise RuntimeError(f"{op}: expected a sparse COO tensor as the first argument, got a "
                           f"{'dense tensor' if isinstance(x, TensorBase) else type(x).__name__}")


def mm(mat1, mat2, reduce="sum"):
    """sparse @ dense (a dense result), with gradients to the sparse values and the dense
    operand; dense @ dense falls back to matmul."""
    if reduce != "sum":
        raise NotImplementedError(f"sparse.mm: reduce={reduce!r} is not supported (only 'sum')")
    if not mat1._sparse_layout:
        return mat1 @ mat2
    return _sparse_matmul(mat1, mat2, "sparse.mm", masked=True)


def spmm(input, mat2):
    _check_sparse("spmm", input)
    return input.mm(mat2)


def addmm(mat, mat1, mat2, *, beta=1.0, alpha=1.0):
    return mat * beta + mm(mat1, mat2) * alpha


def sum(input, dim=None, dtype=None):
    """All entries: a dense scalar. Over some dims: a sparse tensor (dense when every dim is
    reduced); a 2-D matrix's row or column sums go through sparse_mm, not a dense copy."""
    _check_sparse("sparse.sum", input)
    if dim is None:
        return input.sum(dtype=dtype)
    dims = sorted({d % input.ndim for d in ((dim,) if isinstance(dim, int) else dim)})
    if len(dims) == input.ndim:
        return input.sum(dtype=dtype)
    if input.ndim == 2 and input.dense_dim() == 0:
        # every row listed (PyTorch lists the rows with entries): the same dense tensor, and
        # no data-dependent shape, so compiled graphs capture it
        a = input if dtype is None else input.to(dtype)
        a = a if dims == [1] else a.t()
        sums = a.mm(ones(a.shape[1], dtype=a.dtype))
        rows = arange(a.shape[0]).unsqueeze(0)
        return _sparse(rows if sums.device.type == "cpu" else rows.to(sums.device), sums,
                       (a.shape[0],), True)
    return input.sum(dims, dtype=dtype)


def _grouped(op, input, dim):
    """(group of each entry, number of groups, values) for a softmax over sparse dim ``dim``:
    the entries that share every other index form one group (unspecified entries are -inf)."""
    _check_sparse(op, input)
    if input.dense_dim() != 0:
        raise RuntimeError(f"{op}: hybrid sparse tensors (dense dims) are not supported")
    x = input.coalesce()
    d = dim % x.sparse_dim()
    idx = x._indices()
    if _state.tracer is not None:  # the grouping is computed from the index values
        _state.tracer.concrete(idx, op)
    host = np.delete(idx._host(), d, axis=0)
    key = np.ravel_multi_index(tuple(host), tuple(np.delete(np.array(x.shape), d))) \
        if host.shape[0] else np.zeros(host.shape[1], np.int64)
    _, group = np.unique(key, return_inverse=True)
    return x, group.reshape(-1), int(group.max()) + 1 if group.size else 0


def _group_softmax(op, input, dim, dtype, log):
    x, group, ng = _grouped(op, input, dim)
    v = x._values() if dtype is None else x._values().to(dtype)
    g = _tensor(group)
    # the largest value of each group (a constant shift: softmax does not depend on it)
    top = np.full(ng, -np.inf)
    np.maximum.at(top, group, v.detach()._host().astype(np.float64))
    z = v - _tensor(top[group].astype(v._data.dtype))
    sums = zeros(ng, dtype=v.dtype).index_add(0, g, z.exp())
    out = z - sums.log()[g] if log else z.exp() / sums[g]
    return _sparse(x._indices(), out, tuple(x.shape), True)


def softmax(input, dim, *, dtype=None):
    """Softmax over sparse dim ``dim`` among the specified entries (the others count as -inf
    and stay unspecified), as PyTorch's torch.sparse.softmax."""
    return _group_softmax("sparse.softmax", input, dim, dtype, False)


def log_softmax(input, dim, *, dtype=None):
    return _group_softmax("sparse.log_softmax", input, dim, dtype, True)


def _legacy(dt_name):
    def make(indices, values, size=None):
        return sparse_coo_tensor(indices, values, size, dtype=getattr(_dt, dt_name))
    make.__name__ = dt_name
    return make


FloatTensor = _legacy("float32")
DoubleTensor = _legacy("float64")
LongTensor = _legacy("int64")
