"""Special functions (``torch.special`` and the top-level lgamma, digamma, polygamma, mvlgamma,
erfinv, i0, sinc, logit, xlogy): primitives computed in float64 with NumPy (no SciPy) and the
standard library's libm (``math.lgamma``/``erfc``), accurate to ~1e-15 relative, with
PyTorch's gradients; and composites over them. ``cadenza.special`` is the namespace.

Methods: digamma and polygamma by recurrence and the asymptotic series, polygamma(n >= 1) and
zeta through the Hurwitz zeta function (Euler-Maclaurin, as Cephes); erfinv and ndtri by an
initial approximation refined with Newton steps on erfc / log_ndtr; i0, i1 (and the scaled
i0e, i1e) by their everywhere-positive power series for |x| <= 30 and the asymptotic
expansion beyond; erfcx by its continued fraction for x >= 2.
"""
from __future__ import annotations

import math

import numpy as np

from ._registry import Op, register, apply, _camel, on_host
from .._tensor_base import TensorBase as Tensor
from .._creation import tensor as _tensor
from .. import dtypes as _dt
from .binary import where
from .elementwise import clamp
from .inplace import make_inplace

__all__ = ["digamma", "erfinv", "i0", "lgamma", "logit", "mvlgamma", "polygamma", "sinc",
           "xlogy"]

_SQRT_PI = math.sqrt(math.pi)
_SQRT_2 = math.sqrt(2.0)
_SQRT_2PI = math.sqrt(2 * math.pi)


def _f64(a):
    return np.asarray(a, dtype=np.float64)


def _math(fn, bad=math.inf):
    """A libm function of ``math`` over an array (``bad`` where it raises: poles)."""
    def safe(v):
        try:
            return fn(v)
        except (ValueError, OverflowError):
            return bad
    vec = np.frompyfunc(safe, 1, 1)
    return lambda a: vec(_f64(a)).astype(np.float64) if np.ndim(a) else np.float64(safe(float(a)))


_lgamma = _math(math.lgamma)
_erfc = _math(math.erfc)
_erf = _math(math.erf)


def _digamma(x):
    x = _f64(x).copy()
    out = np.zeros_like(x)
    neg = x < 0
    # reflection psi(x) = psi(1 - x) - pi / tan(pi x); poles at non-positive integers
    # (tan has period pi: tan(pi x) from x's exact fractional part keeps its precision)
    frac = np.where(neg, x - np.floor(x), 0.5)
    refl = np.where(neg, -math.pi / np.tan(math.pi * frac), 0.0)
    y = np.where(neg, 1 - x, x)
    for _ in range(10):  # recurrence psi(y) = psi(y + 1) - 1/y up to y >= 10
        small = y < 10
        out = out - np.where(small, 1 / np.where(small, y, 1.0), 0.0)
        y = np.where(small, y + 1, y)
    y2 = 1 / (y * y)
    series = y2 * (1 / 12 - y2 * (1 / 120 - y2 * (1 / 252 - y2 * (1 / 240 - y2 * (
        1 / 132 - y2 * (691 / 32760 - y2 / 12))))))
    out = out + np.log(y) - 0.5 / y - series + refl
    out = np.where(x == 0, np.where(np.signbit(x), np.inf, -np.inf), out)
    return np.where(neg & (x == np.floor(x)), np.nan, out)


_ZETA_A = (12.0, -720.0, 30240.0, -1209600.0, 47900160.0, -1.8924375803183791606e9,
           7.47242496e10, -2.950130727918164224e12, 1.1646782814350067249e14,
           -4.5979787224074726105e15, 1.8152105401943546773e17, -7.1661652561756670113e18)
_EPS = np.finfo(np.float64).eps


