"""Discrete Fourier transforms, the three primitives ``cadenza.fft`` (torch.fft) is built
from, as PyTorch's ``_fft_c2c``/``_fft_r2c``/``_fft_c2r``: complex to complex, real to the
one-sided half spectrum, and that half spectrum back to real, each over given dims with a
normalization mode ("backward": the inverse scales by 1/n, "forward": the forward does,
"ortho": both by 1/sqrt(n)). Sizes (``n``, ``s``) are the public functions' business: they
trim or zero-pad the input before the transform.

Gradients (PyTorch's convention for complex tensors, see ops/complex.py): each transform is
linear, and its adjoint is the opposite-direction transform with the opposite normalization
(the DFT matrix F has adjoint conj(F) = n * inverse). The one-sided transforms add the
Hermitian bookkeeping: r2c's adjoint zero-pads the half spectrum and keeps the real part;
c2r's adjoint is r2c with the bins that stand for two conjugate bins doubled."""
from __future__ import annotations

import numpy as np

from ._registry import Op, register, apply
from .complex import real
from .join import cat
from .._creation import tensor, zeros

__all__: list = []

_SWAP = {"backward": "forward", "forward": "backward", "ortho": "ortho"}


def _complex_of(dtype):
    return np.complex64 if dtype in (np.float32, np.complex64) else np.complex128


def _real_of(dtype):
    return np.float32 if dtype == np.complex64 else np.float64


class _Fft(Op):
    kind = "library"
    onnx = None           # the C and ONNX backends have no complex numbers
    saves = "none"
    holomorphic = False   # backward rules written for complex gradients directly


@register
class FftC2C(_Fft):
    name = "fft_c2c"

    @staticmethod
    def forward(xp, a, dims=(-1,), forward=True, norm="backward"):
        f = xp.fft.fftn if forward else xp.fft.ifftn
        return f(a, axes=dims, norm=norm).astype(a.dtype, copy=False)

    @staticmethod
    def backward(c, g):
        a = c.attrs
        return (fft_c2c(g, a["dims"], not a["forward"], _SWAP[a["norm"]]),)


@register
class FftR2C(_Fft):
    name = "fft_r2c"

    @staticmethod
    def forward(xp, a, dims=(-1,), norm="backward"):
        return xp.fft.rfftn(a, axes=dims, norm=norm).astype(_complex_of(a.dtype), copy=False)

    @staticmethod
    def backward(c, g):
        dims, norm = c.attrs["dims"], c.attrs["norm"]
        last = dims[-1]
        n = c.shape(0)[last]
        short = n - g.shape[last]
        if short:  # the bins rfft leaves out: zero gradient
            pad = list(g.shape)
            pad[last] = short
            g = cat([g, zeros(pad, dtype=g.dtype)], last)
        return (real(fft_c2c(g, dims, False, _SWAP[norm])),)


@register
class FftC2R(_Fft):
    name = "fft_c2r"

    @staticmethod
    def forward(xp, a, dims=(-1,), last=2, norm="backward"):
        s = [a.shape[d] for d in dims[:-1]] + [last]
        return xp.fft.irfftn(a, s=s, axes=dims, norm=norm).astype(_real_of(a.dtype),
                                                                  copy=False)

    @staticmethod
    def backward(c, g):
        dims, norm = c.attrs["dims"], c.attrs["norm"]
        gi = apply(FftR2C, g, dims=dims, norm=_SWAP[norm])
        d = dims[-1]
        m = gi.shape[d]
        double = c.attrs["last"] - m  # bins 1..double stand for themselves and their mirror
        if double > 0:
            w = np.ones(m, _real_of(gi._data.dtype))
            w[1:1 + double] = 2
            shape = [1] * gi.ndim
            shape[d] = m
            gi = gi * tensor(w.reshape(shape))
        return (gi,)


def fft_c2c(x, dims, forward, norm):
    return apply(FftC2C, x, dims=tuple(dims), forward=bool(forward), norm=norm)
