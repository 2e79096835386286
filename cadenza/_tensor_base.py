"""TensorBase: the data model every tensor is an instance of (a backend array plus autograd
state): attributes, conversions, detach and the repr. It sits below the op layer, so ops can
create and inspect tensors; the public ``cadenza.Tensor`` (``cadenza/_tensor.py``) is
TensorBase plus the method mixins of ``cadenza/_tensor_api/`` (operators, maths, shapes,
in-place methods, conversions, autograd), defined above the ops they call. ``_make`` builds
instances of that public class, which registers itself with ``set_tensor_class``."""
from __future__ import annotations

import numpy as np

from . import dtypes as _dt
from ._dispatch import state as _grad_state
from ._repr import tensor_repr
from .backend import backend_of_array
from .backend.meta import MetaArray
from .backend import layout as _layout
from .device import device as _device, _CPU, _META

_new = object.__new__


class Size(tuple):
    """torch.Size: a tuple of ints with ``numel()``."""

    def numel(self) -> int:
        n = 1
        for s in self:
            n *= s
        return n

    def __repr__(self) -> str:
        return f"{_dt.repr_name}.Size([{', '.join(str(s) for s in self)}])"

    def __getitem__(self, item):
        r = tuple.__getitem__(self, item)
        return Size(r) if type(item) is slice else r


class InferenceVersion(list):
    """The version counter of an inference tensor (made under ``inference_mode``): torch's
    inference tensors have none, so reading ``_version`` raises, and any write that bumps it
    outside inference mode raises as torch's in-place check does."""
    __slots__ = ()

    def __setitem__(self, i, v):
        if not _grad_state._inference:
            raise RuntimeError(INFERENCE_INPLACE)
        list.__setitem__(self, i, v)


META_ITEM = "Tensor.item() cannot be called on meta tensors"
INFERENCE_INPLACE = ("Inplace update to inference tensor outside InferenceMode is not allowed."
                     "You can make a clone to get a normal tensor before doing inplace update."
                     "See https://github.com/pytorch/rfcs/pull/17 for more details.")


def _init_slots(t, arr, requires_grad=False, grad_fn=None):
    t._data = arr
    t._requires_grad = requires_grad
    t.grad = None
    t.grad_fn = grad_fn
    t._vc = [0] if not _grad_state._inference else InferenceVersion((0,))  # shared by views
    t._base = None
    t._accum = None
    t._retains_grad = False
    t._view = None


def _make(arr, requires_grad=False, grad_fn=None):
    """Wrap a backend array without copying (the hot path: no validation; the stores of
    ``_init_slots`` written out, one call less per op)."""
    t = _new(_tensor_class)
    t._data = arr
    t._requires_grad = requires_grad
    t.grad = None
    t.grad_fn = grad_fn
    t._vc = [0] if not _grad_state._inference else InferenceVersion((0,))
    t._base = None
    t._accum = None
    t._retains_grad = False
    t._view = None
    return t