def _zeta(x, q, at_inf_q=0.0):
    """Hurwitz zeta sum_k (k + q)^-x (Cephes' Euler-Maclaurin summation), x > 1. q = +inf
    gives ``at_inf_q`` (0, the limit, for polygamma; torch's zeta gives NaN there)."""
    x, q = (np.array(v, dtype=np.float64) for v in np.broadcast_arrays(_f64(x), _f64(q)))
    bad = (x < 1) | np.isnan(x) | np.isnan(q) | ((q <= 0) & (q != np.floor(q)) &
                                                 (x != np.floor(x)))
    # Cephes' order (torch's): x < 1 is NaN, then x == 1 or an integer q <= 0 (-inf too) a
    # pole, before any NaN test of x or q
    pole = ~(x < 1) & ((x == 1) | ((q <= 0) & (q == np.floor(q))))
    ok = ~(bad | pole) & np.isfinite(q)
    xs, qs = np.where(ok, x, 2.0), np.where(ok, q, 1.0)
    with np.errstate(all="ignore"):
        s = qs ** -xs
        a = qs.copy()
        b = np.zeros_like(s)
        i = 0
        done = np.zeros(s.shape, bool)
        while True:
            act = ~done & ((i < 9) | (a <= 9.0))
            if not act.any():
                break
            a = np.where(act, a + 1, a)
            b = np.where(act, a ** -xs, b)
            s = np.where(act, s + b, s)
            done |= act & (np.abs(b / s) < _EPS) & (a > 9.0) & (i >= 9)
            i += 1
            if i > 100000:
                break
        fin = ~done
        w = a
        s = np.where(fin, s + b * w / (xs - 1) - 0.5 * b, s)
        aa = np.ones_like(s)
        k = 0.0
        for coef in _ZETA_A:
            aa = aa * (xs + k)
            b = b / w
            t = aa * b / coef
            s = np.where(fin, s + t, s)
            fin &= np.abs(t / s) >= _EPS
            k += 1.0
            aa = aa * (xs + k)
            b = b / w
            k += 1.0
    out = np.where(ok, s, np.nan)
    out = np.where(np.isposinf(q) & (x > 1), at_inf_q, out)
    # x = inf: q^-inf for q <= 1 (inf, 1); NaN beyond, as torch's summation gives
    out = np.where(np.isposinf(x) & (q > 0), np.where(q < 1, np.inf, np.where(
        q == 1, 1.0, np.nan)), out)
    return np.where(pole, np.inf, out)


def _polygamma(n, x):
    if n == 0:
        return _digamma(x)
    return (-1.0) ** (n + 1) * math.factorial(n) * _zeta(n + 1.0, x)


def _erfinv(y):
    y = _f64(y)
    with np.errstate(all="ignore"):
        w = -np.log((1.0 - y) * (1.0 + y))
        lo = w < 5.0
        wl = w - 2.5
        pl = 2.81022636e-08
        for c in (3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087,
                  -0.00125372503, -0.00417768164, 0.246640727, 1.50140941):
            pl = c + pl * wl
        wh = np.sqrt(np.where(lo, 5.0, w)) - 3.0
        ph = -0.000200214257
        for c in (0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773,
                  -0.0076224613, 0.00943887047, 1.00167406, 2.83297682):
            ph = c + ph * wh
        x = np.where(lo, pl, ph) * y
        # Newton on erf(|x|) = |y| in the middle; in the tails on log erfc(|x|) = log(1 - |y|)
        # (1 - |y| is exact for |y| >= 1/2, and erfc keeps its relative precision there)
        ay, ax = np.abs(y), np.abs(x)
        fin = np.isfinite(ax) & (ay < 1)
        axs = np.where(fin, ax, 0.0)
        tail = ay >= 0.5
        log_tail = np.log(np.where(tail, 1 - ay, 0.5))
        for _ in range(5):
            step_mid = (_erf(axs) - ay) / (2 / _SQRT_PI * np.exp(-axs * axs))
            step_tail = (np.log(_erfc(axs)) - log_tail) / (-2 / (_SQRT_PI * _erfcx(axs)))
            axs = axs - np.where(tail, step_tail, step_mid)
        out = np.where(fin, np.sign(y) * axs, np.nan)
    out = np.where(ay == 1, np.sign(y) * np.inf, out)
    return np.where(y == 0, y, out)


def _bessel_series(x, order, scaled):
    """I0 / I1 of |x| by the power series sum (x/2)^(2k+order) / (k! (k+order)!)."""
    h = x / 2
    h2 = h * h
    term = np.ones_like(x) if order == 0 else h.copy()
    total = term.copy()
    for k in range(1, 90):
        term = term * h2 / (k * (k + order))
        total = total + term
    return total * np.exp(-x) if scaled else total


