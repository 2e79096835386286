"""Sparse compressed tensors: the CSR and CSC layouts (``torch.sparse_csr``/``torch.sparse_csc``).

A ``SparseCompressedTensor`` holds three ordinary tensors, as torch's: compressed indices
(``crow_indices`` of CSR, ``ccol_indices`` of CSC; one entry per row/column plus one),
plain indices (``col_indices``/``row_indices``, one per entry) and ``values``; 2-D, no dense
dims. Its maths goes through the sparse COO machinery of ``cadenza/_tensor.py``: the entries'
(row, col) pairs are expanded from the compressed indices and the product is the ``sparse_mm``
primitive, so gradients reach the values (and whatever made them) through the ordinary engine.

Products, scalar maths, moves and gradient conventions are shared with COO (``SparseMixin``
in ``_tensor.py``); the conventions are torch's:
masked for ``torch.sparse.mm``/``to_dense``/``values()``, the dense matrix it stands for in
``mm``/``matmul``/``@`` (a leaf's ``.grad`` is then dense; ``d.to_sparse_csr() @ x`` gives
``d`` a full gradient).
"""
from __future__ import annotations

import copy
import re

import numpy as np

from . import dtypes as _dt
from ._creation import tensor as _tensor, arange as _arange
from ._tensor import (Tensor, SparseMixin, _sparse, _index_tensor, block_dense_methods,
                      register_compressed)
from ._tensor_base import TensorBase, Size, _init_slots, _norm_dim
from .ops.join import stack as _stack
from .ops.sorting import searchsorted as _searchsorted

__all__ = ["sparse_csr_tensor", "sparse_csc_tensor", "sparse_compressed_tensor",
           "SparseCompressedTensor"]

_NAMES = {"sparse_csr": ("crow_indices", "col_indices", "rows"),
          "sparse_csc": ("ccol_indices", "row_indices", "columns")}


