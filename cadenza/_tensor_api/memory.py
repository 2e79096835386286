"""Tensor's memory and device queries and in-place metadata changes (issue 10): where the data
lives (``storage_offset``, ``is_pinned``/``pin_memory``, ``share_memory_``, ``get_device``,
``is_meta``...), size predicates (``is_same_size``, ``is_signed``, ``is_set_to``), the in-place
shape changes (``squeeze_``, ``t_``, ``transpose_``, ``as_strided_``, ``resize_``), the legacy
constructors ``new``/``new_empty_strided`` and ``map_``/``map2_``."""
from __future__ import annotations

import mmap
import warnings

import numpy as np

from .. import ops as O
from .. import functional as F
from .._creation import empty, tensor
from .. import dtypes as _dt
from .._tensor_base import TensorBase, _init_slots
from ..device import device as Device
from .._trace_hooks import untraceable
from ..ops.inplace import check_inplace
from ..ops.scatters import _element_offset


from ..dtypes import layout, strided  # noqa: F401 (re-exported: torch.layout, torch.strided)


def _root(a):
    """The array that owns the memory ``a`` views."""
    while isinstance(getattr(a, "base", None), type(a)):
        a = a.base
    return a


class _SharedMap(mmap.mmap):
    """An anonymous ``MAP_SHARED`` mapping that ``share_memory_`` moved a buffer into: a process
    forked afterwards maps the same pages, so writes on either side are seen by both. The
    mapping is unmapped when the last array viewing it goes."""


def _in_shared_memory(a) -> bool:
    if hasattr(a, "__cuda_array_interface__"):
        return True     # device memory: other processes reach it by IPC, as in PyTorch
    return isinstance(getattr(_root(a), "base", None), _SharedMap)


def _remap(a, root, shared):
    """``a`` (a view of ``root``) as the same view of ``shared``, root's copy."""
    offset = a.__array_interface__["data"][0] - root.__array_interface__["data"][0]
    out = np.ndarray(a.shape, a.dtype, buffer=shared.base, offset=offset, strides=a.strides)
    out.flags.writeable = a.flags.writeable
    return out


def _share_memory(t, what: str):
    """Move ``t``'s buffer into shared memory in place: same values, shape, strides and dtype;
    the tensor it views (``_base``) moves with it. Other views of the old buffer made before
    keep the old memory (they hold its array, not the tensor)."""
    arr = t._data
    if type(arr) is not np.ndarray:
        if hasattr(arr, "__cuda_array_interface__"):
            return t    # CUDA memory is shared by IPC handles: nothing to move
        raise RuntimeError(f"{what}: only available on CPU, got a tensor on device {t.device}")
    if _in_shared_memory(arr):
        return t
    root = _root(arr)
    if not (root.flags.c_contiguous or root.flags.f_contiguous):
        root = arr      # an as_strided/broadcast buffer: share a dense copy of this view only
    block = _SharedMap(-1, max(root.nbytes, 1))
    shared = np.ndarray(root.shape, root.dtype, buffer=block,
                        order="C" if root.flags.c_contiguous else "F")
    shared[...] = root
    for owner in (t, t._base):
        if owner is not None and type(owner._data) is np.ndarray and (
                owner is t or _root(owner._data) is root):
            owner._data = _remap(owner._data, root, shared) if root is not arr else shared
    return t