def _bessel_asym(x, order, scaled):
    """I_order(x) ~ e^x / sqrt(2 pi x) sum_k (-1)^k prod_j (4 nu^2 - (2j - 1)^2) / (k! (8x)^k)."""
    mu = 4.0 * order * order
    term = np.ones_like(x)
    total = term.copy()
    for k in range(1, 30):
        term = term * -(mu - (2 * k - 1) ** 2) / (k * 8.0 * x)
        total = total + term
    pre = 1 / np.sqrt(2 * math.pi * x)
    return total * pre if scaled else total * pre * np.exp(x)


def _bessel_i(x, order, scaled):
    x = _f64(x)
    ax = np.abs(x)
    small = ax <= 30
    with np.errstate(all="ignore"):
        s = _bessel_series(np.where(small, ax, 1.0), order, scaled)
        a = _bessel_asym(np.where(small, 31.0, ax), order, scaled)
    out = np.where(small, s, a)
    out = np.where(np.isnan(x), np.nan, out)
    return out * np.sign(x) if order == 1 else out


def _erfcx(x):
    x = _f64(x)
    with np.errstate(all="ignore"):
        ax = np.abs(x)
        big = ax >= 2
        xb = np.where(big, ax, 2.0)
        t = xb.copy()
        for k in range(150, 0, -1):  # the continued fraction x + (k/2) / (x + ...)
            t = xb + (k / 2) / t
        cf = 1 / (_SQRT_PI * t)
        xs = np.where(big, 0.0, ax)
        direct = np.exp(xs * xs) * _erfc(xs)
        pos = np.where(big, cf, direct)   # erfcx(|x|)
        neg = 2 * np.exp(x * x) - pos      # erfcx(-|x|) = 2 e^(x^2) - erfcx(|x|)
        out = np.where(x >= 0, pos, neg)
        out = np.where(np.isposinf(x), 0.0, out)
    return np.where(np.isnan(x), np.nan, out)


def _log_ndtr(x):
    x = _f64(x)
    with np.errstate(all="ignore"):
        lo = x < -1
        xl = np.where(lo, x, -2.0)
        low = np.log(0.5 * _erfcx(-xl / _SQRT_2)) - xl * xl / 2
        xm = np.where(lo, 0.0, x)
        mid = np.where(xm > 0, np.log1p(-0.5 * _erfc(xm / _SQRT_2)),
                       np.log(0.5 * _erfc(-xm / _SQRT_2)))
    return np.where(lo, low, mid)


def _ndtri(p):
    p = _f64(p)
    q = np.where(p > 0.5, 1 - p, p)
    inside = (q > 0) & (q <= 0.5)
    qs = np.where(inside, q, 0.25)
    with np.errstate(all="ignore"):
        t = np.sqrt(-2 * np.log(qs))
        x = -(t - (2.515517 + 0.802853 * t + 0.010328 * t * t) /
              (1 + 1.432788 * t + 0.189269 * t * t + 0.001308 * t * t * t))
        lq = np.log(qs)
        for _ in range(8):  # Newton on log ndtr(x) = log q
            ln = _log_ndtr(x)
            step = (ln - lq) / (np.exp(-x * x / 2 - ln) / _SQRT_2PI)
            x = x - np.where(np.isfinite(step), step, 0.0)
    out = np.where(p > 0.5, -x, x)
    # near the middle sqrt(2) erfinv(2p - 1) is exact to the last bits (2p - 1 is exact)
    mid = np.abs(p - 0.5) < 0.2
    out = np.where(mid, _SQRT_2 * _erfinv(np.where(mid, 2 * p - 1, 0.0)), out)
    out = np.where(p == 0, -np.inf, np.where(p == 1, np.inf, out))
    return np.where((p < 0) | (p > 1) | np.isnan(p), np.nan, out)


# ----------------------------------------------------------------------------- primitives
def _special(name, fn, bwd, saves="inputs"):
    """A unary float primitive: ``fn`` on float64, the result in the input's dtype."""
    def forward(xp, a, **attrs):
        with np.errstate(all="ignore"):  # NaN/inf results are the answer (poles, domain)
            r = fn(xp.asnumpy(a) if hasattr(xp, "asnumpy") else a, **attrs)
        return xp.asarray(np.asarray(r, dtype=np.float64).astype(a.dtype, copy=False))
    return register(type(_camel(name), (Op,), {
        "name": name, "kind": "library", "onnx": None, "to_float": True, "saves": saves,
        "forward": staticmethod(forward), "backward": staticmethod(bwd)}))


