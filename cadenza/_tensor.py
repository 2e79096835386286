"""``cadenza.Tensor``, PyTorch's ``torch.Tensor``: the data model (``_tensor_base``) plus method
mixins, each declared once beside the functions it calls:

- each ops module's ``*Methods`` class: the methods of that module's functions, declared beside
  them (``x.exp()`` and ``x.exp_()`` in ``ops/unary.py``, ``x.view(2, 3)`` in ``ops/views.py``);
- ``_tensor_api.operators``: ``+ - * / // % ** @``, comparisons, ``& | ^ ~``, reflected forms;
- ``_tensor_api.inplace``: ``x += y``, ``fill_``/``copy_``, random fills (``x.normal_()``);
- ``_tensor_api.convert``: ``to``, ``cpu``/``cuda``, ``float()``, ``new_zeros``, ``softmax``;
- ``_tensor_api.autograd``: ``backward``, hooks, ``retain_grad``;
- ``_tensor_api.memory``: ``storage_offset``, ``pin_memory``, device predicates, the in-place
  shape changes (``squeeze_``, ``t_``, ``resize_``), ``new``, ``map_``.
"""
from __future__ import annotations

import copy

import numpy as np

from ._tensor_api.autograd import AutogradMethods
from ._tensor_api.convert import ConvertMethods
from ._tensor_api.inplace import InplaceMethods
from ._tensor_api.operators import OperatorMethods
from .ops.binary import BinaryMethods
from .ops.complex import ComplexMethods
from .ops.elementwise import ElementwiseMethods
from .ops.index import IndexMethods
from .ops.join import JoinMethods
from .ops.linalg import LinalgMethods
from .ops.decomp import DecompMethods
from .ops.special import SpecialMethods
from .ops.reduce import ReduceMethods
from .ops.shape import ShapeMethods
from .ops.sorting import SortingMethods
from .ops.unary import UnaryMethods
from .ops.views import ViewMethods
from .ops.pointwise import PointwiseMethods
from .ops.stats import StatsMethods
from .ops.scatters import ScatterMethods
from .ops.products import ProductMethods
from .ops.fft import FftMethods
from ._tensor_api.memory import MemoryMethods
from ._argforms import alias_class
from . import dtypes as _dt
from ._creation import zeros as _zeros
from .errors import ShapeError
from .ops.join import cat as _cat
from .ops.sparse import sparse_mm as _sparse_mm
from .ops.index import _data_dependent, _created_array
from ._tensor_base import TensorBase, Size, _make, _init_slots, _norm_dim, set_tensor_class  # noqa: F401 (_norm_dim: re-exported for the layers above)
from ._tensor_base import set_sparse_constructor

__all__ = ["Tensor", "Size"]



