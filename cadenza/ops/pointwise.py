"""Elementwise maths beyond the basic families (issue 10): the incomplete gamma functions
(igamma, igammac: torch.special.gammainc/gammaincc under their Tensor names), composites over
the elementwise ops
(logaddexp, hypot, copysign, fmax/fmin, frac, ...), integer ops (gcd, lcm, shifts) and float
decompositions (frexp, ldexp, nextafter). The gamma family, erfinv, i0, sinc, logit and xlogy
live in ``ops/special.py``."""
from __future__ import annotations

import math
from collections import namedtuple

import numpy as np

from ._registry import Op, register, apply
from .._tensor_base import TensorBase as Tensor, _make
from .. import dtypes as _dt
from .._creation import _created, tensor
from .binary import _Binary, _with_zero_grad, pow, where, maximum
from .unary import isinf, isnan
from .index import _data_dependent
from .inplace import make_inplace
from .special import Gammainc

__all__ = ["copysign", "deg2rad", "fmax", "fmin", "frac", "frexp", "gcd", "igamma", "igammac",
           "heaviside", "hypot", "isneginf", "isposinf", "lcm", "ldexp", "logaddexp",
           "logaddexp2", "nextafter", "positive", "rad2deg", "signbit", "bitwise_left_shift",
           "bitwise_right_shift"]


# ----------------------------------------------------------------------------- incomplete gamma
def igamma(input, other):
    """The regularized lower incomplete gamma function P(input, other)
    (``torch.special.gammainc``)."""
    return apply(Gammainc, input, other, upper=False)


def igammac(input, other):
    """The regularized upper incomplete gamma function Q(input, other) = 1 - P
    (``torch.special.gammaincc``)."""
    return apply(Gammainc, input, other, upper=True)


# ----------------------------------------------------------------------------- predicates
def _pred(name, fwd, c_expr):
    return register(type("".join(p.capitalize() for p in name.split("_")), (Op,), {
        "name": name, "kind": "elementwise", "onnx": None, "differentiable": False,
        "saves": "none", "forward": staticmethod(fwd), "c_expr": c_expr}))


SignBit = _pred("signbit", lambda xp, a: xp.signbit(a) if a.dtype.kind in "fV" else a < 0,
                "signbit({0})")


def signbit(input):
    return apply(SignBit, input)


def isposinf(input):
    return isinf(input) & (input > 0)


def isneginf(input):
    return isinf(input) & (input < 0)


# ----------------------------------------------------------------------------- composites
def _float(x):
    """x with integer dtypes as the default float (the ops below compute in float)."""
    if isinstance(x, Tensor) and not x.is_floating_point():
        return x.to(_dt.get_default_dtype())
    return x


def deg2rad(input):
    return _float(input) * (math.pi / 180)


def rad2deg(input):
    return _float(input) * (180 / math.pi)


def frac(input):
    """x - trunc(x) (the sign of x)."""
    if not input.is_floating_point():
        raise RuntimeError(f"\"frac_cpu\" not implemented for '{_dt_name(input)}'")
    return input - input.trunc()


def float_only(name, *xs, exc=NotImplementedError):
    """PyTorch's refusal of integer and bool tensors for a floating-point kernel (judged on the
    operands' promoted dtype, as torch dispatches: logaddexp(int32, float64) runs in float64)."""
    ts = [x for x in xs if isinstance(x, Tensor)]
    if not ts:
        return
    dt = _dt.result_type(*xs) if len(xs) > 1 else ts[0].dtype
    if not dt.is_floating_point:
        raise exc(f"\"{name}_cpu\" not implemented for '{_dt_name(ts[0])}'")


def _promoted(*xs):
    """Tensor operands cast to their promoted dtype first (so a float16 or float32 operand is
    not computed in its own precision before meeting a float64 one)."""
    dt = _dt.result_type(*xs)
    return [x.to(dt) if isinstance(x, Tensor) and x.dtype != dt else x for x in xs]


def _dt_name(t):
    return {"int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte",
            "bool": "Bool"}.get(t.dtype.name, t.dtype.name)


def positive(input):
    if input.dtype is _dt.bool:
        raise RuntimeError("The `+` operator, on a bool tensor is not supported.")
    return input


def _tensor_of(x, like):
    return x if isinstance(x, Tensor) else tensor(x, dtype=_dt.result_type(like, x))


