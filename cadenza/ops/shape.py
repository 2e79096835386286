"""Rearranging primitives (flip, roll, constant pad) and the composites over the shape ops
(repeat, tile, pad modes, tril/triu, diagonals). This module is the shape family's public
surface: it re-exports the views (``views``) and cat/split (``join``)."""
from __future__ import annotations

import builtins

import numpy as np

from ._registry import Op, register, apply, autocast_policy
from .._tensor_base import TensorBase as Tensor, _norm_dim
from .views import *  # noqa: F401,F403
from .views import DiagonalLast, PadConstant, Windows, _shape_args, expand, movedim, unsqueeze
from .views import in_format_of
from .join import *  # noqa: F401,F403
from .._creation import _wrap_np, tensor, zeros
from .elementwise import where
from .index import _data_dependent, _index_put, index_select
from .inplace import make_inplace
from ..autograd.node import relabel

__all__ = ["diag", "diagonal", "flip", "fliplr", "flipud", "pad", "repeat",
           "repeat_interleave", "roll", "tile", "trace", "tril", "triu",
           "ravel", "rot90"]  # (issue 10)



@register
class Flip(Op):
    name, kind, onnx, saves = "flip", "shape", None, "none"
    forward = staticmethod(lambda xp, a, dims=(): xp.flip(a, axis=dims))
    backward = staticmethod(lambda c, g: (g.flip(c.attrs["dims"]),))


@register
class Roll(Op):
    name, kind, onnx, saves = "roll", "shape", None, "none"
    forward = staticmethod(lambda xp, a, shifts=0, dims=None: xp.roll(a, shifts, axis=dims))

    @staticmethod
    def backward(c, g):
        s = c.attrs["shifts"]
        neg = tuple(-x for x in s) if isinstance(s, tuple) else -s
        return (g.roll(neg, c.attrs["dims"]),)


# ----------------------------------------------------------------------------- public functions
def flip(input, *dims):
    dims = _shape_args(dims)
    if isinstance(dims, (int, np.integer)):
        dims = (dims,)
    nd = input._data.ndim
    seen = []
    for d in dims:          # as torch: each dim wrapped, then checked against the earlier ones
        d = _norm_dim(d, builtins.max(nd, 1), "flip")   # a 0-d tensor takes dim 0 or -1
        if d in seen:
            raise RuntimeError(f"flip: dim {d} appears multiple times in the list of dims")
        seen.append(d)
    return apply(Flip, input, dims=tuple(seen) if nd else ())


def fliplr(input):
    if input._data.ndim < 2:
        raise RuntimeError(f"fliplr: Input must be >= 2-d, got {input._data.ndim}-d")
    return flip(input, 1)


def flipud(input):
    if input._data.ndim < 1:
        raise RuntimeError("flipud: Input must be >= 1-d, got a 0-d tensor")
    return flip(input, 0)


def roll(input, shifts, dims=None):
    """Shift elements along ``dims`` (the flattened tensor when None), wrapping around; one
    shift per dim (torch's rules: a 1-element shifts/dims pair may mix a number and a
    sequence)."""
    shift_seq = tuple(int(s) for s in shifts) if isinstance(shifts, (list, tuple)) else \
        (int(shifts),)
    dim_seq = () if dims is None else tuple(dims) if isinstance(dims, (list, tuple)) else \
        (dims,)
    if not shift_seq:
        raise RuntimeError("roll: `shifts` required")
    if dims is None and len(shift_seq) == 1:
        return apply(Roll, input, shifts=shift_seq[0], dims=None)
    if len(shift_seq) != len(dim_seq):
        raise RuntimeError(f"roll: shifts and dimensions must align. shifts: {len(shift_seq)}, "
                           f"dims:{len(dim_seq)}")
    dim_seq = tuple(_norm_dim(d, input._data.ndim, "roll") for d in dim_seq)
    if len(dim_seq) == 1:
        return apply(Roll, input, shifts=shift_seq[0], dims=dim_seq[0])
    return apply(Roll, input, shifts=shift_seq, dims=dim_seq)


def repeat(input, *repeats):
    """Tile the tensor ``repeats`` times along each dim (torch.Tensor.repeat)."""
    if not repeats:
        raise TypeError('repeat() missing 1 required positional arguments: "repeats"')
    sizes = tuple(int(s) for s in _shape_args(repeats))
    shp = tuple(input.shape)
    if len(sizes) < len(shp):
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number "
                           "of dimensions of tensor")
    shp = (1,) * (len(sizes) - len(shp)) + shp
    x = input.reshape(shp)
    # (s0, s1, ...) -> (1, s0, 1, s1, ...) -> (r0, s0, r1, s1, ...) -> (r0*s0, r1*s1, ...)
    inter = []
    for s in shp:
        inter += [1, s]
    x = x.reshape(tuple(inter))
    target = []
    for r, s in zip(sizes, shp):
        target += [r, s]
    x = expand(x, tuple(target))
    return relabel(x.reshape(tuple(r * s for r, s in zip(sizes, shp))), "RepeatBackward0",
                   (input,))