class SparseCompressedTensor(SparseMixin, Tensor):
    """A 2-D CSR or CSC tensor (see the module docstring). It is a Tensor for ``isinstance``
    and the attributes; the operations are its methods (products with dense matrices and
    vectors, conversions, transposes, scaling, moves and casts); every other Tensor method
    raises, naming ``.to_dense()``, as torch does for an op with no sparse kernel."""
    __slots__ = ("_compressed_t", "_plain_t", "_values_t", "_sparse_shape", "_layout_c",
                 "_origin", "_leaf")
    is_sparse = False
    _sparse_layout = True

    # --- attributes
    @property
    def layout(self):
        return self._layout_c

    @property
    def is_sparse_csr(self):
        return self._layout_c is _dt.sparse_csr

    @property
    def shape(self):
        return Size(self._sparse_shape)

    def size(self, dim=None):
        if dim is None:
            return Size(self._sparse_shape)
        return self._sparse_shape[_norm_dim(dim, 2, "size")]

    @property
    def ndim(self):
        return 2

    def dim(self):
        return 2

    ndimension = dim

    def numel(self):
        return self._sparse_shape[0] * self._sparse_shape[1]

    nelement = numel

    def sparse_dim(self):
        return 2

    def dense_dim(self):
        return 0

    def _nnz(self):
        return int(self._values_t.shape[0])

    def values(self):
        return self._values_t

    def _index_parts(self):
        return [("compressed_indices", self._compressed_t), ("plain_indices", self._plain_t)]

    def _static_meta(self):
        return (self._sparse_shape, self._layout_c.name)

    @classmethod
    def _from_index_parts(cls, static, index_parts, values):
        return _compressed(getattr(_dt, static[1]), index_parts[0], index_parts[1], values,
                           static[0])

    def _check_layout(self, what, layout):
        if self._layout_c is not layout:
            kind = "row" if layout is _dt.sparse_csr else "column"
            raise RuntimeError(f"{what} expected sparse {kind} compressed tensor layout but got "
                               f"{'SparseCsr' if self.is_sparse_csr else 'SparseCsc'}")

    def crow_indices(self):
        self._check_layout("crow_indices", _dt.sparse_csr)
        return self._compressed_t

    def col_indices(self):
        self._check_layout("col_indices", _dt.sparse_csr)
        return self._plain_t

    def ccol_indices(self):
        self._check_layout("ccol_indices", _dt.sparse_csc)
        return self._compressed_t

    def row_indices(self):
        self._check_layout("row_indices", _dt.sparse_csc)
        return self._plain_t

    # --- the entries as COO
    def _coo_indices(self):
        """(2, nnz) int64 (row, col) of each entry, in storage order. The row of entry k is
        the last compressed index <= k: a search with a static output shape, so compiled
        graphs take the indices as inputs instead of baking them in."""
        comp = self._compressed_t.long()
        entry = _arange(self._nnz(), device=comp.device)
        major = _searchsorted(comp, entry, right=True) - 1
        minor = self._plain_t.long()
        return _stack((major, minor) if self.is_sparse_csr else (minor, major))

    def _coo(self, origin=None):
        return _sparse(self._coo_indices(), self._values_t, self._sparse_shape, False, origin)

    def _as_coo(self):
        """The entries as COO standing for the same dense matrix (products)."""
        return self._coo(self._origin)

    # --- conversions
    def to_dense(self, dtype=None, *, masked_grad=True):
        return self._coo().to_dense(dtype)

    def to_sparse_coo(self, sparse_dim=None):
        """As torch: coalesced from CSR; from CSC in its column-major order, uncoalesced."""
        return self._coo().coalesce() if self.is_sparse_csr else self._coo()

    def to_sparse(self, sparse_dim=None, *, layout=None, blocksize=None, dense_dim=None):
        if layout is None or layout is _dt.sparse_coo:
            return self.to_sparse_coo()
        if layout is _dt.sparse_csr:
            return self.to_sparse_csr()
        if layout is _dt.sparse_csc:
            return self.to_sparse_csc()
        raise NotImplementedError(f"to_sparse: layout {layout} is not supported")

    def to_sparse_csr(self, dense_dim=None):
        return self if self.is_sparse_csr else from_coo(self._coo(), _dt.sparse_csr)

    def to_sparse_csc(self, dense_dim=None):
        return from_coo(self._coo(), _dt.sparse_csc) if self.is_sparse_csr else self

    def detach(self):
        return _compressed(self._layout_c, self._compressed_t, self._plain_t,
                           self._values_t.detach(), self._sparse_shape)

    def clone(self, *, memory_format=None):
        return _compressed(self._layout_c, self._compressed_t.clone(), self._plain_t.clone(),
                           self._values_t.clone(), self._sparse_shape, self._origin)

    def _with_values(self, v):
        """The same entries with values ``v``."""
        c, p = self._compressed_t, self._plain_t
        if v.device != c.device:
            c, p = c.to(v.device), p.to(v.device)
        return _compressed(self._layout_c, c, p, v, self._sparse_shape)

    # --- maths
    def t(self):
        other = _dt.sparse_csc if self.is_sparse_csr else _dt.sparse_csr
        return _compressed(other, self._compressed_t, self._plain_t, self._values_t,
                           self._sparse_shape[::-1],
                           None if self._origin is None else self._origin.t())

    def transpose(self, dim0, dim1):
        d0, d1 = _norm_dim(dim0, 2, "transpose"), _norm_dim(dim1, 2, "transpose")
        return self if d0 == d1 else self.t()

    @property
    def T(self):
        return self.t()

    @property
    def mT(self):
        return self.t()

    def __add__(self, other):
        """Two tensors of this layout: the union of their entries (a tensor of this layout);
        a dense operand: a dense sum."""
        if isinstance(other, TensorBase) and getattr(other, "_sparse_layout", False):
            if other.layout is not self._layout_c or tuple(other.shape) != self._sparse_shape:
                raise RuntimeError(f"add: expected sparse tensors of the same layout and size, "
                                   f"got {self._layout_c.name} {self._sparse_shape} and "
                                   f"{other.layout.name} {tuple(other.shape)}")
            return from_coo(self._coo() + other._coo(), self._layout_c)
        return self.to_dense() + other

    add = __add__

    def __radd__(self, other):
        return other + self.to_dense()

    def sum(self, dim=None, keepdim=False, dtype=None):
        """All entries: a dense scalar. Along a dim (keepdim=True only, as torch): a tensor
        of this layout."""
        if dim is None:
            return (self._values_t if dtype is None else self._values_t.to(dtype)).sum()
        if not keepdim:
            raise RuntimeError(f"reduction operations on "
                               f"{'CSR' if self.is_sparse_csr else 'CSC'} tensors with "
                               "keepdim=False is unsupported")
        return self.to_dense(dtype).sum(dim, True).to_sparse(layout=self._layout_c)

    # --- printing and copying
    def __repr__(self):
        first, second, _ = _NAMES[self._layout_c.name]
        pad = " " * 7
        text = (f"tensor({first}={_indent(_bare(self._compressed_t), len(first) + 8)},\n"
                f"{pad}{second}={_indent(_bare(self._plain_t), len(second) + 8)},\n"
                f"{pad}values={_indent(_bare(self._values_t), 14)}")
        suffixes = [f"size={tuple(self._sparse_shape)}", f"nnz={self._nnz()}"]
        dt = self._values_t.dtype
        if dt is not _dt.get_default_dtype() and not (dt is _dt.int64 and self._nnz()):
            suffixes.append(f"dtype={dt!r}")
        suffixes.append(f"layout={self._layout_c!r}")
        if self.grad_fn is not None:
            suffixes.append(f"grad_fn=<{type(self.grad_fn).__name__}>")
        elif not self.is_leaf:   # values that require grad: torch's constructor node
            suffixes.append("grad_fn=<SparseCompressedTensorBackward0>")
        elif self.requires_grad:
            suffixes.append("requires_grad=True")
        return _with_suffixes(text, suffixes, 7)

    __str__ = __repr__

    def __len__(self):
        return self._sparse_shape[0]

    def __reduce_ex__(self, protocol):
        return (_compressed, (self._layout_c, self._compressed_t, self._plain_t,
                              self._values_t.detach(), self._sparse_shape))

    def __deepcopy__(self, memo):
        return _compressed(self._layout_c, copy.deepcopy(self._compressed_t, memo),
                           copy.deepcopy(self._plain_t, memo),
                           copy.deepcopy(self._values_t.detach(), memo), self._sparse_shape)


