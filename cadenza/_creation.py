"""Tensor creation: from data (tensor, as_tensor, from_numpy, from_dlpack), filled
(zeros, ones, full, empty and their _like), ranges (arange, linspace, logspace, eye) and random
(rand, randn, randint, randperm, normal, bernoulli, multinomial), with PyTorch's dtype inference
and ``generator=`` everywhere."""
from __future__ import annotations

import builtins
import functools
import inspect
import math

import numpy as np

from . import dtypes as _dt
from ._tensor_base import TensorBase as Tensor, _make
from .device import as_device, _default as _default_device
from .random import _rng, fill_normal, fill_uniform, sample as _sample
from .errors import DTypeError
from ._dispatch import state as _gstate
from ._argforms import numpy_aliases
from ._trace_hooks import traced_random
from ._out import _write_out, writes_out  # noqa: F401  (writes_out: the ops' import)
from .backend import cuda, meta as _meta, layout as _layout
from .errors import DeviceError


def _wrap_np(arr):
    return _created(_make(np.asarray(arr)))


def _created(t):
    """Every creation function's result passes here: while compile traces, a constant."""
    if _gstate.tracer is not None:
        _gstate.tracer.created(t)
    return t


def _place(arr, device, requires_grad=False):
    """``arr`` as a new tensor on ``device`` (None: the default device)."""
    dev = as_device(device) if device is not None else _default_device[0]
    if dev is not None:
        if dev.type == "cuda":
            arr = cuda.asarray(arr, index=dev.index)
        elif dev.type == "meta":
            arr = _meta.asarray(arr)
        elif dev.type != "cpu":
            raise DeviceError(f"cadenza: device '{dev}' is not supported; expected 'cpu', "
                              "'cuda' or 'meta'")
    t = _make(arr)
    if requires_grad:
        t.requires_grad = True
    return _created(t)


def _on_meta(device) -> bool:
    """Whether a factory function given ``device`` (None: the default) makes a meta tensor:
    random ones then draw nothing (torch's meta tensors leave the generators untouched)."""
    dev = as_device(device) if device is not None else _default_device[0]
    return dev is not None and dev.type == "meta"


def _size(size):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    elif len(size) == 1 and isinstance(size[0], Tensor):
        size = tuple(size[0].tolist()) if size[0].ndim else (int(size[0]),)
    out = []
    for s in size:
        if isinstance(s, Tensor):
            s = int(s)
        if not isinstance(s, (int, np.integer)) or isinstance(s, bool):
            raise TypeError(f"expected a sequence of integers as size, got {size!r}")
        if s < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {s}: "
                               f"{list(size)}")
        out.append(int(s))
    return tuple(out)



def _creates(fn):
    """PyTorch's argument forms for a creation function: those of ``_argforms`` (``size=`` as a
    keyword for ``*size``: ``torch.zeros(size=(2, 3))``), and ``out=`` (the result written into
    ``out``, in ``out``'s dtype unless ``dtype=`` is given)."""
    has_dtype = "dtype" in inspect.signature(fn).parameters
    call = numpy_aliases(fn)

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        out = kwargs.pop("out", None)
        if out is None:
            return call(*args, **kwargs)
        if has_dtype and isinstance(out, Tensor):
            if kwargs.get("dtype") is None:
                kwargs["dtype"] = out.dtype
            elif _dt.to_dtype(kwargs["dtype"]) is not out.dtype:
                raise RuntimeError(f"{fn.__name__}(): dtype {_dt.to_dtype(kwargs['dtype'])} "
                                   f"does not match dtype of out parameter ({out.dtype})")
        return _write_out(out, call(*args, **kwargs), fn.__name__)
    wrapper.__numpy_aliases__ = True
    return wrapper