def tile(input, dims):
    dims = tuple(dims)
    if len(dims) < input._data.ndim:
        dims = (1,) * (input._data.ndim - len(dims)) + dims
    return repeat(input, dims)


def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):
    """``output_size`` (torch's allocation hint) must equal the result's length."""
    if repeats is None:   # torch.repeat_interleave(repeats): each index repeated its count
        input, repeats = tensor(np.arange(input.shape[0] if input.ndim else 1)), input
    if dim is None:
        input, dim = input.reshape(-1), 0
    d = _norm_dim(dim, input._data.ndim, "repeat_interleave")
    if output_size is not None:
        need = int(repeats) * input.shape[d] if isinstance(repeats, int) else \
            int(np.sum(np.asarray(repeats.tolist() if isinstance(repeats, Tensor) else repeats)))
        if need != int(output_size):
            raise RuntimeError(f"repeat_interleave: Invalid output_size, expected {need} but "
                               f"got {output_size}")
    if isinstance(repeats, int):
        shp = tuple(input.shape)
        x = unsqueeze(input, d + 1)
        x = expand(x, shp[:d + 1] + (repeats,) + shp[d + 1:])
        return x.reshape(shp[:d] + (shp[d] * repeats,) + shp[d + 1:])
    if isinstance(repeats, Tensor):
        _data_dependent(repeats, "repeat_interleave with tensor repeats")
    idx = np.repeat(np.arange(input.shape[d]), np.asarray(repeats.tolist() if isinstance(
        repeats, Tensor) else repeats, dtype=np.int64))   # (an empty list is no float64)
    return index_select(input, d, tensor(idx))


def pad(input, pad, mode="constant", value=None):
    """F.pad: ``pad`` lists (before, after) pairs starting from the last dim."""
    if mode in ("reflect", "replicate"):   # torch's autocast computes these in float32
        out = _pad_fp32(input, pad, mode, value)
    else:
        out = _pad(input, pad, mode, value)
    if input._data.ndim in (4, 5) and not input._data.flags["C_CONTIGUOUS"]:
        out = in_format_of(out, (input,))   # a channels-last input: a channels-last result
    return out