Lgamma = _special("lgamma", _lgamma, lambda c, g: (g * apply(Digamma, c.saved[0]),))
Digamma = _special("digamma", _digamma,
                   lambda c, g: (g * apply(Polygamma, c.saved[0], n=1),))
Polygamma = _special("polygamma", lambda a, n=1: _polygamma(n, a),
                     lambda c, g: (g * apply(Polygamma, c.saved[0], n=c.attrs["n"] + 1),))
# d/dy erfinv(y) = sqrt(pi) / 2 exp(erfinv(y)^2)
Erfinv = _special("erfinv", _erfinv,
                  lambda c, g: (g * (_SQRT_PI / 2) * (c.out * c.out).exp(),), saves="output")
I0 = _special("i0", lambda a: _bessel_i(a, 0, False), lambda c, g: (g * apply(I1, c.saved[0]),))
I0e = _special("i0e", lambda a: _bessel_i(a, 0, True),
               lambda c, g: (g * (apply(I1e, c.saved[0]) - c.saved[0].sign() *
                                  apply(I0e, c.saved[0])),))


def _i1_grad(c, g, scaled):
    # I1' = I0 - I1 / x, I1e' = I0e - I1e (sign(x) + 1 / x); both 1/2 at x = 0
    x = c.saved[0]
    zero = x == 0
    xs = where(zero, 1.0, x)
    if scaled:
        d = apply(I0e, x) - apply(I1e, xs) * (x.sign() + 1 / xs)
    else:
        d = apply(I0, x) - apply(I1, xs) / xs
    return (g * where(zero, 0.5, d),)


I1 = _special("i1", lambda a: _bessel_i(a, 1, False), lambda c, g: _i1_grad(c, g, False))
I1e = _special("i1e", lambda a: _bessel_i(a, 1, True), lambda c, g: _i1_grad(c, g, True))
# d/dx erfcx(x) = 2 x erfcx(x) - 2 / sqrt(pi)
Erfcx = _special("erfcx", _erfcx,
                 lambda c, g: (g * (2 * c.saved[0] * apply(Erfcx, c.saved[0]) -
                                    2 / _SQRT_PI),))
# d/dx log ndtr(x) = pdf(x) / ndtr(x) = exp(-x^2 / 2 - log ndtr(x)) / sqrt(2 pi)
LogNdtr = _special("log_ndtr", _log_ndtr,
                   lambda c, g: (g * (-c.saved[0] * c.saved[0] / 2 -
                                      apply(LogNdtr, c.saved[0])).exp() / _SQRT_2PI,))
# d/dp ndtri(p) = sqrt(2 pi) exp(ndtri(p)^2 / 2)
Ndtri = _special("ndtri", _ndtri, lambda c, g: (g * _SQRT_2PI * (c.out * c.out / 2).exp(),),
                 saves="output")


@register
class Zeta(Op):
    """Hurwitz zeta(x, q); PyTorch differentiates only in q: d/dq = -x zeta(x + 1, q)."""
    name, kind, onnx, promote, to_float = "zeta", "library", None, True, True

    @staticmethod
    def forward(xp, x, q):
        dt = np.result_type(x, q)
        with np.errstate(all="ignore"):
            z = _zeta(x, q, np.nan)
        return xp.asarray(z.astype(dt if dt.kind == "f" else np.float64,
                                             copy=False))

    @staticmethod
    def backward(c, g):
        x, q = c.saved
        if c.next[0] is not None:
            raise RuntimeError("the derivative for 'zeta' with respect to its first argument "
                               "is not implemented (as in PyTorch)")
        return None, -g * x * apply(Zeta, x + 1, q)