class TensorBase:
    """The data model of ``cadenza.Tensor`` (see the module docstring)."""

    # _view (None, or set on views and re-based bases): autograd/views.py's bookkeeping
    __slots__ = ("_data", "_requires_grad", "grad", "grad_fn", "_vc", "_base", "_accum",
                 "_retains_grad", "_view", "__weakref__")
    # Make NumPy defer to Tensor's reflected operators (ndarray * Tensor -> Tensor.__rmul__).
    __array_ufunc__ = None
    __array_priority__ = 1000
    is_sparse = False      # True for the sparse COO subclass (cadenza/_tensor.py)
    _sparse_layout = False  # True for every sparse class (COO, CSR/CSC)
    layout = _dt.strided

    def __init__(self, *args, dtype=None, device=None, requires_grad=False):
        # torch.Tensor(2, 3) makes an uninitialised float tensor; torch.Tensor([1, 2]) copies
        # data as the default float dtype.
        if args and all(isinstance(a, (int, np.integer)) and not isinstance(a, bool)
                        for a in args):
            arr = np.empty(tuple(int(a) for a in args), dtype=_dt.to_dtype(dtype).np)
        elif len(args) == 1:
            src = args[0]
            if isinstance(src, TensorBase):
                src = src._data
            arr = np.array(src, dtype=_dt.to_dtype(dtype).np)
        elif not args:
            arr = np.empty((0,), dtype=_dt.to_dtype(dtype).np)
        else:
            raise TypeError(f"Tensor(): expected sizes or one data argument, got {args!r}")
        _init_slots(self, arr)
        if requires_grad:
            self.requires_grad = True

    # ------------------------------------------------------------------ attributes
    @property
    def shape(self) -> Size:
        return Size(self._data.shape)

    def size(self, dim=None):
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[_norm_dim(dim, self._data.ndim, "size")]

    @property
    def dtype(self):
        return _dt.from_numpy_dtype(self._data.dtype)

    @property
    def device(self):
        if type(self._data) is np.ndarray:
            return _CPU
        if type(self._data) is MetaArray:
            return _META
        return _device("cuda", int(self._data.device.id))

    @property
    def is_meta(self) -> bool:
        """Whether this is a meta tensor (``device='meta'``: a shape and a dtype, no data)."""
        return type(self._data) is MetaArray

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    @property
    def is_cpu(self) -> bool:
        return self.device.type == "cpu"

    @property
    def ndim(self) -> int:
        return self._data.ndim

    def dim(self) -> int:
        return self._data.ndim

    ndimension = dim

    def numel(self) -> int:
        return int(self._data.size)

    nelement = numel

    def element_size(self) -> int:
        return self._data.itemsize

    @property
    def itemsize(self) -> int:
        return self._data.itemsize

    @property
    def nbytes(self) -> int:
        return int(self._data.nbytes)

    def stride(self, dim=None):
        if type(self._data) is MetaArray:   # no storage: the strides of a contiguous tensor
            st = _contiguous_strides(self._data.shape)
        else:
            st = tuple(s // self._data.itemsize for s in self._data.strides)
        return st if dim is None else st[_norm_dim(dim, self._data.ndim, "stride")]

    def is_contiguous(self, memory_format=None) -> bool:
        """Row-major contiguous; with ``channels_last`` (``channels_last_3d``), contiguous in
        the order N, H, W, C (N, D, H, W, C) of a 4-d (5-d) tensor."""
        name = getattr(memory_format, "name", None)
        if type(self._data) is MetaArray:
            return name not in _layout.ORDERS
        return _layout.is_format_contiguous(self._data, name)

    def is_floating_point(self) -> bool:
        return self._data.dtype.kind == "f" or self.dtype.is_floating_point

    def is_complex(self) -> bool:
        return self._data.dtype.kind == "c"

    def data_ptr(self) -> int:
        if type(self._data) is MetaArray:
            return 0
        return int(self._data.__array_interface__["data"][0])

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool):
        value = bool(value)
        if self.grad_fn is not None:
            if not value:
                raise RuntimeError(
                    "you can only change requires_grad flags of leaf variables. If you want to "
                    "use a computed variable in a subgraph that doesn't require differentiation "
                    "use var_no_grad = var.detach().")
            return
        if value and not (self.is_floating_point() or self._data.dtype.kind == "c"):
            raise RuntimeError("only Tensors of floating point and complex dtype can require "
                               f"gradients, got {self.dtype}")
        if value and type(self._vc) is InferenceVersion and not _grad_state._inference:
            raise RuntimeError("Setting requires_grad=True on inference tensor outside "
                               "InferenceMode is not allowed.")
        self._requires_grad = value

    def requires_grad_(self, requires_grad: bool = True):
        self.requires_grad = requires_grad
        return self

    @property
    def _version(self) -> int:
        if type(self._vc) is InferenceVersion:
            raise RuntimeError("Inference tensors do not track version counter.")
        return self._vc[0]

    @property
    def data(self):
        """The same storage, detached from the graph (and without sharing the version counter,
        as in PyTorch; an inference tensor's stays one)."""
        t = _make(self._data)
        if type(self._vc) is InferenceVersion:
            t._vc = InferenceVersion((0,))
        return t

    @data.setter
    def data(self, value):
        if not isinstance(value, TensorBase):
            raise TypeError(f"Tensor.data: expected a Tensor, got {type(value).__name__}")
        self._data = value._data

    def is_inference(self) -> bool:
        """Whether this is an inference tensor: made under ``inference_mode`` (or a view or
        ``detach`` of one)."""
        return type(self._vc) is InferenceVersion

    def retains_grad_get(self):
        return self._retains_grad

    retains_grad = property(retains_grad_get)

    def detach(self):
        t = _make(self._data)
        t._vc = self._vc  # detach shares storage and version counter with self
        return t

    def detach_(self):
        if self._base is not None and self._base._requires_grad:
            raise RuntimeError("Can't detach views in-place. Use detach() instead.")
        self.grad_fn = None
        self._requires_grad = False
        return self

    # ------------------------------------------------------------------ conversions
    def item(self):
        if _grad_state.tracer is not None:
            _grad_state.tracer.concrete(self, "item()")
        a = self._data
        if a.size != 1:
            raise RuntimeError(f"a Tensor with {a.size} elements cannot be converted to Scalar")
        if type(a) is MetaArray:
            raise RuntimeError(META_ITEM)
        if a.dtype.kind == "V":   # bfloat16 (ml_dtypes), the one such dtype: item() is its scalar
            return float(a.reshape(()))
        # NumPy's (and CuPy's) item(): the Python float, bool, complex or int, one call
        return a.item()

    def tolist(self):
        if _grad_state.tracer is not None:
            _grad_state.tracer.concrete(self, "tolist()")
        a = self._host()
        dt = a.dtype
        if dt.itemsize == 2 and dt.kind in "fV":   # float16, bfloat16 (NumPy's dtype.name is
            a = a.astype(np.float32)               # slow Python code: read on every call)
        return a.tolist()

    def numpy(self, force: bool = False):
        if _grad_state.tracer is not None:
            _grad_state.tracer.concrete(self, "numpy()")
        if self._requires_grad and not force:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. "
                               "Use tensor.detach().numpy() instead.")
        if type(self._data) is not np.ndarray:
            if not force or type(self._data) is MetaArray:
                raise TypeError(f"can't convert {self.device} device type tensor to numpy. "
                                "Use Tensor.cpu() to copy the tensor to host memory first.")
            return self._host()
        return self._data

    def _host(self):
        """The values as a NumPy array (copied from a device; a meta tensor has none)."""
        a = self._data
        return a if type(a) is np.ndarray else backend_of_array(a).to_numpy(a)

    def _pickled(self):
        """The array a pickle of this tensor holds: a host copy (a meta tensor's own array,
        which pickles as shape and dtype)."""
        return self._data if type(self._data) is MetaArray else np.array(self._host())

    def __array__(self, dtype=None, copy=None):
        if _grad_state.tracer is not None:
            _grad_state.tracer.concrete(self, "conversion to a NumPy array")
        a = self._host()
        if dtype is not None:
            a = a.astype(dtype, copy=False)
        return a

    def __dlpack__(self, *args, **kwargs):
        if self._requires_grad:
            raise RuntimeError("Can't export a Tensor that requires grad with DLPack; "
                               "use tensor.detach() first")
        return self._data.__dlpack__(*args, **kwargs)

    def __dlpack_device__(self):
        return self._data.__dlpack_device__()

    def __bool__(self) -> bool:
        if _grad_state.tracer is not None:
            _grad_state.tracer.concrete(self, "bool")
        if self._data.size != 1:
            raise RuntimeError(f"Boolean value of Tensor with {self._data.size} elements is "
                               "ambiguous")
        if type(self._data) is MetaArray:
            raise RuntimeError(META_ITEM)
        return bool(self._data.reshape(()))

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if _grad_state.tracer is not None:
            _grad_state.tracer.concrete(self, "__index__")
        if self._data.dtype.kind not in "iub" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an "
                            "index")
        if type(self._data) is MetaArray:
            raise RuntimeError(META_ITEM)
        return int(self._data.reshape(()))

    def __complex__(self):
        return complex(self.item())

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._data.shape[0]))

    def __hash__(self) -> int:
        return id(self)

    def __format__(self, spec: str) -> str:
        if _grad_state.tracer is not None:
            _grad_state.tracer.concrete(self, "print")
        if self._data.ndim == 0:
            return format(self.item(), spec)
        return format(str(self), spec)

    def __repr__(self) -> str:
        if _grad_state.tracer is not None:
            _grad_state.tracer.concrete(self, "print")
        return tensor_repr(self)

    __str__ = __repr__


_tensor_class = TensorBase   # replaced by cadenza.Tensor when cadenza/_tensor.py loads


def set_tensor_class(cls) -> None:
    """Make ``_make`` (every op's output) build instances of ``cls`` (cadenza.Tensor)."""
    global _tensor_class
    _tensor_class = cls


# sparse_coo(indices, values, shape) -> a sparse COO tensor: set by cadenza/_tensor.py, which
# defines the class, for the layers below it that make one (an embedding's sparse gradient)
sparse_coo = None


def set_sparse_constructor(fn) -> None:
    global sparse_coo
    sparse_coo = fn


def _contiguous_strides(shape) -> tuple:
    st, n = [], 1
    for s in reversed(shape):
        st.append(n)
        n *= max(s, 1)
    return tuple(reversed(st))


def _norm_dim(dim, ndim, op="dim"):
    """Wrap a possibly negative dim into range, with PyTorch's IndexError."""
    n = max(ndim, 1)
    if dim < -n or dim >= n:
        raise IndexError(f"{op}: Dimension out of range (expected to be in range of "
                         f"[{-n}, {n - 1}], but got {dim})")
    return dim + n if dim < 0 else dim
