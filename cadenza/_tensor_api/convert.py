"""Tensor's conversions and constructors-from-a-tensor: ``to`` (dtype and/or device),
``cpu``/``cuda``, ``float()``/``long()``..., ``type``, ``new_zeros``..., and the two
functional methods ``softmax``/``log_softmax``."""
from __future__ import annotations

from .. import dtypes as _dt
from .. import functional as F
from .. import ops as O
from .._creation import zeros, ones, empty, full, tensor
from .._tensor_base import TensorBase
from ..device import device as Device
from ..ops.device import to_device
from ..backend.layout import format_name

_LEGACY_NAMES = {"float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor",
                 "bfloat16": "BFloat16Tensor", "int64": "LongTensor", "int32": "IntTensor",
                 "int16": "ShortTensor", "int8": "CharTensor", "uint8": "ByteTensor",
                 "bool": "BoolTensor", "complex64": "ComplexFloatTensor",
                 "complex128": "ComplexDoubleTensor"}
_LEGACY_DTYPES = {"FloatTensor": "float32", "DoubleTensor": "float64", "LongTensor": "int64",
                  "IntTensor": "int32", "HalfTensor": "float16", "BoolTensor": "bool",
                  "ByteTensor": "uint8", "ComplexFloatTensor": "complex64",
                  "ComplexDoubleTensor": "complex128"}


def _parse_to(args, kwargs):
    dtype = kwargs.pop("dtype", None)
    device = kwargs.pop("device", None)
    copy = kwargs.pop("copy", False)
    kwargs.pop("non_blocking", None)
    memory_format = kwargs.pop("memory_format", None)
    if kwargs:
        raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
    for a in args:
        if isinstance(a, _dt.dtype) or (isinstance(a, type) and a in (float, int, bool)):
            dtype = a
        elif isinstance(a, (str, Device, int)) and not isinstance(a, bool):
            device = a
        elif isinstance(a, TensorBase):
            dtype, device = a.dtype, a.device
        elif isinstance(a, bool):
            pass  # non_blocking / copy positional flags
        elif a is not None:
            raise TypeError(f"to() received an invalid argument {a!r}")
    return dtype, device, copy, memory_format


def _in_format(t, memory_format):
    """``t`` laid out in ``memory_format`` (None and preserve_format: as it is)."""
    if format_name(memory_format) == "preserve_format":
        return t
    return O.contiguous(t, memory_format=memory_format)


def _cast_to(dtype):
    def cast(self, memory_format=None):
        return _in_format(O.to_dtype(self, dtype), memory_format)
    return cast


def _new_like(make):
    """``x.new_zeros(2, 3)``: ``make`` with x's dtype and device unless given."""
    def new(self, *size, dtype=None, device=None, requires_grad=False, **kw):
        return make(*size, dtype=dtype or self.dtype, device=device or self.device,
                    requires_grad=requires_grad, **kw)
    return new


class ConvertMethods:
    __slots__ = ()

    def to(self, *args, **kwargs):
        """Cast and/or move: ``t.to(cadenza.float64)``, ``t.to('cpu')``, ``t.to(other)``;
        ``memory_format=`` lays the result out (a copy unless it already is)."""
        dtype, device, copy, memory_format = _parse_to(args, dict(kwargs))
        out = self
        if device is not None:
            out = to_device(out, device)
        if dtype is not None:
            out = O.to_dtype(out, dtype, copy=copy and out is self)
        elif copy and out is self:
            out = O.clone(self, memory_format=memory_format)
        return _in_format(out, memory_format)

    def cpu(self, memory_format=None):
        return _in_format(to_device(self, "cpu"), memory_format)

    def cuda(self, device=None, non_blocking=False, memory_format=None):
        return _in_format(to_device(self, "cuda" if device is None else (
            f"cuda:{device}" if isinstance(device, int) else device)), memory_format)

    def type(self, dtype=None, non_blocking=False, **kwargs):
        if dtype is None:
            return f"torch.{_LEGACY_NAMES[self.dtype.name]}"
        if isinstance(dtype, str):
            dtype = _LEGACY_DTYPES.get(dtype.split(".")[-1], dtype)
        elif isinstance(dtype, type) and hasattr(dtype, "_dtype_name"):
            dtype = _dt.to_dtype(dtype._dtype_name)       # cadenza.DoubleTensor ...
        return O.to_dtype(self, dtype)

    def type_as(self, other):
        return O.to_dtype(self, other.dtype)

    float = _cast_to(_dt.float32)
    double = _cast_to(_dt.float64)
    half = _cast_to(_dt.float16)
    long = _cast_to(_dt.int64)
    int = _cast_to(_dt.int32)
    short = _cast_to(_dt.int16)
    char = _cast_to(_dt.int8)
    byte = _cast_to(_dt.uint8)
    bool = _cast_to(_dt.bool)

    def bfloat16(self, memory_format=None):
        if _dt.bfloat16 is None:
            raise TypeError("bfloat16: this dtype needs the ml_dtypes package "
                            "(pip install 'cadenza[bf16]')")
        return _in_format(O.to_dtype(self, _dt.bfloat16), memory_format)

    new_zeros = _new_like(zeros)
    new_ones = _new_like(ones)
    new_empty = _new_like(empty)

    def new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False,
                 layout=None, pin_memory=False):
        return full(size, fill_value, dtype=dtype or self.dtype, requires_grad=requires_grad,
                    device=device if device is not None else self.device)

    def new_tensor(self, data, *, dtype=None, device=None, requires_grad=False, layout=None,
                   pin_memory=False):
        return tensor(data, dtype=dtype or self.dtype, requires_grad=requires_grad,
                      device=device if device is not None else self.device)

    def softmax(self, dim, dtype=None):
        return F.softmax(self, dim, dtype=dtype)

    def log_softmax(self, dim, dtype=None):
        return F.log_softmax(self, dim, dtype=dtype)
