"""Bessel functions of the first and second kind (J0, J1, Y0, Y1), modified Bessel functions
of the second kind (K0, K1 and their scaled forms e^x K) and the Airy function Ai: the
``torch.special`` functions PyTorch gives without a gradient. One primitive, ``bessel``, its
``fn`` attribute naming the function; computed in float64 with NumPy (no SciPy), the result in
the input's float dtype.

Methods (each accurate to a few ulp in float64 away from the functions' zeros):
- J0, J1, Y0, Y1 for 0.5 <= x < 25: the Jacobi-Anger expansion e^(i x sin t) = sum_m J_m(x)
  e^(i m t) makes every J_m(x) a Fourier coefficient, read off one FFT of 256 samples (the
  trapezoidal rule on a periodic integrand: the aliased error is J_256(x), negligible);
  Y0 = (2/pi) [(ln(x/2) + gamma) J0 - 2 sum_k (-1)^k J_2k / k] (Neumann's series) and Y1 = -Y0'
  from the same coefficients. Below 0.5 the power series of J0/J1; from 25 on Hankel's
  asymptotic expansions (its smallest term there is ~e^-50).
- K_nu(x) = int_0^inf e^(-x cosh t) cosh(nu t) dt by the trapezoidal rule, which converges
  geometrically for this even, entire integrand: 128 steps over the range where
  e^(-x (cosh t - 1)) > e^-46 (the scaled form needs no e^x); below 1e-6 the leading terms of
  the series about 0.
- Ai: x >= 2 through Ai(x) = sqrt(x / 3) K_(1/3)(2/3 x^(3/2)) / pi; -12 < x < 2 by the Taylor
  series of Ai'' = x Ai about the nearest point of a table of Ai and Ai' at steps of 1/4
  (computed with mpmath to 40 digits, rounded to float64); x <= -12 by the asymptotic
  expansion of Ai(-z).
"""
from __future__ import annotations

import math

import numpy as np

from ._registry import Op, register, apply
from .._tensor_base import TensorBase as Tensor
from .._creation import tensor as _tensor

__all__: list[str] = []

_EULER = 0.57721566490153286061
_FFT_N = 256
_CHUNK = 2048   # elements per FFT / quadrature block (bounds the temporary arrays)


def _blocks(fn, x, *args):
    """fn over ``x`` (1-d float64) in blocks of _CHUNK elements."""
    out = np.empty_like(x)
    for i in range(0, x.size, _CHUNK):
        out[i:i + _CHUNK] = fn(x[i:i + _CHUNK], *args)
    return out


# ----------------------------------------------------------------------------- J and Y
def _j_series(x, order):
    """J0 / J1 by the power series sum (-1)^k (x/2)^(2k+order) / (k! (k+order)!), x small."""
    h = x / 2
    h2 = h * h
    term = np.ones_like(x) if order == 0 else h.copy()
    total = term.copy()
    for k in range(1, 20):
        term = term * -h2 / (k * (k + order))
        total = total + term
    return total


