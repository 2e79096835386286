"""Elementwise primitives: clamp and dtype casts here, with the composites over elementwise
ops (lerp, addcmul, nan_to_num, isclose, ...); unary math and predicates live in ``unary``,
binary arithmetic, comparisons and where in ``binary``. This module is the family's public
surface: it re-exports both."""
from __future__ import annotations

import warnings

import math

import numpy as np

from ._registry import Op, register, apply, in_float32
from .._tensor_base import TensorBase as Tensor
from .. import dtypes as _dt
from ..backend import layout as _layout
from .unary import *  # noqa: F401,F403
from .unary import isfinite, isnan  # noqa: F401
from .binary import *  # noqa: F401,F403
from .binary import maximum, minimum, where
from ..autograd.grad_mode import no_grad
from .inplace import make_inplace, wrap_int as _wrap_int

__all__ = ["addcdiv", "addcmul", "allclose", "clamp", "equal", "isclose", "lerp",
           "nan_to_num", "to_dtype"]



def _clamp_onnx(ctx, node, out):
    dt = node.out.dtype
    x = node.inputs[0]
    lo = node.attrs.get("min", node.inputs[1] if len(node.inputs) > 1 else None)
    hi = node.attrs.get("max", node.inputs[2] if len(node.inputs) > 2 else None)
    ins = [ctx.name(x), "" if lo is None else ctx.operand(lo, dt),
           "" if hi is None else ctx.operand(hi, dt)]
    ctx.node("Clip", ins, out)


def _cast_onnx(ctx, node, out):
    ctx.node("Cast", [ctx.name(node.inputs[0])], out,
             to=ctx.helper.np_dtype_to_tensor_dtype(node.out.dtype))


@register
class Clamp(Op):
    """clamp with scalar bounds; gradient passes where min <= x <= max (as in PyTorch)."""
    name, kind, onnx = "clamp", "elementwise", _clamp_onnx
    c_attrs = frozenset({"min", "max"})
    c_check = staticmethod(lambda n: n.out.dtype.kind == "f")

    @staticmethod
    def c_expr(attrs):
        # np.clip with one bound is np.maximum/np.minimum (the bound wins a tie of -0.0 and
        # 0.0); with both bounds NumPy's clip loop keeps x on a tie
        lo, hi = attrs.get("min"), attrs.get("max")
        return "CZ_MAX({0}, {min})" if hi is None and lo is not None else \
            "CZ_MIN({0}, {max})" if lo is None and hi is not None else \
            "CZ_CLIP({0}, {min}, {max})"

    @staticmethod
    def forward(xp, a, min=None, max=None):
        return xp.clip(a, min, max)

    @staticmethod
    def backward(c, g):
        x = c.saved[0]
        lo, hi = c.attrs.get("min"), c.attrs.get("max")
        mask = None
        if lo is not None:
            mask = x >= lo
        if hi is not None:
            m2 = x <= hi
            mask = m2 if mask is None else mask & m2
        return (g if mask is None else g * mask,)


@register
class Cast(Op):
    """Convert to another dtype; gradients flow between floating dtypes."""
    name, kind, c_expr, onnx, saves = "cast", "elementwise", "(({T}){0})", _cast_onnx, "none"
    may_alias = True     # a cast to the same dtype hands back its input
    c_attrs, c_kinds, c_operands = frozenset({"dtype"}), "fib", "any"
    c_check = staticmethod(lambda n: n.attrs.get("dtype") is None or
                           np.dtype(n.attrs["dtype"].np) == n.out.dtype)

    @staticmethod
    def forward(xp, a, dtype=None):
        if a.dtype.kind == "c" and dtype.np.kind != "c":
            a = a.real  # the imaginary parts are dropped (to_dtype warns, as torch does)
        if dtype.itemsize == 1 and dtype.is_floating_point:   # float8: torch's saturation
            return _dt.saturate_float8(a, a.astype(dtype.np), dtype)
        out = a.astype(dtype.np)
        if type(out) is np.ndarray and out.ndim > 1 and \
                (not a.flags.c_contiguous or 1 in a.shape):
            out = _layout.as_preserved(out, a)   # torch's preserve_format strides
        return out

    @staticmethod
    def backward(c, g):
        return (g,)  # the engine casts back to the input's dtype