def _host_array(arr, fn: str):
    """A NumPy array as Cadenza keeps it: an ndarray subclass (``np.memmap``, ``np.matrix``)
    becomes a plain ndarray view of the same memory; byte orders and negative strides that
    PyTorch refuses are refused with its error."""
    if type(arr) is not np.ndarray:
        arr = arr.view(np.ndarray)
    if not arr.dtype.isnative:
        raise ValueError(f"{fn}: given numpy array has byte order different from the native "
                         f"byte order. Conversion between byte orders is currently not "
                         f"supported.")
    if arr.size and builtins.min(arr.strides, default=0) < 0:
        raise ValueError(f"{fn}: At least one stride in the given numpy array is negative, and "
                         f"tensors with negative strides are not currently supported. (You can "
                         f"probably work around this by making a copy of your array with "
                         f"array.copy().)")
    return arr


def _element_dtype(x):
    """The dtype one element of ``tensor()``'s data asks for: a Python number its category's
    default, a NumPy scalar or array, or a tensor its own dtype (as PyTorch infers)."""
    if isinstance(x, (bool, np.bool_)):
        return _dt.bool
    if isinstance(x, Tensor):
        return x.dtype
    if isinstance(x, (np.ndarray, np.generic)):
        return _dt.from_numpy_dtype(x.dtype)
    if isinstance(x, int):
        return _dt.int64
    if isinstance(x, float):
        return _dt.get_default_dtype()
    if isinstance(x, complex):
        return _dt.get_default_dtype().to_complex()
    raise TypeError(f"tensor: could not infer dtype of {type(x).__name__}")


def _infer_dtype(data):
    """PyTorch's inference: the promotion (``promote_types``) of every element's dtype, where
    bool -> bool, int -> int64, float -> the default float, and NumPy scalars, arrays and
    tensors bring their own dtype (``[np.int32(1)]`` is int32, ``[np.float64(1), 2]``
    float64); empty data is the default float."""
    if isinstance(data, np.ndarray) or isinstance(data, np.generic):
        return _dt.from_numpy_dtype(data.dtype)
    if isinstance(data, Tensor):
        return data.dtype
    out = None
    stack = [data]
    while stack:
        x = stack.pop()
        if isinstance(x, (list, tuple)):
            stack.extend(x)
            continue
        d = _element_dtype(x)
        out = d if out is None else _dt.promote_types(out, d)
    return _dt.get_default_dtype() if out is None else out


# the dtype of tensor() data whose elements are Python numbers of these exact types
_NUMBER_DTYPES = {
    frozenset((float,)): _dt.get_default_dtype,
    frozenset((int,)): lambda: _dt.int64,
    frozenset((bool,)): lambda: _dt.bool,
    frozenset((int, float)): _dt.get_default_dtype,
}


def _number_types(data):
    """The set of element types of a list or tuple of Python numbers (float, int, bool as
    ``_NUMBER_DTYPES`` lists), flat or of flat lists, found in one pass at C speed; None for
    any other data (tensor() then infers element by element)."""
    t = type(data)
    if t is not list and t is not tuple:
        return None
    kinds = frozenset(map(type, data))
    if kinds in _NUMBER_DTYPES:
        return kinds
    if (kinds == _LIST or kinds == _TUPLE) and data:
        rows = frozenset().union(*[map(type, row) for row in data])
        return rows if rows in _NUMBER_DTYPES else None
    return None


_LIST, _TUPLE = frozenset((list,)), frozenset((tuple,))


def _to_nested(data):
    if isinstance(data, Tensor):
        return data._host()
    if isinstance(data, (list, tuple)):
        return [_to_nested(x) for x in data]
    return data


def _wrapped_ints(data, dt):
    """tensor() data out of an integer dtype's range, converted as torch converts each
    element: Python ints wrap around (``tensor(-1, dtype=uint8)`` is 255), floats outside the
    range raise RuntimeError."""
    def conv(x):
        if isinstance(x, (list, tuple)):
            return [conv(v) for v in x]
        if isinstance(x, np.ndarray):
            return x.astype(np.int64) if x.dtype.kind in "iu" else x
        return _integer_fill(x, dt, "tensor")
    return np.array(conv(_to_nested(data))).astype(dt.np)