def _gammainc(a, x, upper):
    """Regularized incomplete gamma P(a, x) (Q = 1 - P when upper): the series for x < a + 1,
    the Lentz continued fraction for Q otherwise (Numerical Recipes' gser / gcf)."""
    a, x = (np.array(v, dtype=np.float64) for v in np.broadcast_arrays(_f64(a), _f64(x)))
    bad = (a < 0) | (x < 0) | np.isnan(a) | np.isnan(x)
    ok = ~bad & (a > 0) & (x > 0) & np.isfinite(x)
    aa, xx = np.where(ok, a, 1.0), np.where(ok, x, 1.0)
    with np.errstate(all="ignore"):
        front = np.exp(aa * np.log(xx) - xx - _lgamma(aa))
        use_series = xx < aa + 1
        # series: P = front / a * sum_n x^n / ((a+1)...(a+n))
        term = 1 / aa
        total = term.copy()
        ap = aa.copy()
        for _ in range(5000):
            ap = ap + 1
            term = term * xx / ap
            total = total + term
            if not np.any(use_series & (np.abs(term) > np.abs(total) * _EPS)):
                break
        p_series = total * front
        # continued fraction for Q
        tiny = 1e-300
        b = xx + 1 - aa
        c = np.full_like(b, 1 / tiny)
        d = 1 / np.where(b == 0, tiny, b)
        h = d.copy()
        for i in range(1, 5000):
            an = -i * (i - aa)
            b = b + 2
            d = an * d + b
            d = np.where(np.abs(d) < tiny, tiny, d)
            c = b + an / c
            c = np.where(np.abs(c) < tiny, tiny, c)
            d = 1 / d
            delta = d * c
            h = h * delta
            if not np.any(~use_series & (np.abs(delta - 1) > _EPS)):
                break
        q_cf = front * h
    p = np.where(use_series, p_series, 1 - q_cf)
    q = np.where(use_series, 1 - p_series, q_cf)
    out = np.where(ok, q if upper else p, np.nan)
    # the edges in PyTorch's order (the first that holds decides, before any NaN test):
    # a or x < 0 -> NaN; a = 0 -> P = 1 for x > 0 else NaN; x = 0 -> 0; a = inf -> 0 (NaN
    # for x = inf); x = inf -> 1
    with np.errstate(invalid="ignore"):
        conds = [(x < 0) | (a < 0), a == 0, x == 0, np.isinf(a), np.isinf(x)]
        p_edge = np.select(conds, [np.nan, np.where(x > 0, 1.0, np.nan), 0.0,
                                   np.where(np.isinf(x), np.nan, 0.0), 1.0], np.nan)
    return np.where(np.any(conds, axis=0), 1 - p_edge if upper else p_edge, out)


@register
class Gammainc(Op):
    """Regularized lower (upper=False) or upper incomplete gamma; PyTorch differentiates only
    in x: d/dx P(a, x) = x^(a-1) e^-x / Gamma(a) (Q: its negative)."""
    name, kind, onnx, promote, to_float = "gammainc", "library", None, True, True

    @staticmethod
    @on_host
    def forward(xp, a, x, upper=False):
        dt = np.result_type(a, x)
        with np.errstate(all="ignore"):
            r = _gammainc(a, x, upper)
        return r.astype(dt if dt.kind == "f" else np.float64, copy=False)

    @staticmethod
    def backward(c, g):
        a, x = c.saved
        if c.next[0] is not None:
            raise RuntimeError("the derivative for 'gammainc' with respect to its first "
                               "argument is not implemented (as in PyTorch)")
        d = ((a - 1) * x.log() - x - apply(Lgamma, a)).exp()
        return None, (-g * d if c.attrs.get("upper", False) else g * d)


def _poly(kind, x, n):
    """Orthogonal polynomial ``kind`` of degree n at x by its three-term recurrence; 0 for
    n < 0 (PyTorch's convention)."""
    x, n = np.broadcast_arrays(_f64(x), np.asarray(n))
    n = n.astype(np.int64)
    if kind.startswith("shifted_"):
        kind, x = kind[len("shifted_"):], 2 * x - 1
    one = np.ones_like(x)
    first = {"t": x, "u": 2 * x, "v": 2 * x - 1, "w": 2 * x + 1, "h": 2 * x, "he": x,
             "l": 1 - x, "p": x}[kind]
    out = np.where(n == 0, one, np.where(n == 1, first, 0.0))
    prev, cur = one, first
    top = int(n.max()) if n.size else 0
    with np.errstate(all="ignore"):
        for k in range(1, top):
            if kind in ("t", "u", "v", "w"):
                nxt = 2 * x * cur - prev
            elif kind == "h":
                nxt = 2 * x * cur - 2 * k * prev
            elif kind == "he":
                nxt = x * cur - k * prev
            elif kind == "l":
                nxt = ((2 * k + 1 - x) * cur - k * prev) / (k + 1)
            else:
                nxt = ((2 * k + 1) * x * cur - k * prev) / (k + 1)
            prev, cur = cur, nxt
            out = np.where(n == k + 1, cur, out)
    return out