class Tensor(TensorBase, OperatorMethods, UnaryMethods, BinaryMethods, ElementwiseMethods,
             ReduceMethods, SortingMethods, ViewMethods, JoinMethods, ShapeMethods, IndexMethods,
             LinalgMethods, DecompMethods, SpecialMethods, ComplexMethods,
             InplaceMethods, ConvertMethods, AutogradMethods,
             PointwiseMethods, StatsMethods, ScatterMethods, ProductMethods, FftMethods,
             MemoryMethods):
    """A multi-dimensional array with autograd, PyTorch's ``torch.Tensor``.

    >>> import cadenza as torch
    >>> x = torch.tensor([1.0, 2.0], requires_grad=True)
    >>> (x * x).sum().backward(); x.grad
    tensor([2., 4.])
    """
    __slots__ = ()

    def to_sparse(self, sparse_dim=None, *, layout=None, blocksize=None, dense_dim=None):
        """A dense tensor's nonzero entries as a sparse COO tensor (coalesced); gradient flows
        back to the dense tensor through the selected values."""
        if layout in (_dt.sparse_csr, _dt.sparse_csc):
            return self.to_sparse_csr() if layout is _dt.sparse_csr else self.to_sparse_csc()
        if layout is not None and layout is not _dt.sparse_coo:
            raise NotImplementedError(f"to_sparse: layout {layout} is not supported (strided, "
                                      "sparse_coo, sparse_csr and sparse_csc are)")
        nd = self.ndim if sparse_dim is None else int(sparse_dim)
        _data_dependent(self, "to_sparse")
        arr = self._host()
        mask = arr != 0 if nd == arr.ndim else \
            (arr.reshape(arr.shape[:nd] + (-1,)) != 0).any(-1)
        idx = np.stack(np.nonzero(mask)).astype(np.int64).reshape(nd, -1)
        values = self[tuple(_index_tensor(i, self) for i in idx)] if idx.shape[1] else \
            self.reshape(-1, *self.shape[nd:])[:0]
        return _sparse(_index_tensor(idx, self), values, tuple(self.shape), True,
                       self if self.requires_grad else None)

    to_sparse_coo = to_sparse

    def to_sparse_csr(self, dense_dim=None):
        """The nonzero entries of a 2-D tensor as a CSR tensor (``cadenza._sparse_compressed``)."""
        return _COMPRESSED["from_dense"](self, _dt.sparse_csr)

    def to_sparse_csc(self, dense_dim=None):
        return _COMPRESSED["from_dense"](self, _dt.sparse_csc)

    # --- a dense (strided) tensor's answers to the sparse-layout queries, as torch's
    is_sparse_csr = False

    def sparse_dim(self):
        return 0

    def dense_dim(self):
        return self.ndim

    def is_coalesced(self):
        raise RuntimeError("is_coalesced expected sparse coordinate tensor layout but got "
                           "Strided")

    def coalesce(self):
        raise RuntimeError("coalesce expected sparse coordinate tensor layout but got Strided")

    def indices(self):
        raise RuntimeError("indices expected sparse coordinate tensor layout but got Strided")

    def values(self):
        raise RuntimeError("values expected sparse tensor layout but got Strided")

    def crow_indices(self):
        raise RuntimeError("crow_indices expected sparse row compressed tensor layout but got "
                           "Strided")

    def col_indices(self):
        raise RuntimeError("col_indices expected sparse row compressed tensor layout but got "
                           "Strided")

    def ccol_indices(self):
        raise RuntimeError("ccol_indices expected sparse column compressed tensor layout but "
                           "got Strided")

    def row_indices(self):
        raise RuntimeError("row_indices expected sparse column compressed tensor layout but "
                           "got Strided")

    def sparse_mask(self, mask):
        """A sparse COO tensor with ``mask``'s indices (a sparse tensor of self's shape) and
        self's values there (differentiable in self)."""
        if not (isinstance(mask, TensorBase) and mask.is_sparse):
            raise NotImplementedError("sparse_mask: the mask must be a sparse COO tensor, got "
                                      "a dense one")
        if tuple(mask.shape) != tuple(self.shape):
            raise RuntimeError(f"sparse_mask(): operands have incompatible sizes; self has "
                               f"size {list(self.shape)} but mask has size {list(mask.shape)}")
        idx = mask._indices_t
        return _sparse(idx, self[tuple(idx)], tuple(self.shape), mask._coalesced)

    def to_dense(self, dtype=None, *, masked_grad=True):
        return self if dtype is None else self.to(dtype)

    def __reduce_ex__(self, protocol):
        # For copy/deepcopy and multiprocessing; checkpoints never use pickle (see cadenza.io).
        return (_rebuild_tensor, (self.__class__, self._pickled(), self._requires_grad))

    def __deepcopy__(self, memo):
        if self.grad_fn is not None:
            raise RuntimeError("Only Tensors created explicitly by the user (graph leaves) "
                               "support the deepcopy protocol at the moment")
        if id(self) in memo:
            return memo[id(self)]
        new = _rebuild_tensor(self.__class__, self._data.copy(), self._requires_grad)
        if self.grad is not None:
            new.grad = copy.deepcopy(self.grad, memo)
        memo[id(self)] = new
        return new


alias_class(Tensor)     # x.sum(axis=1, keepdims=True): torch's NumPy-style keyword aliases
set_tensor_class(Tensor)


def _rebuild_tensor(cls, arr, requires_grad):
    if cls is Tensor:
        t = _make(arr)
        t._requires_grad = requires_grad
        return t
    t = cls.__new__(cls, _make(arr), requires_grad)
    if not isinstance(t, cls) or getattr(t, "_data", None) is None:
        t = _make(arr)
    return t


# ----------------------------------------------------------------------------- sparse COO
def _sparse_dense_only(name, layout_name):
    def method(self, *args, **kwargs):
        raise RuntimeError(f"{name}: not supported on a {layout_name} tensor; call "
                           f".to_dense() first")
    method.__name__ = name
    return method