def tensor(data, *, dtype=None, device=None, requires_grad=False, pin_memory=False):
    """A new tensor copying ``data`` (nested lists, numbers, NumPy arrays, tensors)."""
    if _gstate.tracer is not None and isinstance(data, Tensor):
        _gstate.tracer.concrete(data, "tensor(t) (a copy through Python data)")
    if isinstance(data, np.ndarray):
        data = _host_array(data, "tensor")
    kinds = _number_types(data)   # numbers (flat or in rows): nothing to unwrap or infer
    dt = _dt.to_dtype(dtype) if dtype is not None else _NUMBER_DTYPES[kinds]() \
        if kinds is not None else _infer_dtype(data)
    try:
        arr = None
        if dt.np.kind in "iu" and not isinstance(data, np.ndarray):
            # as torch converts each element: ints wrap around (NumPy's int64 -> uint8 cast
            # does the same), floats are range-checked
            nested = data if kinds is not None else _to_nested(data)
            raw = np.array(nested)
            if dt is _dt.uint64:
                if raw.dtype.kind == "i" and (raw < 0).any():
                    raise OverflowError("can't convert negative int to unsigned")   # as torch
                if raw.dtype.kind == "f":   # NumPy's float64 for ints beyond int64 and small
                    raw = np.array(nested, dtype=np.uint64)   # ones: exact instead
            if raw.dtype.kind in "iub":
                arr = raw.astype(dt.np)
            elif raw.dtype.kind == "f":
                arr = _wrapped_ints(data, dt)
        if arr is None:
            # numbers (flat or in rows) go to NumPy as they are: nothing to unwrap
            arr = np.array(data if kinds is not None else _to_nested(data), dtype=dt.np)
    except OverflowError:
        if dt is _dt.uint64:
            raise
        arr = _wrapped_ints(data, dt)
    except (ValueError, TypeError) as e:
        raise ValueError(f"tensor: could not convert data to a {dt.name} tensor: {e}") from None
    return _place(arr, device, requires_grad)


def as_tensor(data, dtype=None, device=None):
    """Like tensor(), but shares memory with a NumPy array or tensor when no cast is needed."""
    if isinstance(data, Tensor):
        return data if dtype is None else data.to(dtype)
    if isinstance(data, np.ndarray):
        data = _host_array(data, "as_tensor")
        if dtype is None or _dt.to_dtype(dtype).np == data.dtype:
            _dt.from_numpy_dtype(data.dtype)
            return _place(data, device)
    return tensor(data, dtype=dtype, device=device)


asarray = as_tensor