@register
class OrthogonalPolynomial(Op):
    """Chebyshev (T, U, V, W and shifted), Hermite (H, He), Laguerre and Legendre polynomials
    of integer degree n; not differentiable (as in PyTorch)."""
    name, kind, onnx, differentiable, saves = ("orthogonal_polynomial", "library", None, False,
                                               "none")

    @staticmethod
    def forward(xp, x, n, kind="t"):
        dt = x.dtype if getattr(x, "dtype", np.dtype(np.float64)).kind == "f" else np.float32
        return xp.asarray(_poly(kind, x, n).astype(dt, copy=False))


def _poly_fn(kind, name):
    def fn(input, n, *, out=None):
        x = _float(input)
        if not x.is_floating_point():
            x = x.float()
        return apply(OrthogonalPolynomial, x, n if isinstance(n, Tensor) else int(n),
                     kind=kind)
    fn.__name__ = name
    return fn


_POLYS = {"chebyshev_polynomial_t": "t", "chebyshev_polynomial_u": "u",
          "chebyshev_polynomial_v": "v", "chebyshev_polynomial_w": "w",
          "shifted_chebyshev_polynomial_t": "shifted_t",
          "shifted_chebyshev_polynomial_u": "shifted_u",
          "shifted_chebyshev_polynomial_v": "shifted_v",
          "shifted_chebyshev_polynomial_w": "shifted_w", "hermite_polynomial_h": "h",
          "hermite_polynomial_he": "he", "laguerre_polynomial_l": "l",
          "legendre_polynomial_p": "p"}
POLYNOMIALS = {name: _poly_fn(kind, name) for name, kind in _POLYS.items()}


# ----------------------------------------------------------------------------- functions
def _float(x):
    return x if isinstance(x, Tensor) else _tensor(x)


def lgamma(input):
    return apply(Lgamma, input)


def digamma(input):
    return apply(Digamma, input)


def polygamma(n, input):
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise RuntimeError(f"polygamma(n, x) does not support negative n, got n={n}")
    if n == 0:
        return digamma(input)
    return apply(Polygamma, input, n=int(n))


def mvlgamma(input, p):
    """The multivariate log-gamma: sum_j lgamma(x - j/2) + p (p - 1) / 4 log(pi)."""
    if p < 1:
        raise RuntimeError(f"p has to be greater than or equal to 1, got {p}")
    out = lgamma(input)
    for j in range(1, p):
        out = out + lgamma(input - j / 2)
    return out + p * (p - 1) / 4 * math.log(math.pi)


def erfinv(input):
    return apply(Erfinv, input)


def i0(input):
    return apply(I0, input)


def i0e(input):
    return apply(I0e, input)


def i1(input):
    return apply(I1, input)


def i1e(input):
    return apply(I1e, input)


def erfcx(input):
    return apply(Erfcx, input)


def log_ndtr(input):
    return apply(LogNdtr, input)


def ndtr(input):
    return log_ndtr(input).exp()


def ndtri(input):
    return apply(Ndtri, input)


def zeta(input, other):
    return apply(Zeta, _float(input), _float(other))


def sinc(input):
    """sin(pi x) / (pi x), 1 at 0 (gradient 0 there)."""
    x = input if input.is_floating_point() else input.float()
    zero = x == 0
    px = where(zero, 1.0, x) * math.pi
    return where(zero, 1.0, px.sin() / px)


def logit(input, eps=None):
    x = input if input.is_floating_point() else input.float()
    if eps is not None:
        x = clamp(x, eps, 1 - eps)
    return (x / (1 - x)).log()


def _xlog(name, log1p):
    def fn(input, other):
        dt = _dt.result_type(input, other)       # Python numbers take part as scalars
        if not (dt.is_floating_point or dt.is_complex):
            dt = _dt.get_default_dtype()
        x, y = _float(input), _float(other)
        x, y = (t if t.dtype == dt else t.to(dt) for t in (x, y))
        # x = 0 gives 0 unless y is NaN; only where log(y) is not finite (y <= 0, or <= -1
        # for log1p, or inf) is the product replaced, so d/dx stays log(y) at x = 0 elsewhere
        # and is 0 there, as torch's derivative
        pole = -1.0 if log1p else 0.0
        keep_zero = (x == 0) & ((y <= pole) | y.isinf())
        y = where(keep_zero, 0.0 if log1p else 1.0, y)
        out = where(keep_zero, 0.0, x * (y.log1p() if log1p else y.log()))
        return out if out.dtype == dt else out.to(dt)
    fn.__name__ = name
    fn.__doc__ = f"x * log{'1p' if log1p else ''}(y), 0 where x is 0 (unless y is NaN)."
    return fn


