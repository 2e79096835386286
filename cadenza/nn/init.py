"""Parameter initialisation (``torch.nn.init``): in-place, without recording gradients, each
accepting ``generator=`` for reproducible streams.

>>> import cadenza as torch
>>> w = torch.empty(3, 5)
>>> _ = torch.nn.init.xavier_uniform_(w, gain=torch.nn.init.calculate_gain('relu'))
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from .._creation import tensor as _t
from .._tensor import Tensor, _make
from .._dispatch import state as _state
from .._trace_hooks import traced_random, vmap_random
from ..autograd.grad_mode import no_grad
from ..random import _rng  # generator=None: the default generator's stream
from ..random import _BLOCK, _F32, _F64, draw_dtype, fill_normal, fill_uniform
from ..ops.unary import _erf as _erf_array  # NumPy arrays (float64: a ~1e-15 series)

__all__ = [
    "calculate_gain", "uniform_", "normal_", "trunc_normal_", "constant_", "ones_", "zeros_",
    "eye_", "dirac_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_",
    "kaiming_normal_", "orthogonal_", "sparse_", "orthogonal",
]


def calculate_gain(nonlinearity: str, param=None) -> float:
    """The recommended gain for a nonlinearity (``'relu'`` -> sqrt(2), ``'tanh'`` -> 5/3)."""
    linear = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
              "conv_transpose3d")
    if nonlinearity in linear or nonlinearity == "sigmoid":
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def _fill(tensor: Tensor, arr) -> Tensor:
    """Write ``arr`` (an array, or a Tensor from _sample) into ``tensor``'s storage (no graph,
    version bumped)."""
    with no_grad():
        if not isinstance(arr, Tensor):
            arr = _t(np.asarray(arr))
        tensor.copy_(arr)
    return tensor


@traced_random
def _sample(make, shape, dtype, generator=None) -> Tensor:
    """A ``dtype`` array of ``shape`` filled by ``make(rng, out)`` (NumPy draws and maths on
    them), as a tensor. While compile traces it is a ``random`` node that draws again on every
    call, from the same generator in the same order; a plain array would be a constant
    replaying the first call's numbers."""
    out = np.empty(shape, dtype=dtype)
    make(_rng(generator), out)
    return _make(out)


def _fill_sample(tensor: Tensor, make, generator) -> Tensor:
    """``tensor`` filled by ``make(rng, out)`` (no graph, version bumped). A plain host
    tensor of the draw dtype is filled in place, without temporaries; under compile tracing,
    vmap or the profiler the draw goes through ``_sample``. A meta tensor (no values) draws
    nothing, as torch leaves the generator untouched there."""
    if tensor.is_meta:
        return tensor
    data = tensor._data
    shape = tuple(tensor.shape)
    if type(data) is not np.ndarray or vmap_random[0] is not None or \
            _state.tracer is not None or _state.profiler is not None or \
            type(tensor._vc) is not list or not data.flags.writeable:
        return _fill(tensor, _sample(make, shape, draw_dtype(np.dtype(data.dtype)),
                                     generator=generator))
    dt = draw_dtype(data.dtype)
    if data.dtype == dt and data.flags.c_contiguous:
        make(_rng(generator), data)
    else:
        out = np.empty(shape, dtype=dt)
        make(_rng(generator), out)
        np.copyto(data, out, casting="unsafe")
    tensor._vc[0] += 1
    return tensor


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, generator=None) -> Tensor:
    """Fill with U(a, b)."""
    return _fill_sample(tensor, lambda g, out: fill_uniform(g, out, a, b), generator)


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, generator=None) -> Tensor:
    """Fill with N(mean, std^2)."""
    return _fill_sample(tensor, lambda g, out: fill_normal(g, out, mean, std), generator)


def _trunc_normal(tensor, mean, std, a, b, generator):
    if mean < a - 2 * std or mean > b + 2 * std:
        warnings.warn("mean is more than 2 std from [a, b] in nn.init.trunc_normal_. "
                      "The distribution of values may be incorrect.", stacklevel=3)

    def cdf(x):
        return (1.0 + math.erf(x / math.sqrt(2.0))) / 2.0
    lo, hi = cdf((a - mean) / std), cdf((b - mean) / std)

    def make(g, out):
        if out.dtype == _F64:       # float64: NumPy's uniform stream, Newton-refined inverse
            fill_uniform(g, out, 2 * lo - 1, 2 * hi - 1)
            x = _erfinv(out, True)
            x *= std
            x *= math.sqrt(2.0)
            x += mean
            np.clip(x, a, b, out=out)
            return
        # float32 draws k 2^-24 taken at their midpoints: y never reaches -1 (-> -inf); the
        # inverse in float32 (Giles' approximation is a float32 one), block by block
        flat = out.reshape(-1)
        for i in range(0, flat.size, _BLOCK):
            blk = flat[i:i + _BLOCK]
            g.random(out=blk, dtype=_F32)
            y = blk.astype(_F64)
            y += 2.0 ** -25
            y *= (2 * hi - 1) - (2 * lo - 1)
            y += 2 * lo - 1
            x = _erfinv(y.astype(_F32), False)
            x *= std * math.sqrt(2.0)
            x += mean
            np.clip(x, a, b, out=blk)
    return _fill_sample(tensor, make, generator)


def _horner(x, coeffs):
    """``coeffs[0] x^n + ... + coeffs[n]`` for an array ``x``, in place on one new array (the
    same roundings as ``p = c + p * x`` from ``p = coeffs[0]``)."""
    p = x * coeffs[0]
    p += coeffs[1]
    for c in coeffs[2:]:
        p *= x
        p += c
    return p


