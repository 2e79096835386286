"""``torch.testing``: ``assert_close`` with torch's per-dtype default tolerances and messages,
and ``make_tensor`` for test inputs."""
from __future__ import annotations

import collections.abc
import math

import numpy as np

from .. import dtypes as _dt
from .._creation import empty, tensor as _tensor
from .._tensor import Tensor
from ..random import default_generator

__all__ = ["assert_close", "make_tensor", "assert_allclose"]

# (rtol, atol) torch uses when neither is given
_TOLERANCES = {"float16": (1e-3, 1e-5), "bfloat16": (1.6e-2, 1e-5), "float32": (1.3e-6, 1e-5),
               "float64": (1e-7, 1e-7), "complex64": (1.3e-6, 1e-5),
               "complex128": (1e-7, 1e-7)}


def _tolerances(dtype, rtol, atol):
    if (rtol is None) != (atol is None):
        raise ValueError(f"Both 'rtol' and 'atol' must be either specified or omitted, but "
                         f"got no {'rtol' if rtol is None else 'atol'}.")
    if rtol is not None:
        return rtol, atol
    return _TOLERANCES.get(dtype.name, (0.0, 0.0))


def _fail(msg, extra, path):
    if path:
        extra = f"{extra}\n\nThe failure occurred for item {path}"
    raise AssertionError(msg(extra) if callable(msg) else (msg or extra))


def _compare_tensors(actual, expected, rtol, atol, equal_nan, check_dtype, msg, path):
    for attr in ("shape", "dtype") if check_dtype else ("shape",):
        a, e = getattr(actual, attr), getattr(expected, attr)
        if a != e:
            show = (lambda v: f"torch.{v.name}") if attr == "dtype" \
                else (lambda v: f"torch.Size({list(v)})")
            _fail(msg, f"The values for attribute '{attr}' do not match: {show(a)} != "
                       f"{show(e)}.", path)
    rtol, atol = _tolerances(expected.dtype if check_dtype else
                             _dt.promote_types(actual.dtype, expected.dtype), rtol, atol)
    a = actual.detach().cpu().numpy()
    e = expected.detach().cpu().numpy()
    if a.dtype == np.bool_ or e.dtype == np.bool_:
        a, e = a.astype(np.int64), e.astype(np.int64)
    integral = a.dtype.kind in "iub" and e.dtype.kind in "iub"
    work = np.result_type(a.dtype, e.dtype, np.float64 if a.dtype.kind in "iub" else a.dtype)
    a, e = a.astype(work), e.astype(work)
    with np.errstate(all="ignore"):
        close = np.isclose(a, e, rtol=rtol, atol=atol, equal_nan=equal_nan)
        if not close.all():
            diff = np.abs(a - e)
            rel = diff / np.abs(e)
            total, bad = close.size, int((~close).sum())
            ia, ir = _worst(diff, close), _worst(rel, close)
            exact = rtol == 0 and atol == 0
            extra = (f"Tensor-likes are not {'equal' if exact else 'close'}!\n\n"
                     f"Mismatched elements: {bad} / {total} ({100.0 * bad / total:.1f}%)\n"
                     f"Greatest absolute difference: {_num(diff[ia], integral)} at index "
                     f"{tuple(map(int, ia))}{'' if exact else f' (up to {atol} allowed)'}\n"
                     f"Greatest relative difference: {_num(rel[ir], False)} at index "
                     f"{tuple(map(int, ir))}{'' if exact else f' (up to {rtol} allowed)'}")
            _fail(msg, extra, path)


def _worst(values, close):
    """Index of the largest of ``values`` among the mismatched elements (NaN counts as
    largest, as in torch's report)."""
    cand = np.where(close, -np.inf, np.where(np.isnan(values), np.inf, values))
    return np.unravel_index(int(np.argmax(cand)), values.shape)


def _num(v, integral):
    """A reported difference as torch prints it: integers for integer tensors."""
    v = v.item()
    return int(v) if integral and float(v).is_integer() else v


def _compare_scalars(actual, expected, rtol, atol, equal_nan, msg, path):
    if rtol is None and atol is None:
        rtol, atol = ((0.0, 0.0) if isinstance(expected, int) and
                      not isinstance(expected, float) else (1e-7, 1e-7))
    if isinstance(actual, complex) or isinstance(expected, complex):
        ok = abs(actual - expected) <= atol + rtol * abs(expected) or \
            (equal_nan and (actual != actual) and (expected != expected))
    else:
        ok = math.isclose(actual, expected, rel_tol=0.0, abs_tol=atol + rtol * abs(expected)) \
            or (equal_nan and math.isnan(actual) and math.isnan(expected))
    if not ok:
        diff = abs(actual - expected)
        rel = diff / abs(expected) if expected else math.inf
        _fail(msg, f"Scalars are not close!\n\nExpected {expected} but got {actual}.\n"
                   f"Absolute difference: {diff} (up to {atol} allowed)\n"
                   f"Relative difference: {rel} (up to {rtol} allowed)", path)


