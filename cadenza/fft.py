"""``torch.fft``: discrete Fourier transforms with autograd, over the three primitives of
``cadenza/ops/fft.py``. As in PyTorch: real input to a complex transform is made complex,
integer input computes in the default float dtype, float32 gives complex64 (float64,
complex128); ``n``/``s`` trim or zero-pad the input along each transformed dim; ``norm`` is
"backward" (default: the inverse scales by 1/n), "forward" or "ortho". The Hermitian
transforms are the real ones on the conjugate with the opposite normalization:
hfft(x) = irfft(conj(x)), ihfft(x) = conj(rfft(x)).
"""
from __future__ import annotations

import numpy as np

from . import dtypes as _dt
from ._creation import tensor as _tensor, zeros as _zeros
from ._tensor_base import TensorBase as Tensor, _norm_dim
from .ops import apply as _apply, cat as _cat, conj as _conj
from .ops.fft import FftR2C, FftC2R, fft_c2c as _c2c

__all__ = ["fft", "ifft", "fft2", "ifft2", "fftn", "ifftn", "rfft", "irfft", "rfft2", "irfft2",
           "rfftn", "irfftn", "hfft", "ihfft", "hfft2", "ihfft2", "hfftn", "ihfftn",
           "fftfreq", "rfftfreq", "fftshift", "ifftshift"]

_NORMS = ("backward", "forward", "ortho")
_SWAP = {"backward": "forward", "forward": "backward", "ortho": "ortho"}


def _norm(norm):
    if norm is None:
        return "backward"
    if norm not in _NORMS:
        raise RuntimeError(f'Invalid normalization mode: "{norm}"')
    return norm


def _check_float(op, x):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}(): argument 'input' must be Tensor, not {type(x).__name__}")
    name = {"float16": "Half", "bfloat16": "BFloat16"}.get(x._data.dtype.name)
    if name is not None:
        raise RuntimeError(f"Unsupported dtype {name}: {op} computes in float32/float64 (as "
                           "PyTorch on the CPU); convert with .float()")


def _complex_input(op, x):
    """x as the complex tensor a complex transform reads."""
    _check_float(op, x)
    k = x._data.dtype.kind
    if k == "c":
        return x
    if k != "f":
        return x.to(_dt.get_default_dtype().to_complex())
    return x.to(x.dtype.to_complex())


def _real_input(op, x):
    _check_float(op, x)
    k = x._data.dtype.kind
    if k == "c":
        kind = "ComplexFloat" if x._data.dtype == np.complex64 else "ComplexDouble"
        raise RuntimeError(f"{op} expects a real input tensor, but got {kind}")
    if k != "f":
        return x.to(_dt.get_default_dtype())
    return x


def _resize(x, dim, n):
    """x trimmed or zero-padded to n along dim."""
    size = x.shape[dim]
    if n == size:
        return x
    if n < size:
        return x.narrow(dim, 0, n)
    pad = list(x.shape)
    pad[dim] = n - size
    return _cat([x, _zeros(pad, dtype=x.dtype)], dim)


def _points(n):
    if n < 1:
        raise RuntimeError(f"Invalid number of data points ({n}) specified")
    return n


def _dims(x, s, dim):
    """The transformed dims (non-negative, unique) and the size along each (None: keep), by
    torch's rules: no dim and no s means every dim, s alone the last len(s) dims."""
    if dim is None:
        dims = list(range(x.ndim)) if s is None else list(range(x.ndim - len(s), x.ndim))
    else:
        dims = [dim] if isinstance(dim, int) else list(dim)
    if s is not None and len(s) != len(dims):
        raise RuntimeError("When given, dim and shape arguments must have the same length")
    if x.ndim == 0 and dims:
        raise IndexError(f"Dimension specified as {dims[0]} but tensor has no dimensions")
    dims = [_norm_dim(d, x.ndim, "fft") for d in dims]
    if len(set(dims)) != len(dims):
        raise RuntimeError("FFT dims must be unique")
    sizes = [None if s is None or s[i] == -1 else _points(int(s[i])) for i in range(len(dims))]
    return dims, sizes


# ----------------------------------------------------------------------------- complex
def fftn(input, s=None, dim=None, norm=None):
    """The n-dimensional discrete Fourier transform."""
    return _c2c_n("fftn", input, s, dim, norm, True)


def ifftn(input, s=None, dim=None, norm=None):
    """The n-dimensional inverse discrete Fourier transform."""
    return _c2c_n("ifftn", input, s, dim, norm, False)


def _sized(op, x, s, dim, one_sided=False):
    """(x resized to s along the transformed dims, dims, sizes); with one_sided the last dim
    is left to the caller (irfft sizes it from the output length)."""
    dims, sizes = _dims(x, s, dim)
    if one_sided and not dims:
        raise RuntimeError(f"{op} must transform at least one axis")
    for d, n in list(zip(dims, sizes))[:-1 if one_sided else None]:
        if n is not None:
            x = _resize(x, d, n)
    return x, dims, sizes


def _c2c_n(op, input, s, dim, norm, forward):
    norm = _norm(norm)
    x, dims, _ = _sized(op, _complex_input(op, input), s, dim)
    if not dims:
        return x.clone()
    return _c2c(x, dims, forward, norm)