def from_numpy(ndarray):
    """Zero-copy: the tensor and the array share memory."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(ndarray).__name__})")
    ndarray = _host_array(ndarray, "from_numpy")
    _dt.from_numpy_dtype(ndarray.dtype)
    return _created(_make(ndarray))


class _Capsule:
    """A bare DLPack capsule as the producer object ``np.from_dlpack`` expects."""

    def __init__(self, capsule):
        self.capsule = capsule

    def __dlpack__(self, **kwargs):
        return self.capsule

    def __dlpack_device__(self):
        return (1, 0)     # kDLCPU


def from_dlpack(ext_tensor):
    """Zero-copy import from any DLPack producer (NumPy, PyTorch, CuPy, ...) or from a DLPack
    capsule (``torch.utils.dlpack.to_dlpack``'s result; taken as host memory)."""
    if type(ext_tensor).__name__ == "PyCapsule":
        ext_tensor = _Capsule(ext_tensor)
    if hasattr(ext_tensor, "__dlpack_device__"):
        dev_type = ext_tensor.__dlpack_device__()[0]
        if dev_type == 2:  # kDLCUDA
            return _make(cuda.xp.from_dlpack(ext_tensor))
    return _make(np.from_dlpack(ext_tensor))


def frombuffer(buffer, *, dtype, count=-1, offset=0, requires_grad=False):
    return _place(np.frombuffer(buffer, dtype=_dt.to_dtype(dtype).np, count=count,
                                offset=offset), None, requires_grad)


def _filled(fn, size, dtype, device, requires_grad):
    dt = _dt.to_dtype(dtype)
    if (device is not None or _default_device[0] is not None) and _on_meta(device):
        return _place(_meta.meta_array(_size(size), dt.np), device, requires_grad)
    return _place(fn(_size(size), dtype=dt.np), device, requires_grad)


@_creates
def zeros(*size, dtype=None, device=None, requires_grad=False, out=None, layout=None,
          pin_memory=False):
    return _filled(np.zeros, size, dtype, device, requires_grad)


@_creates
def ones(*size, dtype=None, device=None, requires_grad=False, out=None, layout=None,
         pin_memory=False):
    return _filled(np.ones, size, dtype, device, requires_grad)


@_creates
def empty(*size, dtype=None, device=None, requires_grad=False, out=None, layout=None,
          pin_memory=False, memory_format=None):
    t = _filled(np.empty, size, dtype, device, requires_grad)
    if memory_format is not None and _layout.format_name(memory_format) == "preserve_format":
        raise RuntimeError("empty: preserve_format is only supported by the *_like functions "
                           "and clone, not by empty")
    return t if memory_format is None else _laid_out(t, None, memory_format, "empty")


def _laid_out(t, input, memory_format, op):
    """The new tensor ``t`` (row-major, values set) laid out in ``memory_format`` (None:
    preserve_format, which follows ``input``'s strides, ``backend.layout``); the same values."""
    name = _layout.format_name(memory_format)
    arr = t._data
    if name == "contiguous_format" or type(arr) is not np.ndarray:
        return t
    if name == "preserve_format":
        src = input._data
        if type(src) is not np.ndarray or src.flags["C_CONTIGUOUS"]:
            return t
        new = _layout.empty_in_format(src, name, arr.dtype)
    else:
        _layout.check_rank(name, arr.ndim, op)
        if _layout.is_format_contiguous(arr, name):
            return t
        new = _layout.empty_in_format(arr, name)
    new[...] = arr
    t._data = new
    return t


@_creates
def full(size, fill_value, *, dtype=None, device=None, requires_grad=False, out=None,
         layout=None, pin_memory=False):
    if isinstance(fill_value, (Tensor, np.generic)):  # a NumPy scalar fills as the number
        fill_value = fill_value.item()
    if dtype is None:
        dtype = _infer_dtype(fill_value)
    dt = _dt.to_dtype(dtype)
    fill_value = _integer_fill(fill_value, dt, "full")
    return _place(np.full(_size((size,) if isinstance(size, (int, np.integer)) else (tuple(size),)),
                          fill_value, dtype=dt.np), device, requires_grad)


def _integer_fill(value, dt, fn):
    """A fill value for an integer dtype as torch converts it: a Python int wraps around (two's
    complement, ``full((1,), -1, dtype=uint8)`` is 255), a float outside the dtype's range
    raises RuntimeError."""
    if dt.is_floating_point or dt.is_complex or dt == _dt.bool or isinstance(value, bool):
        return value
    info = np.iinfo(dt.np)
    if isinstance(value, (int, np.integer)):
        if info.min <= value <= info.max:
            return value
        if -(1 << 63) <= value < (1 << 64):
            return np.array(int(value) & 0xFFFFFFFFFFFFFFFF, dtype=np.uint64).astype(
                np.int64).astype(dt.np)[()]
    elif isinstance(value, float) and (math.isnan(value) or not (
            info.min <= value <= info.max)):
        raise RuntimeError(f"{fn}: value {value} cannot be converted to type "
                           f"{dt.name} without overflow")
    else:
        return value
    raise RuntimeError(f"{fn}: value {value} cannot be converted to type {dt.name} without "
                       f"overflow")


def _like(input, dtype, device):
    return (_dt.to_dtype(dtype) if dtype is not None else input.dtype,
            device if device is not None else input.device)


def zeros_like(input, *, dtype=None, device=None, requires_grad=False, memory_format=None,
               layout=None):
    dt, dev = _like(input, dtype, device)
    t = zeros(tuple(input.shape), dtype=dt, device=dev, requires_grad=requires_grad)
    return _laid_out(t, input, memory_format, "zeros_like")


def ones_like(input, *, dtype=None, device=None, requires_grad=False, memory_format=None,
              layout=None):
    dt, dev = _like(input, dtype, device)
    t = ones(tuple(input.shape), dtype=dt, device=dev, requires_grad=requires_grad)
    return _laid_out(t, input, memory_format, "ones_like")


def empty_like(input, *, dtype=None, device=None, requires_grad=False, memory_format=None,
               layout=None):
    dt, dev = _like(input, dtype, device)
    t = empty(tuple(input.shape), dtype=dt, device=dev, requires_grad=requires_grad)
    return _laid_out(t, input, memory_format, "empty_like")


def full_like(input, fill_value, *, dtype=None, device=None, requires_grad=False,
              memory_format=None, layout=None):
    dt, dev = _like(input, dtype, device)
    t = full(tuple(input.shape), fill_value, dtype=dt, device=dev, requires_grad=requires_grad)
    return _laid_out(t, input, memory_format, "full_like")


def _num(x):
    return x.item() if isinstance(x, Tensor) else x


@_creates
def arange(start=None, end=None, step=1, *, dtype=None, device=None, requires_grad=False, out=None,
           layout=None):
    """Values from start (inclusive) to end (exclusive) by step; int64 if all are integers."""
    start, end, step = _num(start), _num(end), _num(step)
    if start is None and end is None:
        raise TypeError("arange() missing required argument 'end'")
    if end is None:
        start, end = 0, start
    elif start is None:             # arange(end=5)
        start = 0
    if step == 0:
        raise RuntimeError("arange: step must be nonzero")
    if (end - start) / step < 0:
        raise RuntimeError(f"arange: upper bound and larger bound inconsistent with step sign "
                           f"(start={start}, end={end}, step={step})")
    if dtype is None:
        ints = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
        dt = _dt.int64 if ints else _dt.get_default_dtype()
    else:
        dt = _dt.to_dtype(dtype)
    if dt.is_floating_point or dt.is_complex:
        n = builtins.max(0, math.ceil((end - start) / step))
        arr = (start + np.arange(n, dtype=np.float64) * step).astype(dt.np)
        return _place(arr, device, requires_grad)
    if dt == _dt.bool:
        raise NotImplementedError('"arange_cpu" not implemented for \'Bool\'')
    # integer dtypes, as torch computes them: start and step truncated to integers; the
    # length from the truncated bounds for int64, from the original ones for the other types
    istart, iend, istep = int(start), int(end), int(step)
    if dt == _dt.int64:
        if istep == 0:   # a fractional step truncated to 0 (torch raises ValueError here)
            raise ValueError("arange: step must be nonzero")
        sgn = (istep > 0) - (istep < 0)
        num = iend - istart + istep - sgn
        n = builtins.max(0, builtins.abs(num) // builtins.abs(istep) * (1 if (num >= 0) == (
            istep > 0) else -1))
    else:
        n = builtins.max(0, math.ceil((end - start) / step))
    vals = istart + np.arange(n, dtype=np.int64) * istep
    return _place(vals.astype(dt.np), device, requires_grad)