block_dense_methods(SparseCompressedTensor, "sparse compressed (CSR/CSC)")


def _bare(t):
    """A component's repr as torch prints it inside a sparse tensor: no dtype (the tensor's
    own dtype is a suffix), an empty one as ``tensor([], size=(0,))``."""
    if t.numel() == 0:
        return f"tensor([], size={tuple(t.shape)})"
    return re.sub(r",\s*dtype=[\w.]+\)$", ")", repr(t.detach()))


def _indent(text, n):
    return text.replace("\n", "\n" + " " * n)


def _with_suffixes(text, suffixes, indent, linewidth=80):
    """torch's printing of a tensor's trailing ``key=value`` parts: on the same line while it
    stays within the line width, else on a new line at the indent."""
    parts = [text]
    line = len(text) - text.rfind("\n") + 1
    for s in suffixes:
        if line + len(s) + 2 > linewidth:
            parts.append(",\n" + " " * indent + s)
            line = indent + len(s)
        else:
            parts.append(", " + s)
            line += len(s) + 2
    return "".join(parts) + ")"


def _compressed(layout, compressed, plain, values, shape, origin=None):
    t = object.__new__(SparseCompressedTensor)
    _init_slots(t, values._data)
    t._layout_c = layout
    t._compressed_t = compressed
    t._plain_t = plain
    t._values_t = values
    t._sparse_shape = (int(shape[0]), int(shape[1]))
    t._origin = origin
    t._leaf = None
    t.grad_fn = values.grad_fn
    return t


def from_coo(coo, layout, origin=None):
    """A 2-D sparse COO tensor's entries in ``layout`` (CSR or CSC); the values are an index
    of the COO's, so gradients flow back."""
    if coo.ndim != 2 or coo.dense_dim() != 0:
        raise NotImplementedError(f"to_{layout.name}: only 2-D tensors without dense dims are "
                                  f"supported, got size {tuple(coo.shape)}")
    x = coo.coalesce()   # row-major order, duplicates summed
    idx = x._indices()._host()
    values = x._values()
    major = 0 if layout is _dt.sparse_csr else 1
    if major == 1 and idx.shape[1]:   # column-major order
        order = np.lexsort((idx[0], idx[1]))
        idx = idx[:, order]
        values = values[_index_tensor(order, values)]
    counts = np.bincount(idx[major], minlength=coo.shape[major])
    compressed = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return _compressed(layout, _index_tensor(compressed, values),
                       _index_tensor(idx[1 - major], values), values, tuple(coo.shape), origin)


def from_dense(dense, layout):
    """``Tensor.to_sparse_csr()``/``to_sparse_csc()``: the nonzero entries of a 2-D tensor;
    products treat the result as ``dense`` itself (torch gives ``dense`` a full gradient)."""
    if dense.ndim != 2:
        raise NotImplementedError(f"to_{layout.name}: only 2-D tensors are supported here, got "
                                  f"size {tuple(dense.shape)} (batched compressed tensors are "
                                  "not supported)")
    return from_coo(dense.to_sparse(), layout,
                    dense if dense.requires_grad else None)


register_compressed(from_dense, from_coo)


def _indices_arg(x, what, op):
    t = x if isinstance(x, TensorBase) else _tensor(np.asarray(x))
    if t._data.dtype not in (np.int32, np.int64):
        raise RuntimeError(f"{op}: {what} must be an int32 or int64 tensor, got "
                           f"{t.dtype.name}")
    if t.ndim != 1:
        raise NotImplementedError(f"{op}: {what} must be 1-D (batched compressed tensors are "
                                  f"not supported), got size {tuple(t.shape)}")
    return t