_ERFINV_CENTRE = (2.81022636e-08, 3.43273939e-07, -3.5233877e-06, -4.39150654e-06,
                  0.00021858087, -0.00125372503, -0.00417768164, 0.246640727, 1.50140941)
_ERFINV_TAIL = (-0.000200214257, 0.000100950558, 0.00134934322, -0.00367342844,
                0.00573950773, -0.0076224613, 0.00943887047, 1.00167406, 2.83297682)


def _erfinv(y, precise):
    """Inverse error function of a float32/float64 array ``y`` (in its dtype): Giles'
    single-precision approximation (relative error below float32's resolution; the tail
    polynomial only where it applies), refined by two Newton steps on a float64 erf when
    ``precise``."""
    shape = y.shape
    y = y.reshape(-1)
    w = 1.0 - y
    w *= 1.0 + y
    np.log(w, out=w)
    np.negative(w, out=w)
    big = np.flatnonzero(w >= 5.0)
    wb = w[big]
    w -= 2.5
    p = _horner(w, _ERFINV_CENTRE)
    if big.size:
        p[big] = _horner(np.sqrt(wb) - 3.0, _ERFINV_TAIL)
    p *= y
    if precise:
        for _ in range(2):
            p = p - (_erf_array(np, p) - y) / (2.0 / math.sqrt(math.pi) * np.exp(-p * p))
    return p.reshape(shape)


def trunc_normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0,
                  a: float = -2.0, b: float = 2.0, generator=None) -> Tensor:
    """Fill with N(mean, std^2) truncated to [a, b] (inverse-CDF method, as PyTorch)."""
    return _trunc_normal(tensor, mean, std, a, b, generator)


def constant_(tensor: Tensor, val: float) -> Tensor:
    with no_grad():
        return tensor.fill_(val)


def ones_(tensor: Tensor) -> Tensor:
    return constant_(tensor, 1.0)


def zeros_(tensor: Tensor) -> Tensor:
    return constant_(tensor, 0.0)


def eye_(tensor: Tensor) -> Tensor:
    """Fill a 2-d tensor with the identity matrix."""
    if tensor.ndim != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    return _fill(tensor, np.eye(*tuple(tensor.shape)))


def dirac_(tensor: Tensor, groups: int = 1) -> Tensor:
    """Fill a {3,4,5}-d conv weight so the conv is the identity (per group)."""
    d = tensor.ndim
    if d not in (3, 4, 5):
        raise ValueError("Only tensors with 3, 4, or 5 dimensions are supported")
    shape = tuple(tensor.shape)
    if shape[0] % groups:
        raise ValueError("dim 0 must be divisible by groups")
    out_per = shape[0] // groups
    arr = np.zeros(shape)
    for g in range(groups):
        for i in range(min(out_per, shape[1])):
            idx = (g * out_per + i, i) + tuple(s // 2 for s in shape[2:])
            arr[idx] = 1
    return _fill(tensor, arr)


def _calculate_fan_in_and_fan_out(tensor: Tensor):
    if tensor.ndim < 2:
        raise ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 "
                         "dimensions")
    rf = 1
    for s in tuple(tensor.shape)[2:]:
        rf *= s
    return tensor.shape[1] * rf, tensor.shape[0] * rf


def _fan(tensor, mode):
    mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of fan_in, fan_out")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio, 2010)."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    a = gain * math.sqrt(6.0 / float(fan_in + fan_out))
    return uniform_(tensor, -a, a, generator)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(tensor, 0.0, std, generator)


def kaiming_uniform_(tensor: Tensor, a: float = 0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu", generator=None) -> Tensor:
    """U(-b, b) with b = gain * sqrt(3 / fan_mode) (He et al., 2015)."""
    if 0 in tuple(tensor.shape):
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=2)
        return tensor
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor, mode))
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor: Tensor, a: float = 0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu", generator=None) -> Tensor:
    """N(0, std^2) with std = gain / sqrt(fan_mode)."""
    if 0 in tuple(tensor.shape):
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=2)
        return tensor
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor, mode))
    return normal_(tensor, 0.0, std, generator)


def orthogonal_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """A (semi-)orthogonal matrix from the QR decomposition of a Gaussian (Saxe et al.)."""
    if tensor.ndim < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported")
    if tensor.numel() == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    shape = tuple(tensor.shape)

    def make(g, out):
        flat = g.normal(0.0, 1.0, (rows, cols))
        if rows < cols:
            flat = flat.T
        q, r = np.linalg.qr(flat)
        q = q * np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        out[...] = (gain * q).reshape(shape)
    return _fill_sample(tensor, make, generator)


def sparse_(tensor: Tensor, sparsity: float, std: float = 0.01, generator=None) -> Tensor:
    """Each column gets ``ceil(sparsity * rows)`` zeros, the rest N(0, std^2)."""
    if tensor.ndim != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    rows, cols = tuple(tensor.shape)
    nz = int(math.ceil(sparsity * rows))

    def make(g, out):
        arr = g.normal(0.0, std, (rows, cols))
        for c in range(cols):
            arr[g.permutation(rows)[:nz], c] = 0
        out[...] = arr
    return _fill_sample(tensor, make, generator)


# old non-underscore aliases (deprecated in PyTorch, still found in older code)
uniform, normal, constant = uniform_, normal_, constant_
xavier_uniform, xavier_normal = xavier_uniform_, xavier_normal_
kaiming_uniform, kaiming_normal = kaiming_uniform_, kaiming_normal_
orthogonal = orthogonal_