def logaddexp(input, other):
    """log(exp(a) + exp(b)) without overflow: m + log(exp(a - m) + exp(b - m)), m = max(a, b)
    (held constant: the gradient is exp(a - out), exp(b - out))."""
    float_only("logaddexp", input, other)
    input, other = _promoted(input, other)
    m = maximum(input, other).detach()
    m = where(isinf(m), 0.0, m)
    s = (input - m).exp() + (other - m).exp()
    zero = s == 0                       # both -inf: log(0) = -inf, without NumPy's warning
    return where(zero, -math.inf, where(zero, 1.0, s).log()) + m


def logaddexp2(input, other):
    float_only("logaddexp2", input, other)
    input, other = _promoted(input, other)
    ln2 = math.log(2)
    return logaddexp(input * ln2, other * ln2) / ln2


def hypot(input, other):
    """sqrt(a^2 + b^2)."""
    float_only("hypot", input, other)
    input, other = _promoted(input, other)
    out = (input * input + other * other).sqrt()
    # C's hypot: an infinite side gives inf even beside a NaN
    return where(input.isinf() | (other.isinf() if isinstance(other, Tensor) else
                                  math.isinf(other)), math.inf, out)


def copysign(input, other):
    """|input| with the sign (bit) of other."""
    dt = _dt.result_type(input, other)
    if dt.is_complex:   # (the real part alone was taken)
        raise NotImplementedError(f"\"copysign_cpu\" not implemented for "
                                  f"'{'ComplexFloat' if dt == _dt.complex64 else 'ComplexDouble'}'")
    a = input.to(dt if dt.is_floating_point else _dt.get_default_dtype())
    neg = signbit(other) if isinstance(other, Tensor) else (math.copysign(1.0, other) < 0)
    mag = a.abs()
    if isinstance(neg, bool):
        return -mag if neg else mag * 1
    return _with_zero_grad(where(neg, -mag, mag), other)


def fmax(input, other):
    """Elementwise maximum that ignores NaN (NaN only where both are)."""
    return where((input >= other) | isnan(other), input, other)


def fmin(input, other):
    return where((input <= other) | isnan(other), input, other)


def heaviside(input, values):
    """0 where x < 0, values where x == 0, 1 where x > 0."""
    if input.dtype.is_complex or (isinstance(values, Tensor) and values.dtype.is_complex):
        raise RuntimeError("heaviside is not yet implemented for complex tensors.")
    if isinstance(values, Tensor) and values.dtype is not input.dtype:
        raise RuntimeError(f"heaviside is not yet implemented for tensors with different "
                           f"dtypes ({input.dtype.name} and {values.dtype.name})")
    return where(input == 0, values, (input > 0).to(input.dtype))


def ldexp(input, other):
    """input * 2 ** other in the operands' promoted dtype (the default float for integers);
    as torch, 2 ** other is rounded to other's own dtype when other is a float tensor
    (float16 exponents give float16 powers)."""
    dt = _dt.result_type(input, other)
    if not (dt.is_floating_point or dt.is_complex):
        dt = _dt.get_default_dtype()
    own = isinstance(other, Tensor) and other.is_floating_point()
    two_to = pow(2.0, other if own or not isinstance(other, Tensor) else other.to(dt))
    return (input.to(dt) if isinstance(input, Tensor) else input) * two_to


def frexp(input):
    """(mantissa, exponent) with input = mantissa * 2 ** exponent, |mantissa| in [0.5, 1)."""
    if not input.is_floating_point():
        raise RuntimeError("torch.frexp() only supports floating-point dtypes")
    _data_dependent(input, "frexp")
    m, e = np.frexp(input._data)  # NumPy scalars for a 0-d input: back to arrays
    return _FREXP(_created(_make(np.asarray(m))), _created(_make(np.asarray(e, np.int32))))


_FREXP = namedtuple("frexp", ["mantissa", "exponent"])


def _int_binary(name, fwd, c_expr, kinds="i"):
    return register(type("".join(p.capitalize() for p in name.split("_")), (_Binary,), {
        "name": name, "onnx": None, "differentiable": False, "saves": "none",
        "forward": staticmethod(fwd), "c_expr": c_expr, "c_kinds": kinds}))


def _shift(op):
    def fwd(xp, a, b):
        out = op(a, b)
        return out.astype(np.result_type(a, b), copy=False) if hasattr(out, "astype") else out
    return fwd