def sparse_compressed_tensor(compressed_indices, plain_indices, values, size=None, *,
                             dtype=None, layout=None, device=None, pin_memory=False,
                             requires_grad=False, check_invariants=None):
    """A 2-D CSR or CSC tensor from its compressed indices, plain indices and values; the
    invariants are always checked (torch checks them only on request and may crash later)."""
    if layout not in (_dt.sparse_csr, _dt.sparse_csc):
        raise RuntimeError(f"sparse_compressed_tensor: layout must be cadenza.sparse_csr or "
                           f"cadenza.sparse_csc, got {layout}")
    op = f"sparse_{layout.name[-3:]}_tensor"
    first, second, major_name = _NAMES[layout.name]
    comp = _indices_arg(compressed_indices, first, op)
    plain = _indices_arg(plain_indices, second, op)
    if comp._data.dtype != plain._data.dtype:
        raise RuntimeError(f"{op}: {first} and {second} must have the same dtype, got "
                           f"{comp.dtype.name} and {plain.dtype.name}")
    vals = values if isinstance(values, TensorBase) else _tensor(values, dtype=dtype)
    if dtype is not None and vals.dtype is not _dt.to_dtype(dtype):
        vals = vals.to(dtype)
    if device is not None:
        vals, comp, plain = vals.to(device), comp.to(device), plain.to(device)
    if vals.ndim != 1:
        raise NotImplementedError(f"{op}: values must be 1-D (hybrid tensors with dense dims "
                                  f"are not supported), got size {tuple(vals.shape)}")
    nnz = vals.shape[0]
    c, p = comp._host().astype(np.int64), plain._host().astype(np.int64)
    major = 0 if layout is _dt.sparse_csr else 1
    if size is None:
        minor = int(p.max()) + 1 if p.size else 0
        size = (c.size - 1, minor) if major == 0 else (minor, c.size - 1)
    size = tuple(int(s) for s in size)
    if len(size) != 2:
        raise NotImplementedError(f"{op}: only 2-D tensors are supported, got size {size}")
    if c.size != size[major] + 1:
        raise RuntimeError(f"{op}: {first}.shape[-1] must be equal to the number of "
                           f"{major_name} + 1 (={size[major] + 1}), but got {c.size}")
    if p.size != nnz:
        raise RuntimeError(f"{op}: {second}.shape[-1] must be equal to nnz (={nnz}) as defined "
                           f"by values.shape[0], but got {p.size}")
    if c[0] != 0:
        raise RuntimeError(f"{op}: `{first}[..., 0] == 0` is not satisfied.")
    if c[-1] != nnz:
        raise RuntimeError(f"{op}: `{first}[..., -1] == nnz` is not satisfied.")
    if (np.diff(c) < 0).any():
        raise RuntimeError(f"{op}: `0 <= {first}[..., 1:] - {first}[..., :-1] <= "
                           f"{'ncols' if major == 0 else 'nrows'}` is not satisfied.")
    limit = size[1 - major]
    if p.size and (p.min() < 0 or p.max() >= limit):
        raise RuntimeError(f"{op}: `0 <= {second} < {'ncols' if major == 0 else 'nrows'}` "
                           f"is not satisfied.")
    if check_invariants and p.size > 1:
        line = np.repeat(np.arange(c.size - 1), np.diff(c))
        if ((np.diff(p) <= 0) & (line[1:] == line[:-1])).any():
            raise RuntimeError(f"{op}: `{second}[..., {first}[..., i - 1]:{first}[..., i]] "
                               f"for all i = 1, ..., {'nrows' if major == 0 else 'ncols'} are "
                               "sorted and distinct along the last dimension values` is not "
                               "satisfied.")
    out = _compressed(layout, comp, plain, vals, size)
    if requires_grad:
        out.requires_grad_(True)
    return out


def sparse_csr_tensor(crow_indices, col_indices, values, size=None, *, dtype=None,
                      device=None, pin_memory=False, requires_grad=False, check_invariants=None):
    """torch.sparse_csr_tensor: a 2-D CSR tensor (row ``i``'s entries are
    ``values[crow[i]:crow[i+1]]`` at columns ``col_indices[crow[i]:crow[i+1]]``)."""
    return sparse_compressed_tensor(crow_indices, col_indices, values, size, dtype=dtype,
                                    layout=_dt.sparse_csr, device=device,
                                    requires_grad=requires_grad,
                                    check_invariants=check_invariants)


def sparse_csc_tensor(ccol_indices, row_indices, values, size=None, *, dtype=None,
                      device=None, pin_memory=False, requires_grad=False, check_invariants=None):
    """torch.sparse_csc_tensor: a 2-D CSC tensor (column ``j``'s entries are
    ``values[ccol[j]:ccol[j+1]]`` at rows ``row_indices[ccol[j]:ccol[j+1]]``)."""
    return sparse_compressed_tensor(ccol_indices, row_indices, values, size, dtype=dtype,
                                    layout=_dt.sparse_csc, device=device,
                                    requires_grad=requires_grad,
                                    check_invariants=check_invariants)


