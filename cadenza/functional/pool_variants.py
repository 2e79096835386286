"""Pooling variants as composites: power-average (LP) pooling over average / max pooling, max
unpooling as a scatter into zeros, fractional max pooling (pseudo-random windows, Graham 2014)
as a gather of every window, and the ``*_with_indices`` forms torch.nn.functional names."""
from __future__ import annotations

import numpy as np

from .. import ops
from .._creation import rand as _rand, zeros as _zeros
from .._tensor_base import TensorBase as Tensor
from .._trace_hooks import untraceable
from ..errors import ShapeError, fmt_shape
from ._util import ntuple
from .activation import relu
from .pool import (avg_pool1d, avg_pool2d, max_pool1d, max_pool2d, adaptive_max_pool1d,
                   adaptive_max_pool2d, _const)
from .pool3d import avg_pool3d, max_pool3d

__all__ = ["lp_pool1d", "lp_pool2d", "lp_pool3d", "max_unpool1d", "max_unpool2d",
           "max_unpool3d", "fractional_max_pool2d", "fractional_max_pool3d",
           "fractional_max_pool2d_with_indices", "fractional_max_pool3d_with_indices",
           "max_pool1d_with_indices", "max_pool2d_with_indices",
           "adaptive_max_pool1d_with_indices", "adaptive_max_pool2d_with_indices"]

_AVG = {1: avg_pool1d, 2: avg_pool2d, 3: avg_pool3d}
_MAX = {1: max_pool1d, 2: max_pool2d, 3: max_pool3d}


def _lp_pool(nd, input, norm_type, kernel_size, stride, ceil_mode):
    k = ntuple(kernel_size, nd, "kernel_size", f"lp_pool{nd}d")
    if norm_type == float("inf"):
        return _MAX[nd](input.abs(), kernel_size, stride, 0, 1, ceil_mode)
    if norm_type == -float("inf"):
        return -_MAX[nd](-input.abs(), kernel_size, stride, 0, 1, ceil_mode)
    out = _AVG[nd](input.pow(norm_type), kernel_size, stride, 0, ceil_mode)
    n = 1
    for kk in k:
        n *= kk
    return (ops.sign(out) * relu(out.abs())).mul(n).pow(1.0 / norm_type)