xlogy = _xlog("xlogy", False)
xlog1py = _xlog("xlog1py", True)


def _entr_onnx(ctx, node, out):
    """The forward's selection: -x log x where x > 0, else 0 at 0, NaN kept, -inf below."""
    x = ctx.name(node.inputs[0])
    dt = node.out.dtype
    zero, one = ctx.const(np.asarray(0, dt)), ctx.const(np.asarray(1, dt))
    pos = ctx.node("Greater", [x, zero])
    val = ctx.node("Neg", [ctx.node("Mul", [x, ctx.node("Log", [ctx.node(
        "Where", [pos, x, one])])])])
    below = ctx.node("Where", [ctx.node("IsNaN", [x]), x, ctx.const(np.asarray(-np.inf, dt))])
    edge = ctx.node("Where", [ctx.node("Equal", [x, zero]), zero, below])
    ctx.node("Where", [pos, val, edge], out)


@register
class Entr(Op):
    """-x ln x: 0 at 0, -inf for x < 0; d/dx = -(ln x + 1), so inf at 0 and NaN below it (as
    PyTorch's), which a where() of the safe branches would zero."""
    name, kind, onnx, to_float = "entr", "library", _entr_onnx, True

    @staticmethod
    def forward(xp, x):
        pos = x > 0
        with np.errstate(all="ignore"):
            val = -x * xp.log(xp.where(pos, x, 1))
        edge = xp.where(x == 0, 0, xp.where(xp.isnan(x), x, -math.inf))
        return xp.where(pos, val, edge).astype(x.dtype, copy=False)

    @staticmethod
    def backward(c, g):
        x, = c.saved
        return (-g * (x.log() + 1),)


def entr(input):
    """-x ln x elementwise: 0 at 0, -inf for x < 0."""
    return apply(Entr, input)


def multigammaln(input, p):
    return mvlgamma(input, p)


def _both_tensors(name, a, b):
    for arg, v in (("input", a), ("other", b)):
        if not isinstance(v, Tensor):
            raise TypeError(f"special_{name}(): argument '{arg}' must be Tensor, not "
                            f"{type(v).__name__}")


def gammainc(input, other):
    _both_tensors("gammainc", input, other)
    return apply(Gammainc, input, other, upper=False)


def gammaincc(input, other):
    _both_tensors("gammaincc", input, other)
    return apply(Gammainc, input, other, upper=True)


def spherical_bessel_j0(input):
    """sin(x) / x (1 at 0), without a gradient as PyTorch's."""
    x = input.detach()
    x = x if x.is_floating_point() else x.float()
    zero = x == 0
    xs = where(zero, 1.0, x)
    return where(zero, 1.0, xs.sin() / xs)


def modified_bessel_i0(input):
    """I0 without a gradient (PyTorch's modified_bessel_* are not differentiable)."""
    return i0(input.detach())


def modified_bessel_i1(input):
    return i1(input.detach())


# ----------------------------------------------------------------------------- Tensor methods
class SpecialMethods:
    """cadenza.Tensor's methods for this module's functions (``x.f(...)`` is ``f(x, ...)``,
    in-place ``x.f_(...)`` commits it into x); ``cadenza/_tensor.py`` composes them."""
    __slots__ = ()

    lgamma = lgamma
    lgamma_ = make_inplace(lgamma, "lgamma_", True)
    digamma = digamma
    digamma_ = make_inplace(digamma, "digamma_", True)

    def polygamma(self, n):
        return polygamma(n, self)

    def polygamma_(self, n):
        return make_inplace(lambda x: polygamma(n, x), "polygamma_", True)(self)

    mvlgamma = mvlgamma
    mvlgamma_ = make_inplace(mvlgamma, "mvlgamma_", True)
    erfinv = erfinv
    erfinv_ = make_inplace(erfinv, "erfinv_", True)
    i0 = i0
    i0_ = make_inplace(i0, "i0_", True)
    sinc = sinc
    sinc_ = make_inplace(sinc, "sinc_", True)
    logit = logit
    logit_ = make_inplace(logit, "logit_", True)
    xlogy = xlogy
    xlogy_ = make_inplace(xlogy, "xlogy_", True)