def range_(start, end, step=1, *, dtype=None, device=None, requires_grad=False):
    dt = _dt.to_dtype(dtype) if dtype is not None else _dt.get_default_dtype()
    n = int(math.floor((end - start) / step)) + 1
    return _place((start + np.arange(n) * step).astype(dt.np), device, requires_grad)


def _check_steps(steps, name: str) -> int:
    if isinstance(steps, Tensor):
        steps = steps.item()
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)):
        raise TypeError(f"{name}(): argument 'steps' must be int, not {type(steps).__name__}")
    if steps < 0:
        raise RuntimeError(f"{name}(): number of steps must be non-negative, got {steps}")
    return int(steps)


def _spaced_bounds(start, end, steps, dt, name):
    """linspace/logspace bounds converted to the dtype as torch's kernels convert them (ints
    truncate and wrap, floats outside an integer range raise, half/float32 round), and the
    dtype the kernel's arithmetic runs in."""
    if dt == _dt.bool and steps > 1:
        raise NotImplementedError(f'"{name}_cpu" not implemented for \'Bool\'')
    start, end = _num(start), _num(end)
    if not (dt.is_floating_point or dt.is_complex or dt == _dt.bool):
        start, end = (int(_integer_fill(v, dt, name)) for v in (start, end))
        return start, end, np.float64
    if dt.is_floating_point and dt.np.itemsize <= 4:
        own = {np.dtype(np.float16): np.float16}.get(np.dtype(dt.np), np.float32)
        return np.asarray(start).astype(own)[()], np.asarray(end).astype(own)[()], own
    return start, end, np.float64