class SparseMixin:
    """What the sparse classes (COO here, CSR/CSC in ``_sparse_compressed``) share: products
    with dense operands, scalar maths, moves and casts, and the autograd state, with torch's
    two gradient conventions for a sparse operand (learned by running torch):
    ``torch.sparse.mm``, ``to_dense`` and ``values()`` give *masked* gradients (only the
    specified entries get one), while ``mm``/``matmul``/``@`` treat the operand as the dense
    matrix it stands for. So a sparse tensor may keep that matrix as ``_origin``: the dense
    tensor ``to_sparse*()`` made it from (which then gets a full gradient), or, for a leaf
    that requires grad, a dense twin ``_leaf``. A leaf's ``.grad`` is sparse when only masked
    uses reached it, dense when a product did (both: their dense sum)."""
    __slots__ = ()

    @property
    def requires_grad(self):
        return self._values_t.requires_grad or self._leaf is not None

    @requires_grad.setter
    def requires_grad(self, value):
        self.requires_grad_(value)

    def requires_grad_(self, requires_grad=True):
        if not requires_grad:
            if not self.is_leaf:
                raise RuntimeError("you can only change requires_grad flags of leaf variables.")
            self._values_t = self._values_t.detach()
            self._leaf = self._origin = None
        elif not self.requires_grad:
            dense = self.detach().to_dense()
            self._values_t = self._values_t.detach().requires_grad_(True)
            self._leaf = self._origin = dense.requires_grad_(True)
        return self

    @property
    def is_leaf(self):
        return self._leaf is not None or not self._values_t.requires_grad

    @property
    def grad(self):
        if getattr(self, "_leaf", None) is None:
            return None
        masked, dense = self._values_t.grad, self._leaf.grad
        if masked is None:
            return dense
        part = self._with_values(masked)
        return part if dense is None else dense + part.to_dense()

    @grad.setter
    def grad(self, value):
        if getattr(self, "_leaf", None) is None:   # construction, or not a leaf
            return
        if value is None:
            self._values_t.grad = self._leaf.grad = None
        elif getattr(value, "_sparse_layout", False):
            v = value.coalesce() if value.is_sparse else value
            self._values_t.grad, self._leaf.grad = v._values_t, None
        else:
            self._values_t.grad, self._leaf.grad = None, value

    def _graph_parts(self):
        """(static description, [(name, tensor)]) for compiled functions' argument flattening
        (``graph/pytree.py``): the index and value tensors become graph inputs, so a call with
        another matrix of the same shapes replays with its entries, not the traced ones."""
        named = self._index_parts() + [("values", self._values_t)]
        if self._origin is not None:
            named.append(("origin", self._origin))
        meta = (self._static_meta(), self._origin is not None, self._leaf is not None)
        return meta, named

    @classmethod
    def _from_graph_parts(cls, meta, parts):
        static, has_origin, is_leaf = meta
        origin = parts.pop() if has_origin else None
        out = cls._from_index_parts(static, parts[:-1], parts[-1])
        out._origin = origin
        out._leaf = origin if is_leaf else None
        return out

    def _mapped(self, f):
        """``f`` applied to the values (and to the dense matrix this stands for, if kept)."""
        out = self._with_values(f(self._values_t))
        out._origin = None if self._origin is None else f(self._origin)
        return out

    def to(self, *args, **kwargs):
        return self._mapped(lambda v: v.to(*args, **kwargs))

    def cpu(self, memory_format=None):
        return self._mapped(lambda v: v.cpu())

    def cuda(self, device=None, non_blocking=False, memory_format=None):
        return self._mapped(lambda v: v.cuda(device))

    def float(self, memory_format=None):
        return self._mapped(lambda v: v.float())

    def double(self, memory_format=None):
        return self._mapped(lambda v: v.double())

    def half(self, memory_format=None):
        return self._mapped(lambda v: v.half())

    # --- maths (``_as_coo``: the entries as COO, keeping ``_origin``)
    def mm(self, mat2):
        return _sparse_matmul(self, mat2, "mm")

    def matmul(self, other):
        return _sparse_matmul(self, other, "matmul")

    __matmul__ = matmul

    def __rmatmul__(self, other):
        # dense @ sparse = (sparse^T @ dense^T)^T
        if other.ndim == 1:
            return _sparse_matmul(self.t(), other, "matmul")
        return _sparse_matmul(self.t(), other.mT, "matmul").mT

    def _scalar_only(self, op, other):
        if isinstance(other, TensorBase) and (other._sparse_layout or other.ndim):
            raise RuntimeError(f"{op}: a {self.layout.name} tensor combines only with a scalar "
                               "here; call .to_dense() first")

    def __mul__(self, other):
        self._scalar_only("mul", other)
        return self._mapped(lambda v: v * other)

    __rmul__ = mul = __mul__

    def __truediv__(self, other):
        self._scalar_only("div", other)
        return self._mapped(lambda v: v / other)

    div = __truediv__

    def __neg__(self):
        return self._mapped(lambda v: -v)

    neg = __neg__


