"""Elementwise maths beyond the basic families (issue 10): the gamma family (lgamma, digamma,
polygamma, mvlgamma), erfinv and i0 as primitives with their own series, and composites over
the elementwise ops (logaddexp, xlogy, hypot, copysign, fmax/fmin, logit, sinc, frac, ...),
integer ops (gcd, lcm, shifts) and float decompositions (frexp, ldexp, nextafter)."""
from __future__ import annotations

import math
from collections import namedtuple

import numpy as np

from ._registry import Op, register, apply
from .._tensor_base import TensorBase as Tensor, _make
from .. import dtypes as _dt
from .._creation import _created, tensor
from .binary import _Binary, pow, where, maximum
from .unary import isinf, isnan, _erf
from .index import _data_dependent
from .inplace import make_inplace

__all__ = ["copysign", "deg2rad", "digamma", "erfinv", "fmax", "fmin", "frac", "frexp", "gcd",
           "igamma", "igammac",
           "heaviside", "hypot", "i0", "isneginf", "isposinf", "lcm", "ldexp", "lgamma",
           "logaddexp", "logaddexp2", "logit", "mvlgamma", "nextafter", "polygamma",
           "positive", "rad2deg", "signbit", "sinc", "xlogy", "bitwise_left_shift",
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


def _digamma(x):
    x = np.array(x, np.float64)
    out = np.empty_like(x)
    neg = x < 0.5
    # reflection psi(x) = psi(1 - x) - pi / tan(pi x) for x < 0.5
    refl = np.where(neg, math.pi / np.tan(math.pi * x), 0.0)
    a = np.where(neg, 1 - x, x)
    acc = np.zeros_like(a)
    small = a < 12
    while small.any():
        acc = np.where(small, acc - 1 / np.where(small, a, 1), acc)
        a = np.where(small, a + 1, a)
        small = a < 12
    inv2 = 1 / (a * a)
    s, p = 0.0, inv2
    for c in _PSI_ASYM:
        s = s + c * p
        p = p * inv2
    out = np.log(a) - 0.5 / a - s + acc - refl
    out = np.where(x == 0, np.where(np.signbit(x), np.inf, -np.inf), out)
    return np.where((x < 0) & (x == np.floor(x)), np.nan, out)


# Bernoulli numbers B_2 ... B_20 for the Euler-Maclaurin tail of the Hurwitz zeta function
_B2K = (1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6, -3617 / 510,
        43867 / 798, -174611 / 330)


def _polygamma(x, n=0):
    """psi^(n)(x) = (-1)^(n+1) n! zeta(n + 1, x) for n >= 1 (Hurwitz zeta by shifting x to
    >= 12 and the Euler-Maclaurin formula)."""
    if n == 0:
        return _digamma(x)
    s = n + 1
    a = np.array(x, np.float64)
    acc = np.zeros_like(a)
    small = a < 12
    while small.any():
        acc = acc + np.where(small, np.where(small, a, 1.0) ** -s, 0.0)
        a = np.where(small, a + 1, a)
        small = a < 12
    tail = a ** (1 - s) / (s - 1) + 0.5 * a ** -s
    rise = float(s)          # s (s+1) ... (s+2k-2)
    fact = 2.0               # (2k)!
    for k, b in enumerate(_B2K, start=1):
        tail = tail + b / fact * rise * a ** -(s + 2 * k - 1)
        rise *= (s + 2 * k - 1) * (s + 2 * k)
        fact *= (2 * k + 1) * (2 * k + 2)
    zeta = acc + tail
    out = (-1) ** (n + 1) * math.factorial(n) * zeta
    return np.where(np.asarray(x) == np.inf, 0.0 if n else np.inf, out)


def _erfinv(x):
    """Giles' single-precision approximation refined by two Newton steps on float64 erf."""
    x = np.array(x, np.float64)
    w = -np.log((1 - x) * (1 + x))
    lo = w < 5
    wl = w - 2.5
    pl = 2.81022636e-08
    for c in (3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087, -0.00125372503,
              -0.00417768164, 0.246640727, 1.50140941):
        pl = c + pl * wl
    wh = np.sqrt(np.where(lo, 5.0, w)) - 3
    ph = -0.000200214257
    for c in (0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613,
              0.00943887047, 1.00167406, 2.83297682):
        ph = c + ph * wh
    y = np.where(lo, pl, ph) * x
    for _ in range(2):
        y = y - (_erf(np, y) - x) / (2 / math.sqrt(math.pi) * np.exp(-y * y))
    y = np.where(np.abs(x) == 1, np.copysign(np.inf, x), y)
    return np.where(np.abs(x) > 1, np.nan, y)


def _i1(x):
    """Modified Bessel function of the first kind, order 1: its power series (all terms of one
    sign, so no cancellation), as many terms as |x| needs."""
    x = np.array(x, np.float64)
    h = x / 2
    term = h.copy()
    total = h.copy()
    n = int(np.nanmax(np.abs(x), initial=0.0) * 1.5) + 30 if x.size else 0
    h2 = h * h
    for k in range(1, n):
        term = term * h2 / (k * (k + 1))
        total = total + term
    return total


def _unary_lib(name, fwd, bwd, saves="inputs", **fields):
    """An elementwise primitive without a C lowering (its forward is a series in NumPy):
    kind "library", so the fusion passes leave it alone."""
    cls = type("".join(p.capitalize() for p in name.split("_")), (Op,), {
        "name": name, "kind": "library", "onnx": None, "saves": saves, "to_float": True,
        "forward": staticmethod(fwd), "backward": staticmethod(bwd), **fields})
    return register(cls)


Lgamma = _unary_lib("lgamma", _in_float(_lgamma), lambda c, g: (g * digamma(c.saved[0]),))
Digamma = _unary_lib("digamma", _in_float(_digamma),
                     lambda c, g: (g * polygamma(1, c.saved[0]),))
Polygamma = _unary_lib("polygamma", _in_float(_polygamma),
                       lambda c, g: (g * polygamma(c.attrs["n"] + 1, c.saved[0]),))
# d/dx erfinv(x) = sqrt(pi)/2 exp(erfinv(x)^2)
Erfinv = _unary_lib("erfinv", _in_float(_erfinv),
                    lambda c, g: (g * (c.out * c.out).exp() * (math.sqrt(math.pi) / 2),),
                    saves="output")
# d/dx i1(x) = i0(x) - i1(x)/x (1/2 at 0)
I1 = _unary_lib("i1", _in_float(_i1), lambda c, g: (g * _i1_grad(c.saved[0]),))
I0 = _unary_lib("i0", _in_float(np.i0), lambda c, g: (g * apply(I1, c.saved[0]),))


def _i1_grad(x):
    zero = x == 0
    safe = where(zero, 1.0, x)
    return where(zero, 0.5, i0(x) - apply(I1, safe) / safe)


def lgamma(input):
    return apply(Lgamma, input)


def digamma(input):
    return apply(Digamma, input)


def polygamma(n, input):
    if not isinstance(n, int) or n < 0:
        raise RuntimeError(f"polygamma(n, x) does not support negative n, got n={n}")
    return apply(Polygamma, input, n=n)


def mvlgamma(input, p):
    """Multivariate log-gamma: sum_i lgamma(x - i/2) + p(p-1)/4 log(pi)."""
    if p < 1:
        raise RuntimeError(f"mvlgamma: p has to be greater than or equal to 1, got {p}")
    if not input.is_floating_point():
        input = input.to(_dt.get_default_dtype())
    out = lgamma(input)
    for i in range(1, p):
        out = out + lgamma(input - i / 2)
    return out + p * (p - 1) / 4 * math.log(math.pi)


def erfinv(input):
    return apply(Erfinv, input)


def i0(input):
    return apply(I0, input)


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


def sinc(input):
    """sin(pi x) / (pi x), 1 at 0 (gradient 0 there)."""
    x = _float(input)
    zero = x == 0
    px = where(zero, 1.0, x) * math.pi
    return where(zero, 1.0, px.sin() / px)


def logit(input, eps=None):
    """log(x / (1 - x)), x clamped to [eps, 1 - eps] when eps is given."""
    x = _float(input)
    if eps is not None:
        x = x.clamp(eps, 1 - eps)
    # -inf at 0 and inf at 1, as PyTorch, without NumPy's divide-by-zero warnings
    end = (x == 0) | (x == 1)
    safe = where(end, 0.5, x)
    core = (safe / (1 - safe)).log()
    return where(x == 1, math.inf, where(x == 0, -math.inf, core))


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


def xlogy(input, other):
    """x * log(y), 0 where x == 0 (unless y is NaN); the gradient in x is log(y)."""
    x = _float(input if isinstance(input, Tensor) else _tensor_of(input, other))
    y = _float(other if isinstance(other, Tensor) else _tensor_of(other, input))
    # x * log(y) is already 0 at x == 0 for 0 < y < inf: only y <= 0 and y == inf need care
    bad = (x == 0) & ((y <= 0) | (y == math.inf))
    return where(bad, 0.0, x * where(bad, 1.0, y).log())


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

    lgamma = lgamma
    digamma = digamma
    igamma = igamma
    igammac = igammac
    mvlgamma = mvlgamma
    erfinv = erfinv
    i0 = i0
    signbit = signbit
    isposinf = isposinf
    isneginf = isneginf
    deg2rad = deg2rad
    rad2deg = rad2deg
    frac = frac
    sinc = sinc
    logit = logit
    positive = positive
    logaddexp = logaddexp
    logaddexp2 = logaddexp2
    xlogy = xlogy
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

    def polygamma(self, n):
        return polygamma(n, self)

    lgamma_ = make_inplace(lgamma, "lgamma_", True)
    igamma_ = make_inplace(igamma, "igamma_", True)
    igammac_ = make_inplace(igammac, "igammac_", True)
    digamma_ = make_inplace(digamma, "digamma_", True)
    mvlgamma_ = make_inplace(mvlgamma, "mvlgamma_", True)
    erfinv_ = make_inplace(erfinv, "erfinv_", True)
    i0_ = make_inplace(i0, "i0_", True)
    deg2rad_ = make_inplace(deg2rad, "deg2rad_", True)
    rad2deg_ = make_inplace(rad2deg, "rad2deg_", True)
    frac_ = make_inplace(frac, "frac_", True)
    sinc_ = make_inplace(sinc, "sinc_", True)
    logit_ = make_inplace(logit, "logit_", True)
    xlogy_ = make_inplace(xlogy, "xlogy_", True)
    hypot_ = make_inplace(hypot, "hypot_", True)
    copysign_ = make_inplace(copysign, "copysign_", True)
    heaviside_ = make_inplace(heaviside, "heaviside_", True)
    ldexp_ = make_inplace(ldexp, "ldexp_", True)
    gcd_ = make_inplace(gcd, "gcd_", True)
    lcm_ = make_inplace(lcm, "lcm_", True)
    nextafter_ = make_inplace(nextafter, "nextafter_", True)
    bitwise_left_shift_ = make_inplace(bitwise_left_shift, "bitwise_left_shift_", True)
    bitwise_right_shift_ = make_inplace(bitwise_right_shift, "bitwise_right_shift_", True)
    polygamma_ = make_inplace(lambda self, n: polygamma(n, self), "polygamma_", True)

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