def _pad(input, pad, mode, value):
    if len(pad) % 2:
        raise RuntimeError(f"pad: padding length must be divisible by 2, got {len(pad)}")
    nd = input._data.ndim
    if len(pad) // 2 > nd:
        raise RuntimeError(f"pad: padding length {len(pad)} is too large for a {nd}-d input")
    pads = [(0, 0)] * nd
    for i in range(len(pad) // 2):
        pads[nd - 1 - i] = (int(pad[2 * i]), int(pad[2 * i + 1]))
    if mode != "constant":
        k = len(pad) // 2
        if k not in (1, 2, 3) or nd not in (k + 1, k + 2):
            raise NotImplementedError(
                f"pad: padding size {len(pad)} is not supported for {nd}D input tensor with "
                f"mode={mode!r}; expected 2 values for a 2D or 3D input, 4 for 3D or 4D, 6 "
                f"for 4D or 5D")
        for d, (b, e) in enumerate(pads):
            n = input.shape[d]
            if mode == "reflect" and (b >= n or e >= n) and (b or e):
                raise RuntimeError(f"pad: reflect padding should be less than the "
                                   f"corresponding input dimension, got padding ({b}, {e}) "
                                   f"at dimension {d} of input {tuple(input.shape)}")
            if mode == "circular" and (b > n or e > n):
                raise RuntimeError(f"pad: circular padding value causes wrapping around more "
                                   f"than once, got padding ({b}, {e}) at dimension {d} of "
                                   f"input {tuple(input.shape)}")
        return _pad_mode(input, pads, mode)
    crop = [(builtins.max(-b, 0), builtins.max(-e, 0)) for b, e in pads]
    pads = tuple((builtins.max(b, 0), builtins.max(e, 0)) for b, e in pads)
    if any(b or e for b, e in crop):
        input = input[tuple(slice(b, input.shape[i] - e) for i, (b, e) in enumerate(crop))]
    return apply(PadConstant, input, pads=pads, value=0.0 if value is None else value)


def _pad_mode(input, pads, mode):
    """reflect / replicate / circular padding as gathers (so gradients flow)."""
    x = input
    for d, (b, e) in enumerate(pads):
        if not (b or e):
            continue
        n = x.shape[d]
        i = np.arange(-b, n + e)
        if mode == "reflect":
            period = 2 * (n - 1)
            i = np.abs(((i % period) + period) % period)
            i = np.where(i >= n, period - i, i)
        elif mode == "replicate":
            i = np.clip(i, 0, n - 1)
        elif mode == "circular":
            i = i % n
        else:
            raise NotImplementedError(f"pad: unknown mode {mode!r}; expected 'constant', "
                                      "'reflect', 'replicate' or 'circular'")
        x = index_select(x, d, tensor(i))
    return x


def _tri_mask(shape, diagonal, upper):
    r, c = shape[-2], shape[-1]
    m = np.arange(c)[None, :] - np.arange(r)[:, None]
    return (m >= diagonal) if upper else (m <= diagonal)


def tril(input, diagonal=0):
    """Lower triangle of the last two dims (the rest zeroed)."""
    if input._data.ndim < 2:
        raise RuntimeError("tril: input tensor must have at least 2 dimensions")
    return where(_wrap_np(_tri_mask(input.shape, diagonal, False)), input,
                 _zero_of(input))


def triu(input, diagonal=0):
    if input._data.ndim < 2:
        raise RuntimeError("triu: input tensor must have at least 2 dimensions")
    return where(_wrap_np(_tri_mask(input.shape, diagonal, True)), input, _zero_of(input))


def _zero_of(input):
    return False if input._data.dtype == np.bool_ else (0 if input._data.dtype.kind in "iu"
                                                        else 0.0)


def diagonal(input, offset=0, dim1=0, dim2=1):
    nd = input._data.ndim
    d1, d2 = _norm_dim(dim1, nd, "diagonal"), _norm_dim(dim2, nd, "diagonal")
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    return apply(DiagonalLast, movedim(input, (d1, d2), (nd - 2, nd - 1)), offset=int(offset))


def diag(input, diagonal=0):
    if input._data.ndim not in (1, 2):
        raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {input._data.ndim}D")
    if input._data.ndim == 1:
        n = input.shape[0] + builtins.abs(diagonal)
        out = zeros(n, n, dtype=input.dtype)
        i = np.arange(input.shape[0])
        r, c = (i, i + diagonal) if diagonal >= 0 else (i - diagonal, i)
        return _index_put(out, (_wrap_np(r), _wrap_np(c)), input)
    return globals()["diagonal"](input, diagonal)


def trace(input):
    return diagonal(input).sum()


# --- issue 10
def ravel(input):
    return input.reshape(-1)


def rot90(input, k=1, dims=(0, 1)):
    """Rotate by 90 degrees k times in the plane of dims (from the first towards the second)."""
    dims = tuple(dims)
    if len(dims) != 2:
        raise RuntimeError(f"expected total rotation dims == 2, but got dims = {len(dims)}")
    nd = input._data.ndim
    if nd < 2:
        raise RuntimeError(f"expected total dims >= 2, but got total dims = {nd}")
    d0, d1 = _norm_dim(dims[0], nd, "rot90"), _norm_dim(dims[1], nd, "rot90")
    if d0 == d1:
        raise RuntimeError(f"expected rotation dims to be different, but got dim0 = {d0} and "
                           f"dim1 = {d1}")
    k %= 4
    if k == 1:
        return flip(input, d1).transpose(d0, d1)
    if k == 2:
        return flip(input, (d0, d1))
    if k == 3:
        return flip(input, d0).transpose(d0, d1)
    return input.clone()


# ----------------------------------------------------------------------------- Tensor methods
class ShapeMethods:
    """cadenza.Tensor's methods for this module's functions (``x.f(...)`` is ``f(x, ...)``,
    in-place ``x.f_(...)`` commits it into x); ``cadenza/_tensor.py`` composes them."""
    __slots__ = ()

    # --- Tensor methods (issue 10)
    ravel = ravel
    rot90 = rot90
    # --- end issue 10

    flip = flip
    fliplr = fliplr
    flipud = flipud
    roll = roll
    repeat = repeat
    tile = tile
    repeat_interleave = repeat_interleave
    tril = tril
    triu = triu
    diagonal = diagonal
    diag = diag
    trace = trace
    tril_ = make_inplace(tril, "tril_")
    triu_ = make_inplace(triu, "triu_")

    def unfold(self, dimension, size, step):
        """All slices of ``size`` along ``dimension``, stepping by ``step``, as a new last dim."""
        d = _norm_dim(dimension, self.ndim, "unfold")
        n = self.shape[d] if self.ndim else 1
        if size > n:
            raise RuntimeError(f"unfold: maximum size for tensor at dimension {d} is {n} but "
                               f"size is {size}")
        if step <= 0:
            raise RuntimeError(f"unfold: step is {step} but must be > 0")
        if size < 0:
            raise RuntimeError(f"unfold: size is {size} but must be >= 0")
        if not self.ndim:
            return self.reshape(1)
        return apply(Windows, self, dim=d, size=int(size), step=int(step))


_pad_fp32 = autocast_policy("fp32")(_pad)