def _jy_fourier(x, fn):
    """J0, J1, Y0 or Y1 of 0 < x < 25 from the Fourier coefficients J_m(x), m < 128."""
    theta = np.arange(_FFT_N) * (2 * np.pi / _FFT_N)
    c = np.fft.fft(np.exp(1j * x[:, None] * np.sin(theta)), axis=1)[:, :_FFT_N // 2]
    j = c.real / _FFT_N                                    # j[:, m] = J_m(x)
    if fn == "j0":
        return j[:, 0]
    if fn == "j1":
        return j[:, 1]
    k = np.arange(1, _FFT_N // 4 - 1)
    sign = np.where(k % 2 == 0, 1.0, -1.0)
    log_term = np.log(x / 2) + _EULER
    if fn == "y0":
        s = (j[:, 2 * k] * (sign / k)).sum(axis=1)
        return (2 / np.pi) * (log_term * j[:, 0] - 2 * s)
    s = ((j[:, 2 * k - 1] - j[:, 2 * k + 1]) * (sign / k)).sum(axis=1)
    return -(2 / np.pi) * (j[:, 0] / x - log_term * j[:, 1] - s)


def _hankel(x, order, second):
    """Hankel's expansions J/Y_order(x) = sqrt(2 / (pi x)) (P cos chi -/+ Q sin chi) with
    chi = x - (order/2 + 1/4) pi, for x >= 25."""
    mu = 4.0 * order * order
    p = np.ones_like(x)
    q = np.zeros_like(x)
    term = np.ones_like(x)
    for k in range(1, 40):
        term = term * (mu - (2 * k - 1) ** 2) / (k * 8.0 * x)
        if k % 4 in (1, 3):
            q = q + (term if k % 4 == 1 else -term)
        else:
            p = p + (-term if k % 4 == 2 else term)
    c, s = np.cos(x), np.sin(x)
    r = 1 / math.sqrt(2.0)
    if order == 0:         # chi = x - pi/4
        cos_chi, sin_chi = (c + s) * r, (s - c) * r
    else:                  # chi = x - 3 pi/4
        cos_chi, sin_chi = (s - c) * r, -(s + c) * r
    pre = np.sqrt(2 / (np.pi * x))
    if second:
        return pre * (p * sin_chi + q * cos_chi)
    return pre * (p * cos_chi - q * sin_chi)


def _jy(x, fn):
    """J0/J1 (of any real x: J0 even, J1 odd) and Y0/Y1 (NaN for x < 0, -inf at 0); NaN at
    +-inf, as PyTorch gives."""
    order, second = int(fn[1]), fn[0] == "y"
    ax = np.abs(x)
    out = np.full_like(x, np.nan)
    small = ax < 0.5 if not second else np.zeros_like(ax, dtype=bool)
    mid = (ax < 25) & ~small & (ax > 0)
    big = (ax >= 25) & np.isfinite(ax)
    if small.any():
        out[small] = _j_series(ax[small], order)
    if mid.any():
        out[mid] = _blocks(_jy_fourier, ax[mid], fn)
    if big.any():
        out[big] = _hankel(ax[big], order, second)
    if second:
        out = np.where(x == 0, -np.inf, np.where(x < 0, np.nan, out))
    else:
        if order == 0:
            out = np.where(x == 0, 1.0, out)
        else:
            out = np.where(x == 0, x, np.where(x < 0, -out, out))
    return out


# ----------------------------------------------------------------------------- K
_K_STEPS = 128


def _k_scaled_quad(x, nu):
    """e^x K_nu(x) = int_0^inf e^(-x (cosh t - 1)) cosh(nu t) dt (trapezoidal rule), x >= 1e-6."""
    top = np.arccosh(1 + 46 / x)
    h = top / _K_STEPS
    t = h[:, None] * np.arange(_K_STEPS + 1)
    sh = np.sinh(t / 2)
    f = np.exp(-x[:, None] * (2 * sh * sh))
    if nu == 1:
        f = f * (1 + 2 * sh * sh)
    elif nu:
        f = f * np.cosh(nu * t)
    f[:, 0] *= 0.5
    return h * f.sum(axis=1)


def _k_tiny(x, order):
    """K0 / K1 of 0 < x < 1e-6 by the first terms of their series about 0."""
    log_term = np.log(x / 2) + _EULER
    if order == 0:
        return -log_term * (1 + x * x / 4) + x * x / 4
    return 1 / x + x / 2 * log_term - x / 4


def _k(x, order, scaled):
    out = np.full_like(x, np.nan)
    tiny = (x > 0) & (x < 1e-6)
    quad = (x >= 1e-6) & np.isfinite(x)
    if tiny.any():
        xt = x[tiny]
        out[tiny] = _k_tiny(xt, order) * (np.exp(xt) if scaled else 1.0)
    if quad.any():
        xq = x[quad]
        r = _blocks(_k_scaled_quad, xq, order)
        out[quad] = r if scaled else r * np.exp(-xq)
    out[x == 0] = np.inf
    out[x == np.inf] = 0.0
    return out


# ----------------------------------------------------------------------------- Ai
# (Ai(x0), Ai'(x0)) at x0 = -12, -11.75, ..., 2 (mpmath, 40 digits, rounded to float64)
_AIRY_TABLE = np.array([
    (-0.06655517505437313, 1.0231104533679707),
    (0.182025201205215, 0.8416215389424537),
    (0.30542297004359265, 0.08772415432178444),
    (0.22218934004342605, -0.7107806717487215),
    (-0.008759589255702381, -1.0273278736645794),
    (-0.23464750093159514, -0.6775704364209276),
    (-0.3119260350510506, 0.09095748739068167),
    (-0.19540104411200782, 0.7875525617336525),
    (0.04024123848644319, 0.99626504413279),
    (0.25262476259634337, 0.6160957851685245),
    (0.3191032477191282, -0.10809531881187123),
    (0.2052398087603554, -0.7550497682678933),
    (-0.022133721547341403, -0.9756639809263316),
    (-0.2382300384596355, -0.6738561861206686),
    (-0.33029023763020887, -0.03231334828463914),
    (-0.25453632099656065, 0.6085182968874139),
    (-0.0527050503563862, 0.9355609381983065),
    (0.17497790079676515, 0.8112327355065283),
    (0.3217757163806479, 0.3188095066985546),
    (0.32374057321118616, -0.30022899504735406),
    (0.18428083525050565, -0.7710081684101265),
    (-0.03338479058876496, -0.9067040516921281),
    (-0.2380203019971158, -0.6749524925132022),
    (-0.3496120516108905, -0.19108625952341715),
    (-0.3291451736298231, 0.3459354872813429),
    (-0.18884209899944737, 0.7391656870866844),
    (0.017781541276574976, 0.8641972177713984),
    (0.21900944784501322, 0.701566726175189),
    (0.35076100902411433, 0.32719281855444315),
    (0.37593203432914213, -0.12709960620642027),
    (0.2921527810559595, -0.5233625323157477),
    (0.12778292722826728, -0.759267412057374),
    (-0.07026553294928951, -0.7906285753685813),
    (-0.2516127030142227, -0.6324539662611763),
    (-0.37553382314043193, -0.34344343345404815),
    (-0.4190132668052308, -0.0024538481879481863),
    (-0.37881429367765806, 0.3145837692165988),
    (-0.2684905459125971, 0.5513380742629775),
    (-0.11232506769296609, 0.6788527342647943),
    (0.06159865877700528, 0.6950162067015286),
    (0.22740742820168558, 0.618259020741691),
    (0.36548325221423156, 0.4786515716673063),
    (0.4642565777488694, 0.3091869672024104),
    (0.5200454774352992, 0.13907956335191776),
    (0.5355608832923521, -0.01016056711664521),
    (0.5177725751515836, -0.1259905473379542),
    (0.4757280916105396, -0.20408167033954738),
    (0.41872461427545293, -0.24638918992017597),
    (0.3550280538878172, -0.2588194037928068),
    (0.2911639543485452, -0.24906211200489714),
    (0.23169360648083348, -0.2249105326646839),
    (0.17933630547864524, -0.19317520810437647),
    (0.13529241631288141, -0.1591474412967932),
    (0.09964454475691667, -0.12648662068538938),
    (0.07174949700810541, -0.09738201284230132),
    (0.05056988080579487, -0.07285371376202839),
    (0.03492413042327438, -0.05309038443365363),
])
_AIRY_X0, _AIRY_STEP = -12.0, 0.25


def _airy_taylor(x):
    """Ai of -12 < x < 2: the Taylor series of Ai'' = x Ai about the nearest table point."""
    i = np.clip(np.rint((x - _AIRY_X0) / _AIRY_STEP), 0, len(_AIRY_TABLE) - 1).astype(np.int64)
    x0 = _AIRY_X0 + i * _AIRY_STEP
    d = x - x0
    a = [_AIRY_TABLE[i, 0], _AIRY_TABLE[i, 1], x0 * _AIRY_TABLE[i, 0] / 2]   # a_0, a_1, a_2
    total = a[0] + d * (a[1] + d * a[2])
    power = d ** 3
    for n in range(1, 28):                  # (n + 2)(n + 1) a_(n+2) = x0 a_n + a_(n-1)
        a = [a[1], a[2], (x0 * a[1] + a[0]) / ((n + 2) * (n + 1))]
        total = total + a[2] * power
        power = power * d
    return total


def _airy_negative(x):
    """Ai(-z) ~ (cos(zeta - pi/4) sum_k (-1)^k u_2k zeta^-2k + sin(zeta - pi/4) sum_k (-1)^k
    u_(2k+1) zeta^-(2k+1)) / (sqrt(pi) z^(1/4)), zeta = 2/3 z^(3/2), for z >= 12."""
    z = -x
    zeta = (2.0 / 3.0) * z * np.sqrt(z)
    even = np.ones_like(z)
    odd = np.zeros_like(z)
    term = np.ones_like(z)
    for k in range(1, 30):
        term = term * ((6 * k - 5) * (6 * k - 3) * (6 * k - 1)) / ((2 * k - 1) * 216 * k * zeta)
        if k % 2:
            odd = odd + (term if k % 4 == 1 else -term)
        else:
            even = even + (-term if k % 4 == 2 else term)
    c, s = np.cos(zeta), np.sin(zeta)
    r = 1 / math.sqrt(2.0)
    cos_chi, sin_chi = (c + s) * r, (s - c) * r     # chi = zeta - pi/4
    return (cos_chi * even + sin_chi * odd) / (math.sqrt(math.pi) * np.sqrt(np.sqrt(z)))


def _airy_positive(x):
    """Ai(x) = sqrt(x / 3) K_(1/3)(zeta) / pi, zeta = 2/3 x^(3/2), for x >= 2."""
    zeta = (2.0 / 3.0) * x * np.sqrt(x)
    k = _blocks(_k_scaled_quad, zeta, 1.0 / 3.0)
    return np.sqrt(x / 3) / np.pi * k * np.exp(-zeta)


def _airy(x):
    out = np.full_like(x, np.nan)
    neg = (x <= -12) & np.isfinite(x)
    mid = (x > -12) & (x < 2)
    pos = (x >= 2) & np.isfinite(x)
    if neg.any():
        out[neg] = _airy_negative(x[neg])
    if mid.any():
        out[mid] = _airy_taylor(x[mid])
    if pos.any():
        out[pos] = _airy_positive(x[pos])
    return out


_FNS = {"bessel_j0": lambda x: _jy(x, "j0"), "bessel_j1": lambda x: _jy(x, "j1"),
        "bessel_y0": lambda x: _jy(x, "y0"), "bessel_y1": lambda x: _jy(x, "y1"),
        "modified_bessel_k0": lambda x: _k(x, 0, False),
        "modified_bessel_k1": lambda x: _k(x, 1, False),
        "scaled_modified_bessel_k0": lambda x: _k(x, 0, True),
        "scaled_modified_bessel_k1": lambda x: _k(x, 1, True),
        "airy_ai": _airy}


def bessel_values(fn, x):
    """``fn`` (a key of the table above) of a NumPy array, computed in float64."""
    a = np.asarray(x, dtype=np.float64)
    with np.errstate(all="ignore"):
        return _FNS[fn](a.reshape(-1)).reshape(a.shape)


@register
class Bessel(Op):
    """J0, J1, Y0, Y1, K0, K1, e^x K0, e^x K1 and Ai (attribute ``fn``: torch.special's name);
    not differentiable, as in PyTorch."""
    name, kind, onnx, differentiable, saves = "bessel", "library", None, False, "none"

    @staticmethod
    def forward(xp, x, fn="bessel_j0"):
        host = xp.asnumpy(x) if hasattr(xp, "asnumpy") else x
        return xp.asarray(bessel_values(fn, host).astype(x.dtype, copy=False))


def _bessel_fn(fn):
    def f(input):
        if not isinstance(input, Tensor):
            input = _tensor(input)
        x = input.detach()
        if x.dtype.is_complex or x.dtype.name in ("float16", "bfloat16"):
            raise NotImplementedError(f'"{fn}" not implemented for {x.dtype} input (float32 '
                                      "and float64 are; integers and bool compute in float32)")
        if not x.is_floating_point():
            x = x.float()
        return apply(Bessel, x, fn=fn)
    f.__name__ = f.__qualname__ = fn
    f.__doc__ = f"torch.special.{fn}: no gradient (PyTorch gives none)."
    return f


FUNCTIONS = {name: _bessel_fn(name) for name in _FNS}
