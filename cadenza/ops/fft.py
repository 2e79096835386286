"""Discrete Fourier transforms: the three primitives ``cadenza.fft`` (torch.fft) is built
from, and ``stft``/``istft`` with the window functions (``hann_window``, ``hamming_window``). The
primitives are PyTorch's ``_fft_c2c``/``_fft_r2c``/``_fft_c2r``: complex to complex, real to
the one-sided half spectrum, and that half spectrum back to real, each over given dims with a
normalization mode ("backward": the inverse scales by 1/n, "forward": the forward does,
"ortho": both by 1/sqrt(n)). Sizes (``n``, ``s``) are the public functions' business: they
trim or zero-pad the input before the transform.

Gradients (PyTorch's convention for complex tensors, see ops/complex.py): each transform is
linear, and its adjoint is the opposite-direction transform with the opposite normalization
(the DFT matrix F has adjoint conj(F) = n * inverse). The one-sided transforms add the
Hermitian bookkeeping: r2c's adjoint zero-pads the half spectrum and keeps the real part;
c2r's adjoint is r2c with the bins that stand for two conjugate bins doubled."""
from __future__ import annotations

import warnings

import numpy as np

from ._registry import Op, register, apply
from .complex import real, view_as_real
from .join import cat
from .shape import pad as _pad
from .. import dtypes as _dt
from .._creation import tensor, zeros

__all__ = ["stft", "istft", "hann_window", "hamming_window", "bartlett_window",
           "blackman_window", "kaiser_window"]

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


# ----------------------------------------------------------------------------- short-time
def _window(name, length, periodic, dtype, device, requires_grad, fn):
    if length < 0:
        raise RuntimeError(f"{name} requires non-negative window_length, got "
                           f"window_length={length}")
    if length <= 1:
        w = np.ones(length)
    else:
        n = length + 1 if periodic else length
        w = fn(2 * np.pi * np.arange(length) / (n - 1))
    return tensor(w, dtype=_dt.to_dtype(dtype), device=device, requires_grad=requires_grad)


def hann_window(window_length, periodic=True, *, dtype=None, layout=None, device=None,
                requires_grad=False):
    """torch.hann_window: 0.5 - 0.5 cos(2 pi n / (N - 1)), N = length + 1 when periodic."""
    return _window("hann_window", window_length, periodic, dtype, device, requires_grad,
                   lambda t: 0.5 - 0.5 * np.cos(t))


def hamming_window(window_length, periodic=True, alpha=0.54, beta=0.46, *, dtype=None,
                   layout=None, device=None, requires_grad=False):
    """torch.hamming_window: alpha - beta cos(2 pi n / (N - 1))."""
    return _window("hamming_window", window_length, periodic, dtype, device, requires_grad,
                   lambda t: alpha - beta * np.cos(t))


def bartlett_window(window_length, periodic=True, *, dtype=None, layout=None, device=None,
                    requires_grad=False):
    """torch.bartlett_window: 1 - |2n / (N - 1) - 1|."""
    return _window("bartlett_window", window_length, periodic, dtype, device, requires_grad,
                   lambda t: 1.0 - np.abs(t / np.pi - 1.0))


def blackman_window(window_length, periodic=True, *, dtype=None, layout=None, device=None,
                    requires_grad=False):
    """torch.blackman_window: 0.42 - 0.5 cos(2 pi n / (N - 1)) + 0.08 cos(4 pi n / (N - 1))."""
    return _window("blackman_window", window_length, periodic, dtype, device, requires_grad,
                   lambda t: 0.42 - 0.5 * np.cos(t) + 0.08 * np.cos(2 * t))


def kaiser_window(window_length, periodic=True, beta=12.0, *, dtype=None, layout=None,
                  device=None, requires_grad=False):
    """torch.kaiser_window: I0(beta sqrt(1 - (2n / (N - 1) - 1)^2)) / I0(beta)."""
    return _window("kaiser_window", window_length, periodic, dtype, device, requires_grad,
                   lambda t: np.i0(beta * np.sqrt(np.clip(1.0 - (t / np.pi - 1.0) ** 2, 0,
                                                          None))) / np.i0(beta))


def stft(input, n_fft, hop_length=None, win_length=None, window=None, center=True,
         pad_mode="reflect", normalized=False, onesided=None, return_complex=None):
    """torch.stft: the Fourier transforms of windowed frames of a 1-D signal or a batch of
    them, (..., n_fft // 2 + 1 or n_fft, frames); differentiable (frames are views, the
    transform is rfft/fft)."""
    complex_in = input._data.dtype.kind == "c" or (
        window is not None and window._data.dtype.kind == "c")
    if return_complex is None and not complex_in:
        raise RuntimeError("stft requires the return_complex parameter be given for real "
                           "inputs, and will further require that return_complex=True in a "
                           "future PyTorch release.")
    if input.ndim not in (1, 2):
        raise RuntimeError(f"stft: expected a 1D or 2D tensor, but got {input.ndim}D")
    hop, win = _hop_win("stft", n_fft, hop_length, win_length)
    x = input if input.ndim == 2 else input.unsqueeze(0)
    if center:
        pad = n_fft // 2
        x = _pad(x.unsqueeze(0), (pad, pad), pad_mode).squeeze(0)
    if x.shape[-1] < n_fft:
        raise RuntimeError(f"stft: expected 0 < n_fft <= {x.shape[-1]}, but got n_fft={n_fft}")
    frames = x.unfold(-1, n_fft, hop)                       # (B, frames, n_fft)
    window = _full_window("stft", window, win, n_fft, frames.dtype)
    if window is not None:
        frames = frames * window
    if onesided is None:
        onesided = not complex_in
    norm = "ortho" if normalized else "backward"
    if onesided:
        if frames._data.dtype.kind == "c":
            raise RuntimeError("Cannot have onesided output if window or input is complex")
        if frames._data.dtype.kind != "f":
            frames = frames.to(_dt.get_default_dtype())
        out = apply(FftR2C, frames, dims=(frames.ndim - 1,), norm=norm)
    else:
        if frames._data.dtype.kind != "c":
            frames = frames.to((frames.dtype if frames._data.dtype.kind == "f" else
                                _dt.get_default_dtype()).to_complex())
        out = fft_c2c(frames, (frames.ndim - 1,), True, norm)
    out = out.transpose(-1, -2)
    if input.ndim == 1:
        out = out.squeeze(0)
    if return_complex or return_complex is None:
        return out
    warnings.warn("stft with return_complex=False is deprecated (as in PyTorch); call "
                  "view_as_real on the complex output instead", UserWarning, stacklevel=2)
    return view_as_real(out)