def lp_pool1d(input: Tensor, norm_type, kernel_size, stride=None, ceil_mode: bool = False):
    """(sum over each window of x^p)^(1/p) over (N, C, L) or (C, L).

    >>> lp_pool1d(cadenza.tensor([[[3.0, 4.0]]]), 2, 2)
    tensor([[[5.]]])
    """
    return _lp_pool(1, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool2d(input: Tensor, norm_type, kernel_size, stride=None, ceil_mode: bool = False):
    """(sum over each kh x kw window of x^p)^(1/p) over (N, C, H, W) or (C, H, W).

    >>> lp_pool2d(cadenza.ones(1, 1, 2, 2), 2, 2).flatten()
    tensor([2.])
    """
    return _lp_pool(2, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool3d(input: Tensor, norm_type, kernel_size, stride=None, ceil_mode: bool = False):
    """(sum over each kd x kh x kw window of x^p)^(1/p) over (N, C, D, H, W) or (C, D, H, W).

    >>> lp_pool3d(cadenza.ones(1, 1, 2, 2, 2), 1, 2).flatten()
    tensor([8.])
    """
    return _lp_pool(3, input, norm_type, kernel_size, stride, ceil_mode)


def _max_unpool(nd, input, indices, kernel_size, stride, padding, output_size):
    op = f"max_unpool{nd}d"
    k = ntuple(kernel_size, nd, "kernel_size", op)
    s = k if stride is None else ntuple(stride, nd, "stride", op)
    p = ntuple(padding, nd, "padding", op)
    if input.ndim not in (nd + 1, nd + 2) or tuple(indices.shape) != tuple(input.shape):
        raise ShapeError(f"{op}: expected a {nd + 1}-d or {nd + 2}-d input and indices of its "
                         f"shape, got {fmt_shape(input.shape)} and {fmt_shape(indices.shape)}")
    default = [(input.shape[-nd + i] - 1) * s[i] + k[i] - 2 * p[i] for i in range(nd)]
    if output_size is None:
        size = default
    else:
        size = list(output_size)
        if len(size) == nd + 2:
            size = size[2:]
        if len(size) != nd:
            raise ValueError(f"output_size should be a sequence containing {nd} or {nd + 2} "
                             f"elements, but it has a length of '{len(size)}'")
        for i in range(nd):
            if not default[i] - s[i] < size[i] < default[i] + s[i]:
                raise ValueError(f'invalid output_size "{list(output_size)}" (dim {i} must be '
                                 f'between {default[i] - s[i]} and {default[i] + s[i]})')
    lead = tuple(input.shape[:-nd])
    n = 1
    for v in size:
        n *= int(v)
    flat = input.reshape(*lead, -1)
    out = _zeros((*lead, n), dtype=input.dtype, device=input.device)
    out = ops.scatter(out, -1, indices.reshape(*lead, -1).long(), flat)
    return out.reshape(*lead, *size)


def max_unpool1d(input: Tensor, indices: Tensor, kernel_size, stride=None, padding=0,
                 output_size=None) -> Tensor:
    """The partial inverse of max_pool1d: each value put back at its index, zeros elsewhere.

    >>> max_unpool1d(cadenza.tensor([[[5.0]]]), cadenza.tensor([[[1]]]), 2)
    tensor([[[0., 5.]]])
    """
    return _max_unpool(1, input, indices, kernel_size, stride, padding, output_size)


def max_unpool2d(input: Tensor, indices: Tensor, kernel_size, stride=None, padding=0,
                 output_size=None) -> Tensor:
    """The partial inverse of max_pool2d (indices flat in H*W), zeros elsewhere.

    >>> x, i = cadenza.nn.functional.max_pool2d(cadenza.arange(4.0).reshape(1, 1, 2, 2), 2,
    ...                                         return_indices=True)
    >>> max_unpool2d(x, i, 2)
    tensor([[[[0., 0.],
              [0., 3.]]]])
    """
    return _max_unpool(2, input, indices, kernel_size, stride, padding, output_size)


def max_unpool3d(input: Tensor, indices: Tensor, kernel_size, stride=None, padding=0,
                 output_size=None) -> Tensor:
    """The partial inverse of max_pool3d (indices flat in D*H*W), zeros elsewhere.

    >>> max_unpool3d(cadenza.ones(1, 1, 1, 1, 1), cadenza.tensor([[[[[7]]]]]), 2).shape
    cadenza.Size([1, 1, 2, 2, 2])
    """
    return _max_unpool(3, input, indices, kernel_size, stride, padding, output_size)


# ----------------------------------------------------------------------------- fractional
def _intervals(sample, n, o, k, dtype):
    """torch's window starts: floor((i + u) a) - floor(u a), a = (n - k) / (o - 1), computed
    in the input's float type; the last window ends at the input's end."""
    seq = np.zeros(o, dtype=np.int64)
    if o > 1:
        u = np.asarray(sample, dtype=dtype)
        a = dtype.type(n - k) / dtype.type(o - 1)
        i = np.arange(o - 1, dtype=dtype)
        seq[:-1] = np.trunc((i + u) * a).astype(np.int64) - np.int64(np.trunc(u * a))
    seq[-1] = n - k
    return seq


def _fractional(nd, input, kernel_size, output_size, output_ratio, return_indices,
                _random_samples):
    op = f"fractional_max_pool{nd}d"
    if input.ndim not in (nd + 1, nd + 2):
        raise ShapeError(f"{op}: expected a {nd + 1}-d or {nd + 2}-d input, got "
                         f"{fmt_shape(input.shape)}")
    unb = input.ndim == nd + 1
    x = input.unsqueeze(0) if unb else input
    N, C, *sp = x.shape
    k = ntuple(kernel_size, nd, "kernel_size", op)
    if output_size is None:
        if output_ratio is None:
            raise ValueError(f"{op} requires specifying either an output_size or an "
                             f"output_ratio")
        r = tuple(output_ratio) if isinstance(output_ratio, (tuple, list)) else \
            (output_ratio,) * nd
        if len(r) != nd or not all(0 < float(v) < 1 for v in r):
            raise ValueError(f"{op}: expected output_ratio of {nd} values in (0, 1), got "
                             f"{output_ratio}")
        output_size = [int(n * float(ri)) for n, ri in zip(sp, r)]
    out = list(ntuple(output_size, nd, "output_size", op))
    for n, o, kk in zip(sp, out, k):
        if o + kk - 1 >= n:
            raise RuntimeError(f"{op}: output size {out} with kernel {k} is too large for "
                               f"input {fmt_shape(input.shape)}")
    if _random_samples is None:
        _random_samples = _rand(N, C, nd, dtype=x.dtype, device=x.device)
    untraceable(op, "the windows come from the random samples' values", _random_samples)
    u = np.asarray(_random_samples.detach()._host()).reshape(N, C, nd)
    dt = np.dtype(x._data.dtype) if np.dtype(x._data.dtype).kind == "f" else np.dtype("f4")
    # as torch's kernels: 2-d: u[..., 0] drives the width, u[..., 1] the height; 3-d:
    # u[..., 0], u[..., 1], u[..., 2] drive depth, height, width
    strides = np.cumprod([1] + sp[::-1])[:-1][::-1]          # flat strides of the spatial dims
    offs = np.stack(np.meshgrid(*[np.arange(kk) for kk in k], indexing="ij"), -1).reshape(-1, nd)
    grids = np.meshgrid(*[np.arange(o) for o in out], indexing="ij")
    idx = np.zeros((N, C, *out, len(offs)), dtype=np.int64)
    for b in range(N):
        for c in range(C):
            starts = [_intervals(u[b, c, 1 - i if nd == 2 else i], sp[i], out[i], k[i], dt)
                      for i in range(nd)]
            base = sum(starts[i][grids[i]] * strides[i] for i in range(nd))
            idx[b, c] = base[..., None] + (offs * strides).sum(1)
    L = int(np.prod(out))
    g = ops.gather(x.reshape(N, C, -1), 2, _const(idx.reshape(N, C, -1)))
    vals, arg = g.reshape(N, C, L, len(offs)).max(-1)
    vals = vals.reshape(N, C, *out)
    if unb:
        vals = vals.squeeze(0)
    if not return_indices:
        return vals
    ind = ops.gather(_const(idx.reshape(N, C, L, -1)), 3, arg.unsqueeze(-1)).reshape(N, C, *out)
    return vals, (ind.squeeze(0) if unb else ind)


def fractional_max_pool2d(input: Tensor, kernel_size, output_size=None, output_ratio=None,
                          return_indices: bool = False, _random_samples=None):
    """Max over pseudo-random kh x kw windows whose starts spread the input onto
    ``output_size`` (or input size x ``output_ratio``); ``_random_samples`` (N, C, 2) in
    [0, 1) fixes them (drawn with cadenza.rand otherwise).

    >>> fractional_max_pool2d(cadenza.randn(1, 2, 7, 7), 2, output_size=3).shape
    cadenza.Size([1, 2, 3, 3])
    """
    return _fractional(2, input, kernel_size, output_size, output_ratio, return_indices,
                       _random_samples)


def fractional_max_pool3d(input: Tensor, kernel_size, output_size=None, output_ratio=None,
                          return_indices: bool = False, _random_samples=None):
    """3-d fractional max pooling over (N, C, D, H, W); ``_random_samples`` (N, C, 3).

    >>> fractional_max_pool3d(cadenza.randn(1, 2, 5, 5, 5), 2, output_ratio=0.5).shape
    cadenza.Size([1, 2, 2, 2, 2])
    """
    return _fractional(3, input, kernel_size, output_size, output_ratio, return_indices,
                       _random_samples)


def fractional_max_pool2d_with_indices(input, kernel_size, output_size=None,
                                       output_ratio=None, return_indices=True,
                                       _random_samples=None):
    """fractional_max_pool2d returning (values, indices)."""
    return _fractional(2, input, kernel_size, output_size, output_ratio, True, _random_samples)


def fractional_max_pool3d_with_indices(input, kernel_size, output_size=None,
                                       output_ratio=None, return_indices=True,
                                       _random_samples=None):
    """fractional_max_pool3d returning (values, indices)."""
    return _fractional(3, input, kernel_size, output_size, output_ratio, True, _random_samples)


def max_pool1d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=True):
    """max_pool1d returning (values, indices)."""
    return max_pool1d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool2d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=True):
    """max_pool2d returning (values, indices)."""
    return max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def adaptive_max_pool1d_with_indices(input, output_size, return_indices=True):
    """adaptive_max_pool1d returning (values, indices)."""
    return adaptive_max_pool1d(input, output_size, True)


def adaptive_max_pool2d_with_indices(input, output_size, return_indices=True):
    """adaptive_max_pool2d returning (values, indices)."""
    return adaptive_max_pool2d(input, output_size, True)
