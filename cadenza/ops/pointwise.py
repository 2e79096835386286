"""Elementwise maths beyond the basic families (issue 10): the incomplete gamma functions
(igamma, igammac) as primitives with their own series, composites over the elementwise ops
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
from .binary import _Binary, pow, where, maximum
from .unary import isinf, isnan
from .index import _data_dependent
from .inplace import make_inplace
from .special import lgamma

__all__ = ["copysign", "deg2rad", "fmax", "fmin", "frac", "frexp", "gcd", "igamma", "igammac",
           "heaviside", "hypot", "isneginf", "isposinf", "lcm", "ldexp", "logaddexp",
           "logaddexp2", "nextafter", "positive", "rad2deg", "signbit", "bitwise_left_shift",
           "bitwise_right_shift"]


# ----------------------------------------------------------------------------- series (float64)
def on_host(fwd):
    """A forward written for NumPy only (series, ufunc.at, per-row loops): device (CuPy)
    operands and index attributes are copied to the host and the result back to the device."""
    def run(xp, *arrays, **attrs):
        if xp is np:
            return fwd(np, *arrays, **attrs)
        out = fwd(np, *[_host(a) for a in arrays], **{k: _host(v) for k, v in attrs.items()})
        return xp.asarray(out)
    return run


def _host(v):
    if hasattr(v, "__cuda_array_interface__"):
        return v.get()
    if type(v) is tuple:
        return tuple(_host(i) for i in v)
    return v


def _in_float(fn):
    """Compute ``fn`` in float64 and give the input's float dtype back (integer inputs arrive
    as the default float: these ops set ``to_float``)."""
    def fwd(xp, a, **kw):
        with np.errstate(all="ignore"):
            return fn(np.asarray(a, np.float64), **kw).astype(a.dtype, copy=False)
    return on_host(fwd)


def _lgamma(x):
    out = np.frompyfunc(_lgamma1, 1, 1)(x)
    return np.asarray(out, np.float64)


def _lgamma1(v):
    try:
        return math.lgamma(v)
    except ValueError:  # the poles 0, -1, -2, ...: +inf as in PyTorch
        return math.inf


# psi(x) - ln x + 1/(2x) ~ -sum B_2k / (2k x^2k), for x >= 12 (error < 1e-16)
_PSI_ASYM = (1 / 12, -1 / 120, 1 / 252, -1 / 240, 1 / 132, -691 / 32760, 1 / 12)


def _igamma_parts(a, x):
    """(P, Q): the regularized lower and upper incomplete gamma functions, by the power series
    where x < a + 1 and Lentz's continued fraction for Q elsewhere (Numerical Recipes 6.2)."""
    a, x = np.broadcast_arrays(np.asarray(a, np.float64), np.asarray(x, np.float64))
    front = np.exp(-x + a * np.log(x) - _lgamma(a))
    ap, d = a.copy(), 1 / a
    total = d.copy()
    for _ in range(1000):
        ap = ap + 1
        d = d * x / ap
        total = total + d
        if not np.any(np.abs(d) > np.abs(total) * 1e-17):
            break
    p_series = total * front
    tiny = 1e-300
    b = x + 1 - a
    c = np.full_like(b, 1 / tiny)
    d = 1 / np.where(b == 0, tiny, b)
    h = d.copy()
    for i in range(1, 1000):
        an = -i * (i - a)
        b = b + 2
        d = an * d + b
        d = 1 / np.where(d == 0, tiny, d)
        c = b + an / c
        c = np.where(c == 0, tiny, c)
        delta = d * c
        h = h * delta
        if not np.any(np.abs(delta - 1) > 1e-16):
            break
    q_cf = front * h
    series = x < a + 1
    p = np.where(series, p_series, 1 - q_cf)
    q = np.where(series, 1 - p_series, q_cf)
    zero = x == 0
    p, q = np.where(zero, 0.0, p), np.where(zero, 1.0, q)
    bad = (a < 0) | (x < 0) | np.isnan(a) | np.isnan(x)
    p, q = np.where(bad, np.nan, p), np.where(bad, np.nan, q)
    inf = np.isposinf(x)
    return np.where(inf, 1.0, p), np.where(inf, 0.0, q)