class SparseCooTensor(SparseMixin, Tensor):
    """A sparse COO tensor (``layout == cadenza.sparse_coo``): ``indices`` (sparse_dim, nnz)
    int64 and ``values`` (nnz, *dense dims), both ordinary tensors, and a shape. It is a
    Tensor for ``isinstance`` and the attributes (dtype, device, shape, requires_grad are its
    values' and its own); the operations graph programs use are its methods (mm / @ with a
    dense matrix, to_dense, coalesce, sum, t, scaling, moves and casts), with gradients to the
    values and the dense operand through the ``sparse_mm`` primitive and ordinary index ops.
    Every other Tensor method raises, as PyTorch does for an op with no sparse kernel."""
    __slots__ = ("_indices_t", "_values_t", "_sparse_shape", "_coalesced", "_origin", "_leaf")
    is_sparse = True
    _sparse_layout = True
    layout = _dt.sparse_coo

    # --- attributes
    @property
    def shape(self):
        return Size(self._sparse_shape)

    def size(self, dim=None):
        if dim is None:
            return Size(self._sparse_shape)
        return self._sparse_shape[_norm_dim(dim, len(self._sparse_shape), "size")]

    @property
    def ndim(self):
        return len(self._sparse_shape)

    def dim(self):
        return len(self._sparse_shape)

    ndimension = dim

    def numel(self):
        return int(np.prod(self._sparse_shape, dtype=np.int64))

    nelement = numel

    def _index_parts(self):
        return [("indices", self._indices_t)]

    def _static_meta(self):
        return (self._sparse_shape, self._coalesced)

    @classmethod
    def _from_index_parts(cls, static, index_parts, values):
        return _sparse(index_parts[0], values, static[0], static[1])

    def sparse_dim(self):
        return int(self._indices_t.shape[0])

    def dense_dim(self):
        return self._values_t.ndim - 1

    def _nnz(self):
        return int(self._indices_t.shape[1])

    def _indices(self):
        return self._indices_t

    def _values(self):
        return self._values_t

    def indices(self):
        self._need_coalesced("indices")
        return self._indices_t

    def values(self):
        self._need_coalesced("values")
        return self._values_t

    def _need_coalesced(self, what):
        if not self._coalesced:
            raise RuntimeError(f"Cannot get {what} on an uncoalesced tensor, please call "
                               ".coalesce() first")

    def is_coalesced(self):
        return self._coalesced

    # --- conversions
    def coalesce(self):
        """Entries sorted by index, duplicates summed (gradient flows to the values)."""
        if self._coalesced:
            return self
        _data_dependent(self._indices_t, "coalesce")
        idx = self._indices_t._host()
        shape = self._sparse_shape[:idx.shape[0]]
        lin = np.ravel_multi_index(tuple(idx), shape) if idx.shape[1] else \
            np.zeros(0, np.int64)
        uniq, inverse = np.unique(lin, return_inverse=True)
        new_idx = np.stack(np.unravel_index(uniq, shape)).astype(np.int64).reshape(
            len(shape), -1)
        v = self._values_t
        summed = _zeros(len(uniq), *v.shape[1:], dtype=v.dtype).index_add(
            0, _index_tensor(inverse, v), v)
        return _sparse(_index_tensor(new_idx, v), summed, self._sparse_shape, True, self._origin)

    def to_dense(self, dtype=None, *, masked_grad=True):
        v = self._values_t if dtype is None else self._values_t.to(dtype)
        out = _zeros(*self._sparse_shape, dtype=v.dtype)
        if self._nnz() == 0:
            return out + v.sum() * 0  # keeps the values in the graph
        return out.index_put(tuple(self._indices_t), v, accumulate=True)

    def to_sparse(self, sparse_dim=None, *, layout=None, blocksize=None, dense_dim=None):
        if layout in (_dt.sparse_csr, _dt.sparse_csc):
            return _COMPRESSED["from_coo"](self, layout)
        return self

    def to_sparse_coo(self, sparse_dim=None):
        return self

    def to_sparse_csr(self, dense_dim=None):
        return self.to_sparse(layout=_dt.sparse_csr)

    def to_sparse_csc(self, dense_dim=None):
        return self.to_sparse(layout=_dt.sparse_csc)

    def detach(self):
        return _sparse(self._indices_t, self._values_t.detach(), self._sparse_shape,
                       self._coalesced)

    def zero_(self):
        """No entries left (nnz 0), in place, as torch's sparse ``zero_``."""
        v = self._values_t
        self._indices_t = self._indices_t[:, :0]
        self._values_t = v.detach()[:0].clone()
        self._data = self._values_t._data
        self._coalesced = True
        self._vc[0] += 1
        return self

    def clone(self, *, memory_format=None):
        return _sparse(self._indices_t.clone(), self._values_t.clone(), self._sparse_shape,
                       self._coalesced)

    def _as_coo(self):
        return self

    def _with_values(self, v):
        idx = self._indices_t
        if v.device != idx.device:
            idx = idx.to(v.device)
        return _sparse(idx, v, self._sparse_shape, self._coalesced)

    def type(self, dtype=None, non_blocking=False, **kwargs):
        if dtype is None:
            return "torch.sparse." + Tensor.type(self._values_t).split(".")[-1]
        return self._mapped(lambda v: v.type(dtype))

    # --- maths
    def t(self):
        if self.ndim != 2 or self.sparse_dim() != 2:
            raise RuntimeError(f"t() expects a 2-D sparse tensor, got {self.ndim}-D")
        return _sparse(self._indices_t.flip(0), self._values_t, self._sparse_shape[::-1], False,
                       None if self._origin is None else self._origin.t())

    def transpose(self, dim0, dim1):
        d0, d1 = _norm_dim(dim0, self.ndim, "transpose"), _norm_dim(dim1, self.ndim, "transpose")
        if max(d0, d1) >= self.sparse_dim():
            raise RuntimeError("transpose: only sparse dimensions of a sparse tensor can be "
                               "swapped")
        perm = list(range(self.sparse_dim()))
        perm[d0], perm[d1] = perm[d1], perm[d0]
        shape = list(self._sparse_shape)
        shape[d0], shape[d1] = shape[d1], shape[d0]
        return _sparse(self._indices_t[perm], self._values_t, tuple(shape), False)

    @property
    def T(self):
        return self.t()

    @property
    def mT(self):
        return self.t()

    def __add__(self, other):
        if not (isinstance(other, TensorBase) and other.is_sparse):
            return self.to_dense() + other
        if tuple(other.shape) != tuple(self.shape):
            raise RuntimeError(f"add: expected sparse tensors of the same size, got "
                               f"{tuple(self.shape)} and {tuple(other.shape)}")
        return _sparse(_cat([self._indices_t, other._indices_t], 1),
                       _cat([self._values_t, other._values_t.to(self._values_t.dtype)], 0),
                       self._sparse_shape, False)

    add = __add__

    def __radd__(self, other):
        return other + self.to_dense()

    def sum(self, dim=None, keepdim=False, dtype=None):
        """All entries: a dense scalar; over dims: ``cadenza.sparse.sum`` (a sparse result)."""
        if dim is None:
            v = self._values_t if dtype is None else self._values_t.to(dtype)
            return v.sum()
        return self.to_dense(dtype).sum(dim, keepdim).to_sparse()

    def __repr__(self):
        ind = repr(self._indices_t).replace("\n", "\n" + " " * 15)
        val = repr(self._values_t).replace("\n", "\n" + " " * 7)
        return (f"tensor(indices={ind},\n       values={val},\n       size="
                f"{tuple(self._sparse_shape)}, nnz={self._nnz()}, layout=cadenza.sparse_coo)")

    __str__ = __repr__

    def __len__(self):
        return self._sparse_shape[0]

    def __reduce_ex__(self, protocol):
        return (_sparse, (self._indices_t, self._values_t, self._sparse_shape, self._coalesced))

    def __deepcopy__(self, memo):
        return _sparse(copy.deepcopy(self._indices_t, memo), copy.deepcopy(self._values_t, memo),
                       self._sparse_shape, self._coalesced)