def _hop_win(op, n_fft, hop_length, win_length):
    hop = n_fft // 4 if hop_length is None else hop_length
    win = n_fft if win_length is None else win_length
    if not 0 < win <= n_fft:
        raise RuntimeError(f"{op}: expected 0 < win_length <= n_fft, but got "
                           f"win_length={win}")
    if hop <= 0:
        raise RuntimeError(f"{op}: expected hop_length > 0, but got hop_length={hop}")
    return hop, win


def _full_window(op, window, win, n_fft, dtype):
    """The window zero-padded to n_fft, centred (None: a rectangular window of n_fft)."""
    if window is not None and (window.ndim != 1 or window.shape[0] != win):
        raise RuntimeError(f"{op}: expected a 1D window tensor of size equal to "
                           f"win_length={win}, but got window with size {list(window.shape)}")
    left = (n_fft - win) // 2
    if window is None:
        if win == n_fft:
            return None
        return tensor(np.r_[np.zeros(left), np.ones(win), np.zeros(n_fft - win - left)],
                      dtype=dtype if dtype.is_floating_point else _dt.get_default_dtype())
    if win == n_fft:
        return window
    return cat([zeros(left, dtype=window.dtype), window,
                zeros(n_fft - win - left, dtype=window.dtype)])


def istft(input, n_fft, hop_length=None, win_length=None, window=None, center=True,
          normalized=False, onesided=None, length=None, return_complex=False):
    """torch.istft: the inverse of stft by windowed overlap-add, divided by the summed squared
    window (which must not vanish anywhere in the kept signal, as in PyTorch)."""
    if input._data.dtype.kind != "c":
        raise RuntimeError("istft requires a complex-valued input tensor")
    if input.ndim not in (2, 3):
        raise RuntimeError(f"istft: expected a tensor with 2 or 3 dimensions of complex "
                           f"dtype, but got {input.ndim}D")
    hop, win = _hop_win("istft", n_fft, hop_length, win_length)
    spec = input if input.ndim == 3 else input.unsqueeze(0)   # (B, freq, frames)
    frames_n = spec.shape[-1]
    if onesided is None:
        onesided = spec.shape[-2] != n_fft
    norm = "ortho" if normalized else "backward"
    spec = spec.transpose(-1, -2)                             # (B, frames, freq)
    if onesided:
        if return_complex:
            raise RuntimeError("cannot have onesided output if window or input is complex")
        if spec.shape[-1] != n_fft // 2 + 1:
            raise RuntimeError(f"istft: expected the frequency dimension (3rd to the last) of "
                               f"the input tensor to match n_fft / 2 + 1 when onesided=True, "
                               f"but got {spec.shape[-1]}")
        frames = apply(FftC2R, spec, dims=(spec.ndim - 1,), last=n_fft, norm=norm)
    else:
        frames = fft_c2c(spec, (spec.ndim - 1,), False, norm)
        if not return_complex:
            frames = real(frames)
    w = _full_window("istft", window, win, n_fft, frames.dtype.to_real())
    if w is not None:
        frames = frames * w
    w2 = np.ones(n_fft) if w is None else (w._host().astype(np.float64) ** 2)
    total = n_fft + hop * (frames_n - 1)
    idx = (np.arange(frames_n)[:, None] * hop + np.arange(n_fft)[None, :]).reshape(-1)
    env = np.zeros(total)
    np.add.at(env, idx, np.tile(w2, frames_n))
    y = zeros(frames.shape[0], total, dtype=frames.dtype).index_add(
        1, tensor(idx), frames.reshape(frames.shape[0], -1))
    start = n_fft // 2 if center else 0
    end = start + length if length is not None else (total - n_fft // 2 if center else total)
    end = min(end, total)
    y, env = y[:, start:end], env[start:end]
    if env.size and np.abs(env).min() < 1e-11:
        raise RuntimeError("istft: window overlap add min: the summed squared window is zero "
                           "somewhere in the signal (check the window and hop_length)")
    y = y / tensor(env, dtype=y.dtype.to_real())
    if length is not None and y.shape[-1] < length:
        y = cat([y, zeros(y.shape[0], length - y.shape[-1], dtype=y.dtype)], -1)
    return y if input.ndim == 3 else y.squeeze(0)


class FftMethods:
    """cadenza.Tensor's short-time Fourier transform methods."""
    __slots__ = ()

    stft = stft
    istft = istft