def _as_tensor(x):
    return x if isinstance(x, Tensor) else _tensor(np.asarray(x))


def _compare(actual, expected, rtol, atol, equal_nan, check_dtype, msg, path):
    if isinstance(expected, (Tensor, np.ndarray)) or isinstance(actual, (Tensor, np.ndarray)):
        _compare_tensors(_as_tensor(actual), _as_tensor(expected), rtol, atol, equal_nan,
                         check_dtype, msg, path)
    elif isinstance(expected, collections.abc.Mapping):
        if not isinstance(actual, collections.abc.Mapping) or set(actual) != set(expected):
            _fail(msg, f"The keys of the mappings do not match:\n{sorted(map(str, actual))} "
                       f"!= {sorted(map(str, expected))}", path)
        for k in expected:
            _compare(actual[k], expected[k], rtol, atol, equal_nan, check_dtype, msg,
                     f"{path}[{k!r}]")
    elif isinstance(expected, collections.abc.Sequence) and not isinstance(expected, str):
        if not isinstance(actual, collections.abc.Sequence) or len(actual) != len(expected):
            _fail(msg, f"The length of the sequences mismatch: "
                       f"{len(actual) if hasattr(actual, '__len__') else '?'} != "
                       f"{len(expected)}", path)
        for i, (a, e) in enumerate(zip(actual, expected)):
            _compare(a, e, rtol, atol, equal_nan, check_dtype, msg, f"{path}[{i}]")
    elif isinstance(expected, (int, float, complex)) and \
            isinstance(actual, (int, float, complex)):
        if check_dtype and type(actual) is not type(expected):
            _fail(msg, f"The values for attribute 'dtype' do not match: "
                       f"{type(actual).__name__} != {type(expected).__name__}.", path)
        _compare_scalars(actual, expected, rtol, atol, equal_nan, msg, path)
    elif actual != expected:
        _fail(msg, f"Values are not equal: {actual!r} != {expected!r}", path)


def assert_close(actual, expected, *, allow_subclasses=True, rtol=None, atol=None,
                 equal_nan=False, check_device=True, check_dtype=True, check_layout=True,
                 check_stride=False, msg=None):
    """Raise AssertionError unless ``actual`` and ``expected`` (tensors, numbers, NumPy
    arrays, or sequences/mappings of them) are close: ``|a - e| <= atol + rtol * |e|``
    elementwise, same shape and (with check_dtype) dtype. Default tolerances are torch's for
    the dtype (float32: rtol 1.3e-6, atol 1e-5; integers: exact)."""
    _compare(actual, expected, rtol, atol, equal_nan, check_dtype, msg, "")


def assert_allclose(actual, expected, rtol=None, atol=None, equal_nan=True, msg=""):
    """Deprecated torch form of assert_close (no dtype check, NaNs equal)."""
    assert_close(actual, expected, rtol=rtol, atol=atol, equal_nan=equal_nan,
                 check_dtype=False, msg=msg or None)


def make_tensor(*shape, dtype, device=None, low=None, high=None, requires_grad=False,
                noncontiguous=False, exclude_zero=False, memory_format=None):
    """A random tensor for tests: uniform in [low, high) (defaults -9..9 for signed types,
    0..9 unsigned, 0/1 for bool), no zeros with exclude_zero."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    dt = _dt.to_dtype(dtype)
    rng = default_generator._rng
    size = tuple(shape)
    if dt is _dt.bool:
        arr = rng.integers(0, 2, size).astype(bool)
    elif dt.category == 1:   # integers
        lo = 0 if dt.name == "uint8" else -9 if low is None else int(math.ceil(low))
        lo = int(math.ceil(low)) if low is not None else lo
        hi = 10 if high is None else int(math.ceil(high))
        arr = rng.integers(lo, hi, size).astype(dt.np)
    else:
        lo = -9.0 if low is None else float(low)
        hi = 9.0 if high is None else float(high)
        if lo > hi:
            raise ValueError(f"make_tensor: low ({lo}) must not exceed high ({hi})")
        real = rng.uniform(lo, hi, size)
        arr = (real + 1j * rng.uniform(lo, hi, size)) if dt.is_complex else real
        arr = arr.astype(dt.np)
    if exclude_zero:
        tiny = 1 if dt.category <= 1 else float(np.finfo(np.dtype(dt.np).type(0).real.dtype)
                                                 .tiny)
        arr = np.where(arr == 0, np.asarray(tiny).astype(arr.dtype), arr)
    out = _tensor(arr, dtype=dt, device=device)
    if noncontiguous and out.numel() > 1:
        wide = empty(size[:-1] + (size[-1] * 2,), dtype=dt) if size else None
        if wide is not None:
            wide[..., ::2] = out
            out = wide[..., ::2]
    return out.requires_grad_() if requires_grad else out