def _igamma_op(name, upper):
    """igamma / igammac: differentiable in x only (d/dx P(a, x) = x^(a-1) e^-x / Gamma(a)), as
    PyTorch (its gradient in a is not implemented)."""
    @on_host
    def fwd(xp, a, x):
        with np.errstate(all="ignore"):
            out = _igamma_parts(a, x)[1 if upper else 0]
        return out.astype(np.result_type(a, x), copy=False)

    def bwd(c, g):
        a, x = c.saved
        dens = ((a - 1) * x.log() - x - lgamma(a)).exp()
        return None, (-g if upper else g) * dens
    return register(type(name.capitalize(), (Op,), {
        "name": name, "kind": "library", "onnx": None, "promote": True, "to_float": True,
        "forward": staticmethod(fwd), "backward": staticmethod(bwd)}))


Igamma = _igamma_op("igamma", False)
Igammac = _igamma_op("igammac", True)


def igamma(input, other):
    """The regularized lower incomplete gamma function P(input, other)."""
    return apply(Igamma, input, other)


def igammac(input, other):
    """The regularized upper incomplete gamma function Q(input, other) = 1 - P."""
    return apply(Igammac, input, other)


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
    """PyTorch's refusal of integer and bool tensors for a floating-point kernel."""
    for x in xs:
        if isinstance(x, Tensor) and not x.is_floating_point():
            raise exc(f"\"{name}_cpu\" not implemented for '{_dt_name(x)}'")


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
    m = maximum(input, other).detach()
    m = where(isinf(m), 0.0, m)
    s = (input - m).exp() + (other - m).exp()
    zero = s == 0                       # both -inf: log(0) = -inf, without NumPy's warning
    return where(zero, -math.inf, where(zero, 1.0, s).log()) + m


def logaddexp2(input, other):
    ln2 = math.log(2)
    return logaddexp(input * ln2, other * ln2) / ln2


def hypot(input, other):
    """sqrt(a^2 + b^2)."""
    float_only("hypot", input, other)
    return (input * input + other * other).sqrt()


def copysign(input, other):
    """|input| with the sign (bit) of other."""
    dt = _dt.result_type(input, other)
    a = input.to(dt if dt.is_floating_point else _dt.get_default_dtype())
    neg = signbit(other) if isinstance(other, Tensor) else (math.copysign(1.0, other) < 0)
    mag = a.abs()
    if isinstance(neg, bool):
        return -mag if neg else mag * 1
    return where(neg, -mag, mag)


def fmax(input, other):
    """Elementwise maximum that ignores NaN (NaN only where both are)."""
    return where((input >= other) | isnan(other), input, other)


def fmin(input, other):
    return where((input <= other) | isnan(other), input, other)


def heaviside(input, values):
    """0 where x < 0, values where x == 0, 1 where x > 0."""
    if isinstance(values, Tensor) and values.dtype is not input.dtype:
        raise RuntimeError(f"heaviside is not yet implemented for tensors with different "
                           f"dtypes ({input.dtype.name} and {values.dtype.name})")
    return where(input == 0, values, (input > 0).to(input.dtype))


def ldexp(input, other):
    """input * 2 ** other."""
    return _float(input) * pow(2.0, _float(other))


def frexp(input):
    """(mantissa, exponent) with input = mantissa * 2 ** exponent, |mantissa| in [0.5, 1)."""
    if not input.is_floating_point():
        raise RuntimeError("torch.frexp() only supports floating-point dtypes")
    _data_dependent(input, "frexp")
    m, e = np.frexp(input._data)
    return _FREXP(_created(_make(m)), _created(_make(e.astype(np.int32))))


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
NextAfter = _int_binary("nextafter", lambda xp, a, b: xp.nextafter(a, b), "nextafter({0}, {1})",
                        "f")
# no C lowering: C leaves shifts by a negative count or by the width or more undefined, where
# NumPy (and torch) give 0 or the sign fill
LeftShift = _int_binary("bitwise_left_shift", _shift(np.left_shift), None)
RightShift = _int_binary("bitwise_right_shift", _shift(np.right_shift), None)


def _ints_only(name, *xs):
    for x in xs:
        if isinstance(x, Tensor) and x._data.dtype.kind not in "iu":
            raise RuntimeError(f"\"{name}_cpu\" not implemented for '{_dt_name(x)}'")


def gcd(input, other):
    _ints_only("gcd", input, other)
    return apply(Gcd, input, other)


def lcm(input, other):
    _ints_only("lcm", input, other)
    return apply(Lcm, input, other)


def nextafter(input, other):
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