def _finish(arr, dt):
    if not (dt.is_floating_point or dt.is_complex or dt == _dt.bool):
        arr = np.trunc(arr)
    return arr.astype(dt.np)


@_creates
def linspace(start, end, steps, *, dtype=None, device=None, requires_grad=False, out=None):
    """Evenly spaced points, as torch's CPU kernel computes them: start + step * i for the first
    half and end - step * (steps - 1 - i) for the second (both ends exact), in the dtype's own
    arithmetic (float16 and float32 points round like torch's)."""
    steps = _check_steps(steps, "linspace")
    dt = _dt.to_dtype(dtype)
    if steps <= 1:   # torch fills with the start as given
        first = _integer_fill(_num(start), dt, "linspace") if dt.np.kind in "iu" and \
            steps else _num(start)
        return _place(np.full(steps, first).astype(dt.np), device, requires_grad)
    start, end, acc = _spaced_bounds(start, end, steps, dt, "linspace")
    i = np.arange(steps, dtype=acc)
    step = (acc(end) - acc(start)) / acc(steps - 1)
    arr = np.where(i < steps // 2, acc(start) + step * i, acc(end) - step * (steps - i - 1))
    return _place(_finish(arr, dt), device, requires_grad)


@_creates
def logspace(start, end, steps, base=10.0, *, dtype=None, device=None, requires_grad=False,
             out=None):
    """base ** linspace(start, end): exponents in double from the bounds' difference in the
    dtype (torch's CPU kernel), the power in double."""
    steps = _check_steps(steps, "logspace")
    dt = _dt.to_dtype(dtype)
    if steps <= 1:
        vals = np.power(np.float64(base), np.full(steps, float(_num(start))))
        if steps and dt.np.kind in "iu":   # a fill: checked against the dtype's range
            _integer_fill(float(vals[0]), dt, "logspace")
        return _place(_finish(vals, dt), device, requires_grad)
    start, end, acc = _spaced_bounds(start, end, steps, dt, "logspace")
    step = float(acc(end) - acc(start)) / (steps - 1)
    i = np.arange(steps, dtype=np.float64)
    expo = np.where(i < steps // 2, float(start) + step * i,
                    float(end) - step * (steps - i - 1))
    return _place(_finish(np.power(np.float64(base), expo), dt), device, requires_grad)


@_creates
def eye(n, m=None, *, dtype=None, device=None, requires_grad=False, out=None):
    return _place(np.eye(n, m, dtype=_dt.to_dtype(dtype).np), device, requires_grad)


# ----------------------------------------------------------------------------- random
def _float_dt(dtype):
    dt = _dt.to_dtype(dtype)
    if not dt.is_floating_point:
        raise DTypeError(f"expected a floating point dtype for random floats, got {dt}")
    return dt


def _random_float(sample, size, dtype, device, requires_grad, complex_scale=1.0):
    """Samples of a floating dtype; a complex dtype samples its real and imaginary parts
    independently, each scaled by ``complex_scale`` (randn: 1/sqrt(2), unit total variance)."""
    dt = _dt.to_dtype(dtype)
    size = _size(size)
    if _on_meta(device):
        return _place(_meta.meta_array(size, dt.np), device, requires_grad)
    if dt.is_complex:
        parts = _random_array(sample, size + (2,), dt.to_real())
        arr = (parts * parts.dtype.type(complex_scale)).view(dt.np)[..., 0]
    else:
        arr = _random_array(sample, size, _float_dt(dt))
    return _place(arr, device, requires_grad)


def _random_array(sample, size, dt):
    gen_dt = dt.np if dt.np in (np.float32, np.float64) else np.float32
    return sample(size, gen_dt).astype(dt.np, copy=False)


@_creates
@traced_random
def rand(*size, generator=None, dtype=None, device=None, requires_grad=False, out=None,
         layout=None, pin_memory=False):
    """Uniform samples on [0, 1)."""
    rng = _rng(generator)
    return _random_float(lambda s, d: _sample(fill_uniform, rng, s, d), size, dtype, device,
                         requires_grad)


@_creates
@traced_random
def randn(*size, generator=None, dtype=None, device=None, requires_grad=False, out=None,
          layout=None, pin_memory=False):
    """Standard normal samples."""
    rng = _rng(generator)
    return _random_float(lambda s, d: _sample(fill_normal, rng, s, d), size, dtype, device,
                         requires_grad, complex_scale=math.sqrt(0.5))


@traced_random
def rand_like(input, *, dtype=None, device=None, requires_grad=False, generator=None,
              memory_format=None):
    t = rand(tuple(input.shape), dtype=dtype or input.dtype, generator=generator,
             requires_grad=requires_grad, device=device or input.device)
    return _laid_out(t, input, memory_format, "rand_like")


@traced_random
def randn_like(input, *, dtype=None, device=None, requires_grad=False, generator=None,
               memory_format=None):
    t = randn(tuple(input.shape), dtype=dtype or input.dtype, generator=generator,
              requires_grad=requires_grad, device=device or input.device)
    return _laid_out(t, input, memory_format, "randn_like")


@traced_random
@_creates
def randint(low=0, high=None, size=None, *, generator=None, dtype=None, device=None,
            requires_grad=False, out=None):
    """Integers uniform on [low, high); ``randint(high, size)`` or ``randint(low, high, size)``."""
    if size is None:
        if isinstance(high, (tuple, list)):
            low, high, size = 0, low, high
        else:
            raise TypeError("randint() missing required argument 'size'")
    if high is None:
        low, high = 0, low
    if high <= low:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= "
                           f"to={high}")
    dt = _dt.to_dtype(dtype) if dtype is not None else _dt.int64
    if _on_meta(device):
        return _place(_meta.meta_array(_size((tuple(size),)), dt.np), device, requires_grad)
    shape = _size((tuple(size),))
    if len(shape) == 1 and shape[0] == 1:
        # one draw (torch.randint(lo, hi, (1,)) in loops): NumPy's scalar draw is the same
        # stream as a size-(1,) one at a fifth of its cost (its size path calls np.prod)
        arr = np.array([_rng(generator).integers(low, high, dtype=np.int64)])
        return _place(arr.astype(dt.np, copy=False), device, requires_grad)
    arr = _rng(generator).integers(low, high, size=shape, dtype=np.int64)
    return _place(arr.astype(dt.np, copy=False), device, requires_grad)