def _clamp_t(x, bound, lower):
    """x clamped below (``lower``) or above by a tensor bound: maximum/minimum's values, torch's
    clamp gradient: a tie goes all to x (maximum splits it), a NaN sends none anywhere."""
    out = maximum(x, bound) if lower else minimum(x, bound)
    if not (x.requires_grad or bound.requires_grad):
        return out
    keep, take = (x >= bound, x < bound) if lower else (x <= bound, x > bound)
    return where(keep, x, where(take, bound, out.detach()))


def clamp(input, min=None, max=None):
    """Clamp to [min, max]; bounds may be numbers or Tensors."""
    if min is None and max is None:
        raise RuntimeError("clamp: At least one of 'min' or 'max' must not be None")
    # NumPy scalar bounds count as Python numbers (they keep the input's dtype)
    min = min.item() if isinstance(min, np.generic) else min
    max = max.item() if isinstance(max, np.generic) else max
    if any(v is not None and (v.dtype.is_complex if isinstance(v, Tensor) else
                              isinstance(v, complex)) for v in (input, min, max)):
        raise NotImplementedError("clamp is not supported for complex types")
    if (min is None or max is None) or isinstance(min, Tensor) == isinstance(max, Tensor):
        pass
    elif (max if isinstance(max, Tensor) else min)._data.ndim == 0:
        # torch's argument parser reads a 0-d tensor as a number beside a number bound
        min, max = (v.item() if isinstance(v, Tensor) else v for v in (min, max))
    else:
        raise TypeError(f"clamp() received an invalid combination of arguments - got (min="
                        f"{type(min).__name__}, max={type(max).__name__}): the bounds are "
                        f"both numbers or both tensors (a 0-d tensor counts as a number)")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        out = input
        if min is not None:
            out = _clamp_t(out, min, True) if isinstance(min, Tensor) else \
                apply(Clamp, out, min=min)
        if max is not None:
            out = _clamp_t(out, max, False) if isinstance(max, Tensor) else \
                apply(Clamp, out, max=max)
        return out
    kind = input._data.dtype.kind
    if kind == "b" and all(type(v) is bool for v in (min, max) if v is not None):
        raise NotImplementedError(f"\"clamp_"
                                  f"{'min' if max is None else 'max' if min is None else ''}"
                                  f"{'_' if min is None or max is None else ''}scalar_cpu\" "
                                  f"not implemented for 'Bool'")
    if kind in "iub" and (isinstance(min, float) or isinstance(max, float)):
        input = input.to(_dt.get_default_dtype())
    elif kind in "iu":   # an integer bound is cast to the tensor's dtype first, wrapping as torch
        min, max = (None if v is None else _wrap_int(int(v), input._data.dtype, "clamp")
                    for v in (min, max))
    return apply(Clamp, input, min=min, max=max)


def lerp(input, end, weight):
    """input + weight * (end - input) for weight < 0.5, end - (end - input) * (1 - weight)
    otherwise (torch's formula: exact at both ends)."""
    for what, t in (("end", end), ("weight", weight)):
        if isinstance(t, Tensor) and t.dtype != input.dtype:
            raise RuntimeError(f"lerp: expected dtype {input.dtype.name} for `{what}` but got "
                               f"dtype {t.dtype.name}")
    if not (input.is_floating_point() or input.is_complex()):
        raise NotImplementedError(f"\"lerp_kernel_"
                                  f"{'tensor' if isinstance(weight, Tensor) else 'scalar'}"
                                  f"\" not implemented for '{input.dtype.name}'")
    return in_float32(_lerp, input, end, weight)


def _lerp(input, end, weight):
    d = end - input
    if not isinstance(weight, Tensor):
        if -0.5 < weight < 0.5:
            return input + weight * d
        if input._data.dtype == np.float32:   # torch's 1 - w in float32, not in double
            # (float16/bfloat16 lerp computes here too, in_float32; torch's float32 kernel
            # also fuses the multiply-add, which NumPy cannot: see STATUS.md)
            return end - d * float(np.float32(1) - np.float32(weight))
        return end - d * (1 - weight)
    return where(weight.abs() < 0.5, input + weight * d, end - d * (1 - weight))


def _addc_operands(input, tensor1, tensor2):
    """tensor1 and tensor2 in the dtype of the whole expression (torch promotes the three
    first: float16 factors of a float64 input multiply in float64)."""
    rt = _dt.result_type(input, tensor1, tensor2)
    return [t.to(rt) if isinstance(t, Tensor) and t.dtype != rt else t
            for t in (tensor1, tensor2)]


def addcmul(input, tensor1, tensor2, value=1):
    tensor1, tensor2 = _addc_operands(input, tensor1, tensor2)
    return in_float32(lambda x, a, b: x + value * a * b, input, tensor1, tensor2)