class UntypedStorage:
    """``torch.UntypedStorage``: the bytes of the buffer a tensor views (``x.untyped_storage()``;
    every view of one buffer has the same storage, ``data_ptr`` and ``nbytes``)."""

    def __init__(self, array):
        self._array = _root(array)

    def _bytes(self):
        return self._array.reshape(-1).view(np.uint8) if self._array.flags["C_CONTIGUOUS"] \
            else np.ascontiguousarray(self._array).reshape(-1).view(np.uint8)

    def data_ptr(self) -> int:
        return int(self._array.__array_interface__["data"][0])

    def nbytes(self) -> int:
        return int(self._array.nbytes)

    size = nbytes
    __len__ = nbytes

    def element_size(self) -> int:
        return 1

    @property
    def device(self):
        return Device("cpu")

    @property
    def dtype(self):
        return _dt.uint8

    def tolist(self):
        return self._bytes().tolist()

    def __getitem__(self, i):
        return self._bytes()[i].tolist()

    def cpu(self):
        return self

    def is_shared(self) -> bool:
        return _in_shared_memory(self._array)

    def share_memory_(self):
        """Already-shared storage is returned; otherwise the tensor owning it must move it."""
        if not self.is_shared():
            raise RuntimeError("UntypedStorage.share_memory_: call share_memory_() on the "
                               "tensor that views this storage (Cadenza moves a tensor's "
                               "buffer, not a bare storage)")
        return self

    def __eq__(self, other):
        return isinstance(other, UntypedStorage) and other._array is self._array

    def __hash__(self):
        return id(self._array)

    def __repr__(self):
        return f"cadenza.UntypedStorage(nbytes={self.nbytes()}, data_ptr={self.data_ptr()})"


class TypedStorage(UntypedStorage):
    """``torch.TypedStorage`` (``x.storage()``): the buffer's elements in the tensor's dtype."""

    def __init__(self, array, dtype):
        super().__init__(array)
        self._dtype = dtype

    @property
    def dtype(self):
        return self._dtype

    def size(self) -> int:
        return int(self._array.size)

    __len__ = size

    def element_size(self) -> int:
        return int(self._array.itemsize)

    def untyped(self):
        return UntypedStorage(self._array)

    def tolist(self):
        return self._array.reshape(-1).tolist() if self._array.flags["C_CONTIGUOUS"] else \
            np.ascontiguousarray(self._array).reshape(-1).tolist()

    def __getitem__(self, i):
        return np.ascontiguousarray(self._array).reshape(-1)[i].tolist()

    def __repr__(self):
        return f"cadenza.TypedStorage(dtype={self._dtype}, size={self.size()})"


def _inplace_view(self, out, name):
    """Make ``self`` the view ``out`` of its own data (squeeze_, transpose_, ...): its shape and
    strides change, its graph node becomes out's."""
    untraceable(f"Tensor.{name}", "use the out-of-place form (x = x.squeeze())", self)
    check_inplace(self, name)
    self._data = out._data
    if out.grad_fn is not None:
        self.grad_fn = out.grad_fn
        self._requires_grad = True
    self._vc[0] += 1
    return self


def _false(self) -> bool:
    return False