@traced_random
def randint_like(input, low=0, high=None, *, dtype=None, generator=None, memory_format=None):
    if high is None:
        low, high = 0, low
    t = randint(low, high, tuple(input.shape), dtype=dtype or input.dtype, generator=generator)
    return _laid_out(t, input, memory_format, "randint_like")


@traced_random
@_creates
def randperm(n, *, generator=None, dtype=None, device=None, requires_grad=False, out=None):
    dt = _dt.to_dtype(dtype) if dtype is not None else _dt.int64
    if _on_meta(device):
        return _place(_meta.meta_array((int(n),), dt.np), device, requires_grad)
    return _place(_rng(generator).permutation(int(n)).astype(dt.np), device, requires_grad)


@traced_random
def normal(mean=0.0, std=1.0, size=None, *, generator=None, dtype=None, device=None,
           requires_grad=False, out=None):
    """Normal samples; mean/std may be tensors (elementwise) or numbers with ``size``."""
    rng = _rng(generator)
    if isinstance(mean, Tensor) or isinstance(std, Tensor):
        m = mean._data if isinstance(mean, Tensor) else mean
        s = std._data if isinstance(std, Tensor) else std
        shape = np.broadcast_shapes(np.shape(m), np.shape(s))
        ref = mean if isinstance(mean, Tensor) else std
        z = _sample(fill_normal, rng, shape, ref._data.dtype)
        return _make((z * s + m).astype(ref._data.dtype))
    if size is None:
        raise TypeError("normal(): with float mean and std, size is required")
    t = randn(tuple(size) if not isinstance(size, (int, np.integer)) else (size,),
              generator=generator, dtype=dtype, device=device)
    t._data *= std
    t._data += mean
    if requires_grad:
        t.requires_grad = True
    return t