Gcd = _int_binary("gcd", lambda xp, a, b: xp.gcd(a, b), None)
Lcm = _int_binary("lcm", lambda xp, a, b: xp.lcm(a, b), None)
@register
class NextAfter(_Binary):
    """The next float after input towards other; torch's gradient: the incoming one for input
    where input != other (zero where they are equal: the result is other there), zero for
    other."""
    name, onnx, c_expr = "nextafter", None, "nextafter({0}, {1})"
    opmath = False   # the next value of the operands' own dtype

    forward = staticmethod(lambda xp, a, b: xp.nextafter(a, b))

    @staticmethod
    def backward(c, g):
        a, b = c.saved
        return g * (a != b), g.new_zeros(g.shape)
# no C lowering: C leaves shifts by a negative count or by the width or more undefined, where
# NumPy (and torch) give 0 or the sign fill
LeftShift = _int_binary("bitwise_left_shift", _shift(np.left_shift), None)
RightShift = _int_binary("bitwise_right_shift", _shift(np.right_shift), None)


def _ints_only(name, *xs):
    """torch's refusal of float and bool operands, judged on the promoted dtype."""
    ts = [x for x in xs if isinstance(x, Tensor)]
    dt = _dt.result_type(*xs) if len(xs) > 1 else ts[0].dtype
    if dt.np.kind not in "iu":
        bad = next((x for x in ts if x.dtype == dt), ts[0])
        raise RuntimeError(f"\"{name}_cpu\" not implemented for '{_dt_name(bad)}'")


def gcd(input, other):
    _ints_only("gcd", input, other)
    return apply(Gcd, input, other)


def lcm(input, other):
    _ints_only("lcm", input, other)
    return apply(Lcm, input, other)


def nextafter(input, other):
    float_only("nextafter", input, other)
    return apply(NextAfter, input, other)


def bitwise_left_shift(input, other):
    _ints_only("lshift", input, other)
    return apply(LeftShift, input, other)


def bitwise_right_shift(input, other):
    _ints_only("rshift", input, other)
    return apply(RightShift, input, other)


# ----------------------------------------------------------------------------- Tensor methods
class PointwiseMethods:
    """cadenza.Tensor's methods for this module's functions (``x.f(...)`` is ``f(x, ...)``,
    in-place ``x.f_(...)`` commits it into x); ``cadenza/_tensor.py`` composes them."""
    __slots__ = ()

    igamma = igamma
    igammac = igammac
    signbit = signbit
    isposinf = isposinf
    isneginf = isneginf
    deg2rad = deg2rad
    rad2deg = rad2deg
    frac = frac
    positive = positive
    logaddexp = logaddexp
    logaddexp2 = logaddexp2
    hypot = hypot
    copysign = copysign
    fmax = fmax
    fmin = fmin
    heaviside = heaviside
    ldexp = ldexp
    frexp = frexp
    gcd = gcd
    lcm = lcm
    nextafter = nextafter
    bitwise_left_shift = bitwise_left_shift
    bitwise_right_shift = bitwise_right_shift

    igamma_ = make_inplace(igamma, "igamma_", True)
    igammac_ = make_inplace(igammac, "igammac_", True)
    deg2rad_ = make_inplace(deg2rad, "deg2rad_", True)
    rad2deg_ = make_inplace(rad2deg, "rad2deg_", True)
    frac_ = make_inplace(frac, "frac_", True)
    hypot_ = make_inplace(hypot, "hypot_", True)
    copysign_ = make_inplace(copysign, "copysign_", True)
    heaviside_ = make_inplace(heaviside, "heaviside_", True)
    ldexp_ = make_inplace(ldexp, "ldexp_", True)
    gcd_ = make_inplace(gcd, "gcd_", True)
    lcm_ = make_inplace(lcm, "lcm_", True)
    nextafter_ = make_inplace(nextafter, "nextafter_", True)
    bitwise_left_shift_ = make_inplace(bitwise_left_shift, "bitwise_left_shift_", True)
    bitwise_right_shift_ = make_inplace(bitwise_right_shift, "bitwise_right_shift_", True)

    def __lshift__(self, other):
        return bitwise_left_shift(self, other)

    def __rshift__(self, other):
        return bitwise_right_shift(self, other)

    def __rlshift__(self, other):
        return bitwise_left_shift(_tensor_of(other, self), self)

    def __rrshift__(self, other):
        return bitwise_right_shift(_tensor_of(other, self), self)

    def __ilshift__(self, other):
        return self.bitwise_left_shift_(other)

    def __irshift__(self, other):
        return self.bitwise_right_shift_(other)