class MemoryMethods:
    __slots__ = ()

    # --- where the data lives: host memory, a NumPy buffer (or a CuPy one on CUDA)
    is_meta = property(_false)
    is_mkldnn = property(_false)
    is_mps = property(_false)
    is_xla = property(_false)
    is_xpu = property(_false)
    is_ipu = property(_false)
    is_maia = property(_false)
    is_mtia = property(_false)
    is_vulkan = property(_false)
    is_nested = property(_false)
    is_quantized = property(_false)

    def untyped_storage(self):
        return UntypedStorage(self._data)

    def record_stream(self, stream) -> None:
        """Mark this (CUDA) tensor's memory as in use by ``stream``: a no-op, Cadenza's CUDA
        ops run in order on one stream. ``stream`` must be a stream (torch.Stream,
        torch.cuda.Stream, torch.cpu.Stream); a CPU tensor raises NotImplementedError, as
        torch's (the op has no CPU kernel)."""
        if not all(hasattr(stream, a) for a in ("query", "synchronize", "wait_event")):
            raise RuntimeError(f"record_stream(): expected a Stream, got "
                               f"{type(stream).__name__} (unknown parameter type)")
        if self.device.type == "cpu":
            raise NotImplementedError("record_stream: not supported for CPU tensors (torch "
                                      "has no CPU kernel for aten::record_stream; it marks "
                                      "CUDA memory in use by another stream)")

    def storage(self):
        warnings.warn("TypedStorage is deprecated. It will be removed in the future and "
                      "UntypedStorage will be the only storage class.", UserWarning)
        return TypedStorage(self._data, self.dtype)

    def set_(self, source=None, storage_offset=0, size=None, stride=None):
        """Make self view ``source``'s memory (all of it, or ``size``/``stride`` from
        ``storage_offset``); with no source, an empty tensor."""
        untraceable("Tensor.set_", "use the source tensor itself", self)
        check_inplace(self, "set_")
        if source is None:
            self._data = np.empty((0,), self._data.dtype)
        else:
            arr = source._data if isinstance(source, TensorBase) else source._array
            if arr.dtype != self._data.dtype:
                raise RuntimeError(f"Could not set tensor of type {self.dtype.name} to a "
                                   f"tensor of type {_dt.from_numpy_dtype(arr.dtype).name}")
            if size is not None:
                flat = _root(arr).reshape(-1)
                size = tuple(int(v) for v in size)
                stride = tuple(int(v) for v in stride) if stride is not None else tuple(
                    int(np.prod(size[i + 1:], dtype=np.int64)) for i in range(len(size)))
                arr = np.lib.stride_tricks.as_strided(
                    flat[int(storage_offset):], size, tuple(v * flat.itemsize for v in stride))
            self._data = arr
            if isinstance(source, TensorBase):
                self._vc = source._vc
        self._vc[0] += 1
        return self

    def as_subclass(self, cls):
        """A ``cls`` instance (a Tensor subclass) viewing self's data, in self's graph."""
        if not (isinstance(cls, type) and issubclass(cls, TensorBase)):
            raise TypeError(f"as_subclass(): argument 'cls' must be a subclass of Tensor, "
                            f"not {cls!r}")
        out = object.__new__(cls)
        _init_slots(out, self._data, self._requires_grad, self.grad_fn)
        out._vc = self._vc
        out._base = self._base
        return out

    def is_distributed(self) -> bool:
        return False

    def storage_offset(self) -> int:
        """The offset, in elements, of the first element within the buffer it views."""
        return _element_offset(self)

    def const_data_ptr(self) -> int:
        return self.data_ptr()

    def get_device(self) -> int:
        """-1 on the CPU, else the CUDA device index."""
        return -1 if self.device.type == "cpu" else (self.device.index or 0)

    def is_pinned(self, device=None) -> bool:
        return False

    def pin_memory(self, device=None):
        """Page-locked memory only matters for copies to a GPU: the tensor itself on the CPU."""
        return self

    def is_shared(self) -> bool:
        """Whether the data lives in shared memory (``share_memory_``; CUDA memory is)."""
        return _in_shared_memory(self._data)

    def share_memory_(self):
        """Move the data into shared memory in place (an anonymous ``MAP_SHARED`` mapping): a
        process started afterwards with the fork start method (``torch.multiprocessing``) sees
        and writes the same values, as in Hogwild training. Values, shape, strides, dtype and
        autograd state are unchanged; views made afterwards view the shared memory; a no-op
        when already shared and on CUDA (a sparse COO tensor refuses it, as every dense-only
        method does). Returns self."""
        return _share_memory(self, "share_memory_")

    def is_set_to(self, tensor) -> bool:
        """Whether both tensors view the same memory with the same shape and strides."""
        a, b = self._data, tensor._data
        return a.dtype == b.dtype and a.shape == b.shape and a.strides == b.strides and \
            self.data_ptr() == tensor.data_ptr()

    def is_nonzero(self) -> bool:
        """The truth of a one-element tensor (RuntimeError for any other)."""
        if self._data.size != 1:
            raise RuntimeError("Boolean value of Tensor with " + (
                "no values is ambiguous" if self._data.size == 0 else
                "more than one value is ambiguous"))
        return bool(self._data.reshape(-1)[0])

    def is_same_size(self, other) -> bool:
        return tuple(self.shape) == tuple(other.shape)

    def is_signed(self) -> bool:
        k = self._data.dtype.kind
        return k in "fiV"

    # --- in-place shape changes (views of the same data)
    def squeeze_(self, dim=None):
        return _inplace_view(self, O.squeeze(self, dim), "squeeze_")

    def unsqueeze_(self, dim):
        return _inplace_view(self, O.unsqueeze(self, dim), "unsqueeze_")

    def transpose_(self, dim0, dim1):
        return _inplace_view(self, O.transpose(self, dim0, dim1), "transpose_")

    swapaxes_ = swapdims_ = transpose_

    def t_(self):
        return _inplace_view(self, O.t(self), "t_")

    def as_strided_(self, size, stride, storage_offset=None):
        return _inplace_view(self, O.as_strided(self, size, stride, storage_offset),
                             "as_strided_")

    def resize_(self, *sizes, memory_format=None):
        """Change the shape to ``sizes``: the first elements kept in order, new ones zero."""
        shape = tuple(int(s) for s in (sizes[0] if len(sizes) == 1 and isinstance(
            sizes[0], (tuple, list)) else sizes))
        if self._requires_grad:
            raise RuntimeError("cannot resize variables that require grad")
        untraceable("Tensor.resize_", "build a new tensor instead", self)
        n = int(np.prod(shape, dtype=np.int64))
        if n == self._data.size:
            self._data = self._data.reshape(shape)
        else:
            flat = np.zeros(n, self._data.dtype)
            k = min(n, self._data.size)
            flat[:k] = self._data.reshape(-1)[:k]
            self._data = flat.reshape(shape)
        self._vc[0] += 1
        return self

    def resize_as_(self, tensor, memory_format=None):
        return self.resize_(tuple(tensor.shape))

    def resize(self, *sizes):
        warnings.warn("non-inplace resize is deprecated")
        return self.reshape(*sizes)

    def resize_as(self, tensor):
        warnings.warn("non-inplace resize_as is deprecated")
        return self.reshape(tuple(tensor.shape))

    # --- legacy constructors
    def new(self, *args, device=None):
        """``x.new(2, 3)``: an uninitialised tensor of x's dtype; ``x.new(data)``: data as a
        tensor of x's dtype; ``x.new()``: an empty one."""
        if len(args) == 1 and not isinstance(args[0], int):
            a = args[0]
            if isinstance(a, TensorBase):
                if a.dtype is not self.dtype:
                    raise TypeError(f"new(): expected a tensor of dtype {self.dtype.name}, got "
                                    f"{a.dtype.name}")
                return a.detach()
            if isinstance(a, (tuple, list)) and not all(isinstance(v, int) for v in a):
                return tensor(a, dtype=self.dtype)
            if isinstance(a, (tuple, list)):   # torch reads a list of ints as data too
                return tensor(list(a), dtype=self.dtype)
            if hasattr(a, "__iter__") and not isinstance(a, str):
                return tensor(list(a), dtype=self.dtype)
        return empty(*args, dtype=self.dtype) if args else empty(0, dtype=self.dtype)

    def new_empty_strided(self, size, stride, *, dtype=None, device=None, requires_grad=False,
                          layout=None, pin_memory=False):
        return empty(tuple(size), dtype=dtype or self.dtype, requires_grad=requires_grad)

    # --- Python callables over the elements (CPU, as in PyTorch)
    def map_(self, tensor, callable):
        """self[i] = callable(self[i], tensor[i]) (tensor broadcast to self)."""
        if tensor.dtype is not self.dtype:
            raise TypeError(f"map_: expected a tensor of dtype {self.dtype.name} for 'other', "
                            f"got {tensor.dtype.name}")
        other = np.broadcast_to(np.asarray(tensor._host()), self._data.shape)
        self._data[...] = np.vectorize(callable, otypes=[self._data.dtype])(self._data, other)
        self._vc[0] += 1
        return self

    def map2_(self, x, y, callable):
        a = np.broadcast_to(np.asarray(x._host()), self._data.shape)
        b = np.broadcast_to(np.asarray(y._host()), self._data.shape)
        self._data[...] = np.vectorize(callable, otypes=[self._data.dtype])(self._data, a, b)
        self._vc[0] += 1
        return self

    # --- nn.functional's methods
    def hardshrink(self, lambd=0.5):
        return F.hardshrink(self, lambd)

    def prelu(self, weight):
        return F.prelu(self, weight)


__all__ = ["MemoryMethods", "TypedStorage", "UntypedStorage", "layout", "strided"]