def fft(input, n=None, dim=-1, norm=None):
    """The one-dimensional discrete Fourier transform along ``dim``."""
    return _c2c_n("fft", input, None if n is None else (n,), dim, norm, True)


def ifft(input, n=None, dim=-1, norm=None):
    return _c2c_n("ifft", input, None if n is None else (n,), dim, norm, False)


def fft2(input, s=None, dim=(-2, -1), norm=None):
    return _c2c_n("fft2", input, s, dim, norm, True)


def ifft2(input, s=None, dim=(-2, -1), norm=None):
    return _c2c_n("ifft2", input, s, dim, norm, False)


# ----------------------------------------------------------------------------- real
def rfftn(input, s=None, dim=None, norm=None):
    """The n-dimensional transform of a real input, the last dim one-sided (n // 2 + 1)."""
    return _rfft_n("rfftn", input, s, dim, norm)


def _rfft_n(op, input, s, dim, norm):
    norm = _norm(norm)
    x, dims, sizes = _sized(op, _real_input(op, input), s, dim, one_sided=True)
    if sizes[-1] is not None:
        x = _resize(x, dims[-1], sizes[-1])
    return _apply(FftR2C, x, dims=tuple(dims), norm=norm)


def rfft(input, n=None, dim=-1, norm=None):
    return _rfft_n("rfft", input, None if n is None else (n,), dim, norm)


def rfft2(input, s=None, dim=(-2, -1), norm=None):
    return _rfft_n("rfft2", input, s, dim, norm)


def irfftn(input, s=None, dim=None, norm=None):
    """The inverse of rfftn: a one-sided spectrum (last dim) back to a real signal of size
    ``s[-1]`` (default 2 * (m - 1)) along the last transformed dim."""
    return _irfft_n("irfftn", input, s, dim, norm)


def _irfft_n(op, input, s, dim, norm):
    norm = _norm(norm)
    x, dims, sizes = _sized(op, _complex_input(op, input), s, dim, one_sided=True)
    last = sizes[-1] if sizes[-1] is not None else _points(2 * (x.shape[dims[-1]] - 1))
    x = _resize(x, dims[-1], last // 2 + 1)
    return _apply(FftC2R, x, dims=tuple(dims), last=last, norm=norm)


def irfft(input, n=None, dim=-1, norm=None):
    return _irfft_n("irfft", input, None if n is None else (n,), dim, norm)


def irfft2(input, s=None, dim=(-2, -1), norm=None):
    return _irfft_n("irfft2", input, s, dim, norm)


# ----------------------------------------------------------------------------- Hermitian
def hfftn(input, s=None, dim=None, norm=None):
    """The transform of a Hermitian-symmetric signal given by its one-sided half: real."""
    return _irfft_n("hfftn", _conj(_complex_input("hfftn", input)), s, dim,
                    _SWAP[_norm(norm)])


def hfft(input, n=None, dim=-1, norm=None):
    return hfftn(input, None if n is None else (n,), dim, norm)


def hfft2(input, s=None, dim=(-2, -1), norm=None):
    return hfftn(input, s, dim, norm)


def ihfftn(input, s=None, dim=None, norm=None):
    """The inverse of hfftn: a real signal to its one-sided Hermitian spectrum."""
    return _conj(_rfft_n("ihfftn", input, s, dim, _SWAP[_norm(norm)]))


def ihfft(input, n=None, dim=-1, norm=None):
    return ihfftn(input, None if n is None else (n,), dim, norm)


def ihfft2(input, s=None, dim=(-2, -1), norm=None):
    return ihfftn(input, s, dim, norm)


# ----------------------------------------------------------------------------- helpers
def fftfreq(n, d=1.0, *, dtype=None, layout=None, device=None, requires_grad=False):
    """The sample frequencies of fft: [0, 1, ..., -2, -1] / (d * n)."""
    return _tensor(np.fft.fftfreq(n, d) if n else np.zeros(0), dtype=_dt.to_dtype(dtype),
                   device=device, requires_grad=requires_grad)


def rfftfreq(n, d=1.0, *, dtype=None, layout=None, device=None, requires_grad=False):
    """The sample frequencies of rfft: [0, 1, ..., n // 2] / (d * n)."""
    # n = 0: torch gives one 0 / 0 = NaN
    return _tensor(np.fft.rfftfreq(n, d) if n else np.full(1, np.nan),
                   dtype=_dt.to_dtype(dtype), device=device, requires_grad=requires_grad)


def _shift(input, dim, sign):
    dims = list(range(input.ndim)) if dim is None else (
        [dim] if isinstance(dim, int) else list(dim))
    if not dims:
        return input.clone()
    shifts = [sign * (input.shape[d] // 2) for d in dims]
    return input.roll(shifts, dims)


def fftshift(input, dim=None):
    """Move the zero frequency to the centre (roll by n // 2 along each dim)."""
    return _shift(input, dim, 1)


def ifftshift(input, dim=None):
    """The inverse of fftshift."""
    return _shift(input, dim, -1)