def block_dense_methods(cls, layout_name):
    """Every other public Tensor method of a sparse class raises (a clear error instead of a
    wrong answer computed on the values array), and the dunders that would compute densely."""
    own = set().union(*(vars(k) for k in cls.__mro__[:cls.__mro__.index(Tensor)]))
    keep = own | {
        "backward", "register_hook", "retain_grad", "is_floating_point", "is_complex",
        "element_size", "data_ptr", "get_device",
        "dtype", "device", "is_cuda", "is_cpu", "itemsize", "nbytes", "grad", "grad_fn", "data",
        "is_sparse", "is_sparse_csr", "layout", "requires_grad"}
    for name in dir(Tensor):
        attr = getattr(Tensor, name, None)
        if name.startswith("__"):   # operators, conversions, indexing: Cadenza's dunders
            blocked = name not in _STRUCTURAL and name not in own and \
                (getattr(attr, "__module__", None) or "").startswith("cadenza")
        else:
            blocked = not name.startswith("_") and name not in keep and callable(attr) and \
                not isinstance(attr, (property, type))
        if blocked:
            setattr(cls, name, _sparse_dense_only(name, layout_name))


# the dunders a sparse class keeps from Tensor: construction, printing, identity, copying
_STRUCTURAL = {"__init__", "__repr__", "__str__", "__format__", "__hash__", "__len__",
               "__deepcopy__", "__reduce_ex__", "__dlpack_device__"}