def addcdiv(input, tensor1, tensor2, value=1):
    if all(isinstance(t, Tensor) and t._data.dtype.kind in "iub" for t in (tensor1, tensor2)):
        raise RuntimeError("Integer division with addcdiv is no longer supported, and in a future "
                           "release addcdiv will perform a true division of tensor1 and tensor2. "
                           "Use addcmul(input, tensor1, 1 / tensor2) or a float tensor1/tensor2.")
    tensor1, tensor2 = _addc_operands(input, tensor1, tensor2)
    return in_float32(lambda x, a, b: x + value * a / b, input, tensor1, tensor2)


def nan_to_num(input, nan=0.0, posinf=None, neginf=None):
    if not (input.is_floating_point() or input.is_complex()):   # integers have no NaN/inf
        return input.clone()
    big = np.finfo(input._data.dtype).max
    out = where(isnan(input), nan, input)
    out = where(out == math.inf, big if posinf is None else posinf, out)
    return where(out == -math.inf, -big if neginf is None else neginf, out)


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """``|input - other| <= atol + rtol * |other|`` elementwise, or equal (infinities equal only
    to themselves); NaNs equal when ``equal_nan``. PyTorch's rules: the dtypes must match,
    integers and bools compare in the default float dtype, zero tolerances mean equality."""
    if isinstance(other, Tensor) and other.dtype != input.dtype:
        raise RuntimeError(f"isclose: {input.dtype} did not match {other.dtype} (the two "
                           "tensors must have one dtype)")
    for name, tol in (("rtol", rtol), ("atol", atol)):
        if tol < 0:
            raise RuntimeError(f"isclose: {name} must be greater than or equal to zero, but "
                               f"got {tol}")
    close = input == other
    floating = input.is_floating_point()
    if equal_nan and floating:
        close = close | (isnan(input) & isnan(other))
    if rtol == 0 and atol == 0:
        return close
    if not floating:
        input = input.to(_dt.get_default_dtype())
        if isinstance(other, Tensor):
            other = other.to(_dt.get_default_dtype())
    allowed = atol + (other * rtol).abs() if isinstance(other, Tensor) else \
        atol + _abs_scalar(other * rtol)
    actual = (input - other).abs()
    return close | (isfinite(actual) & (actual <= allowed))


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False) -> bool:
    return bool(isclose(input, other, rtol, atol, equal_nan).all())


def equal(input, other) -> bool:
    return tuple(input.shape) == tuple(other.shape) and bool((input == other).all())


def _abs_scalar(x):
    return x if x >= 0 else -x


def to_dtype(input, dtype, copy=False):
    """Cast to ``dtype`` (differentiable between floating dtypes)."""
    dtype = _dt.to_dtype(dtype)
    if input._data.dtype == dtype.np and not copy:
        return input
    if input._data.dtype.kind == "c" and not dtype.is_complex:
        warnings.warn("Casting complex values to real discards the imaginary part",
                      UserWarning, stacklevel=2)
    if input._requires_grad and not (dtype.is_floating_point or dtype.is_complex):
        with no_grad():
            return apply(Cast, input, dtype=dtype)
    return apply(Cast, input, dtype=dtype)


# ----------------------------------------------------------------------------- Tensor methods
class ElementwiseMethods:
    """cadenza.Tensor's methods for this module's functions (``x.f(...)`` is ``f(x, ...)``,
    in-place ``x.f_(...)`` commits it into x); ``cadenza/_tensor.py`` composes them."""
    __slots__ = ()

    clamp = clip = clamp
    lerp = lerp
    addcmul = addcmul
    addcdiv = addcdiv
    nan_to_num = nan_to_num
    isclose = isclose
    allclose = allclose
    equal = equal
    clamp_ = make_inplace(clamp, "clamp_")
    clip_ = make_inplace(clamp, "clip_")
    lerp_ = make_inplace(lerp, "lerp_")
    addcmul_ = make_inplace(addcmul, "addcmul_")
    addcdiv_ = make_inplace(addcdiv, "addcdiv_")
    nan_to_num_ = make_inplace(nan_to_num, "nan_to_num_", True)  # (issue 10: where saves self)

    def clamp_min(self, min):
        return clamp(self, min=min)

    def clamp_max(self, max):
        return clamp(self, max=max)

    clamp_min_ = make_inplace(clamp_min, "clamp_min_")
    clamp_max_ = make_inplace(clamp_max, "clamp_max_")