@traced_random
def bernoulli(input, p=None, *, generator=None, out=None):
    """1 with probability input (or p), else 0, in input's dtype."""
    probs = input._data if p is None else np.full(input.shape, p)
    if np.any((probs < 0) | (probs > 1)):
        raise RuntimeError("bernoulli: expected all probabilities in [0, 1]")
    u = _rng(generator).random(probs.shape)
    return _make((u < probs).astype(input._data.dtype))


@traced_random
def poisson(input, generator=None):
    return _make(_rng(generator).poisson(input._data).astype(input._data.dtype))


# ATen's names of the dtypes in its messages
_ATEN_NAMES = {"float32": "Float", "float64": "Double", "float16": "Half", "bfloat16": "BFloat16",
               "int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char",
               "uint8": "Byte", "bool": "Bool"}


def aten_name(dt) -> str:
    """ATen's name of a NumPy dtype in its messages ('Float', 'Long'...)."""
    return _ATEN_NAMES.get(dt.name, dt.name)


@traced_random
def binomial(count, prob, generator=None):
    """Draws from Binomial(count, prob) element by element (prob broadcast to count's shape,
    clipped to [0, 1] as torch's sampler reads it), in count's floating dtype."""
    c, p = count._data, prob._data
    if c.dtype.kind != "f":
        raise ValueError(f"binomial only supports floating-point dtypes for count, got: "
                         f"{aten_name(c.dtype)}")
    if p.dtype != c.dtype:
        raise RuntimeError(f"Found dtype {aten_name(p.dtype)} but expected "
                           f"{aten_name(c.dtype)}")
    n = np.rint(c).astype(np.int64)
    draws = _rng(generator).binomial(n, np.clip(np.broadcast_to(p, c.shape), 0.0, 1.0))
    return _make(np.asarray(draws).astype(c.dtype))


@traced_random
def multinomial(input, num_samples, replacement=False, *, generator=None, out=None):
    """Sample category indices from (rows of) non-negative weights."""
    w = np.asarray(input._host(), dtype=np.float64)
    if w.ndim not in (1, 2):
        raise RuntimeError(f"multinomial: prob_dist must be 1 or 2 dim, got {w.ndim}")
    if np.any(w < 0) or not np.all(np.isfinite(w)):
        raise RuntimeError("multinomial: probability tensor contains either `inf`, `nan` or "
                           "element < 0")
    rows = w.reshape(-1, w.shape[-1])
    sums = rows.sum(-1)
    if np.any(sums <= 0):
        raise RuntimeError("multinomial: invalid multinomial distribution (sum of "
                           "probabilities <= 0)")
    n_cat = rows.shape[1]
    if not replacement and num_samples > n_cat:
        raise RuntimeError(f"multinomial: cannot sample n_sample ({num_samples}) > "
                           f"prob_dist.size(-1) ({n_cat}) samples without replacement")
    rng = _rng(generator)
    if replacement or num_samples == 1:
        cdf = np.cumsum(rows, -1)
        cdf /= cdf[:, -1:]
        u = rng.random((rows.shape[0], num_samples))
        out = np.stack([np.searchsorted(cdf[i], u[i], side="right") for i in range(len(rows))])
        out = np.minimum(out, n_cat - 1)
    else:
        # Gumbel-top-k: without-replacement sampling proportional to weights
        g = rng.gumbel(size=rows.shape)
        with np.errstate(divide="ignore"):
            keys = np.log(rows) + g
        out = np.argsort(-keys, axis=-1, kind="stable")[:, :num_samples]
    out = out.astype(np.int64)
    return _make(out.reshape(w.shape[:-1] + (num_samples,)))