block_dense_methods(SparseCooTensor, "sparse COO (layout cadenza.sparse_coo)")


# the CSR/CSC conversions, registered by cadenza/_sparse_compressed.py (which builds on this
# module) when it loads: "from_dense" and "from_coo"
_COMPRESSED: dict = {}


def register_compressed(from_dense, from_coo):
    _COMPRESSED.update(from_dense=from_dense, from_coo=from_coo)


def _index_tensor(arr, like):
    """An int64 index array computed from values (a constant of a compiled graph, whose
    callers checked ``_data_dependent``) as a tensor on ``like``'s device."""
    t = _created_array(np.array(arr, dtype=np.int64))
    return t if like.device.type == "cpu" else t.to(like.device)


def _sparse(indices, values, shape, coalesced=False, origin=None):
    """A sparse COO tensor; ``origin``: the dense tensor it stands for in products (see
    ``SparseMixin``)."""
    t = object.__new__(SparseCooTensor)
    _init_slots(t, values._data)
    t._indices_t = indices
    t._values_t = values
    t._sparse_shape = tuple(int(s) for s in shape)
    t._coalesced = bool(coalesced)
    t._origin = origin
    t._leaf = None
    t.grad_fn = values.grad_fn
    return t


set_sparse_constructor(_sparse)


def _sparse_matmul(a, b, op, masked=False):
    """A 2-D sparse matrix (COO, or CSR/CSC through its entries as COO) times a dense matrix or
    vector; ``masked``: the gradient reaches only the specified entries (``torch.sparse.mm``),
    else a sparse tensor that stands for a dense one (``_origin``) multiplies as that tensor
    (``torch.mm``, ``@``)."""
    if not isinstance(b, TensorBase):
        raise TypeError(f"{op}(): argument 'mat2' must be Tensor, not {type(b).__name__}")
    if b._sparse_layout:
        raise RuntimeError(f"{op}: sparse @ sparse is not supported; call .to_dense() on one "
                           "operand")
    a = a._as_coo()
    if a.ndim != 2 or a.sparse_dim() != 2 or a.dense_dim() != 0:
        raise RuntimeError(f"{op}: expected a 2-D sparse matrix, got a sparse tensor of size "
                           f"{tuple(a.shape)}")
    if b.ndim not in (1, 2) or b.shape[0] != a.shape[1]:
        raise ShapeError(f"{op}: sparse matrix of size {tuple(a.shape)} and dense operand of "
                         f"size {tuple(b.shape)} cannot be multiplied")
    if not masked and a._origin is not None:
        return a._origin @ b
    return _sparse_mm(a._indices_t, a._values_t, b, a.shape[0])
