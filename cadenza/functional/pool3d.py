"""3-d pooling as composites: windows cut from the padded (N, C, D, H, W) input by strided
slicing (one slice per kernel offset, stacked), then a max or a sum; adaptive average pooling
as one averaging matrix per dim, adaptive max pooling window by window."""
from __future__ import annotations

import numpy as np

from .. import ops
from .._tensor_base import TensorBase as Tensor
from ..errors import ShapeError, fmt_shape
from ..ops.pool import pool_out
from ._util import ntuple, keeps_channels_last, one_node
from .pool import (_adaptive_bounds, _check_pool, _const, _divisor, _out_sizes,
                   adaptive_avg_pool3d)

__all__ = ["max_pool3d", "avg_pool3d", "adaptive_avg_pool3d", "adaptive_max_pool3d",
           "max_pool3d_with_indices", "adaptive_max_pool3d_with_indices"]


def _batched3d(input, op):
    if input.ndim == 4:
        return input.unsqueeze(0), True
    if input.ndim == 5:
        return input, False
    raise ShapeError(f"{op}: expected a 4-d (C, D, H, W) or 5-d (N, C, D, H, W) input, got "
                     f"{fmt_shape(input.shape)}")


def _windows3d(x, k, s, p, d, ceil_mode, fill):
    """(N, C, kd*kh*kw, od, oh, ow) windows of x (N, C, D, H, W) padded with ``fill`` (p on
    the left, what the last window needs on the right), kernel offsets in row-major order."""
    outs = [pool_out(n, kk, ss, pp, dd, ceil_mode)
            for n, kk, ss, pp, dd in zip(x.shape[2:], k, s, p, d)]
    right = [max((o - 1) * ss + dd * (kk - 1) + 1 - n - pp, 0)
             for o, n, kk, ss, pp, dd in zip(outs, x.shape[2:], k, s, p, d)]
    pads = []
    for pp, r in zip(reversed(p), reversed(right)):
        pads += [pp, r]
    if any(pads):
        x = ops.pad(x, tuple(pads), value=fill)
    cuts = []
    for i in range(k[0]):
        for j in range(k[1]):
            for m in range(k[2]):
                cuts.append(x[:, :,
                              i * d[0]: i * d[0] + s[0] * (outs[0] - 1) + 1: s[0],
                              j * d[1]: j * d[1] + s[1] * (outs[1] - 1) + 1: s[1],
                              m * d[2]: m * d[2] + s[2] * (outs[2] - 1) + 1: s[2]])
    return ops.stack(cuts, 2), outs


def _args3d(op, kernel_size, stride, padding, dilation=1):
    k = ntuple(kernel_size, 3, "kernel_size", op)
    s = k if stride is None or (not isinstance(stride, int) and len(stride) == 0) else \
        ntuple(stride, 3, "stride", op)
    return k, s, ntuple(padding, 3, "padding", op), ntuple(dilation, 3, "dilation", op)


@keeps_channels_last()
def max_pool3d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False, return_indices: bool = False):
    """Max over kd x kh x kw windows of (N, C, D, H, W) or (C, D, H, W); padding counts as
    -inf; ties go to the first maximum of the window; indices are flat in D*H*W.

    >>> max_pool3d(cadenza.arange(8.0).reshape(1, 1, 2, 2, 2), 2).flatten()
    tensor([7.])
    """
    x, unb = _batched3d(input, "max_pool3d")
    k, s, p, d = _args3d("max_pool3d", kernel_size, stride, padding, dilation)
    _check_pool(x, k, s, p, d, "max_pool3d", ceil_mode)
    win, outs = _windows3d(x, k, s, p, d, ceil_mode, float("-inf"))
    out, arg = win.max(2)
    if unb:
        out = out.squeeze(0)
    if not return_indices:
        return out
    # window offset -> input coordinates -> flat index in the unpadded D*H*W volume
    D, H, W = x.shape[2:]
    ki, kj, km = arg // (k[1] * k[2]), (arg // k[2]) % k[1], arg % k[2]
    grids = np.meshgrid(*[np.arange(o) for o in outs], indexing="ij")
    zd = _const(grids[0] * s[0] - p[0]) + ki * d[0]
    zh = _const(grids[1] * s[1] - p[1]) + kj * d[1]
    zw = _const(grids[2] * s[2] - p[2]) + km * d[2]
    ind = (zd * H + zh) * W + zw
    return out, (ind.squeeze(0) if unb else ind)


def max_pool3d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=True):
    """max_pool3d returning (values, indices)."""
    return max_pool3d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


@keeps_channels_last(1, one_node("AvgPool3DBackward0"))
def avg_pool3d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override=None) -> Tensor:
    """Mean over kd x kh x kw windows of (N, C, D, H, W) or (C, D, H, W) (zero padding;
    count_include_pad counts it in the divisor).

    >>> avg_pool3d(cadenza.arange(8.0).reshape(1, 1, 2, 2, 2), 2).flatten()
    tensor([3.5000])
    """
    x, unb = _batched3d(input, "avg_pool3d")
    k, s, p, _ = _args3d("avg_pool3d", kernel_size, stride, padding)
    _check_pool(x, k, s, p, (1, 1, 1), "avg_pool3d", ceil_mode)
    win, outs = _windows3d(x, k, s, p, (1, 1, 1), ceil_mode, 0.0)
    total = win.sum(2)
    if divisor_override:
        out = total / divisor_override
    else:
        divs = [_divisor(n, kk, ss, pp, o, count_include_pad)
                for n, kk, ss, pp, o in zip(x.shape[2:], k, s, p, outs)]
        div = divs[0][:, None, None] * divs[1][None, :, None] * divs[2][None, None, :]
        out = total / _const(div.astype(x._data.dtype))
    return out.squeeze(0) if unb else out


@keeps_channels_last()
def adaptive_max_pool3d(input: Tensor, output_size, return_indices: bool = False):
    """Max pooling of (N, C, D, H, W) or (C, D, H, W) to a fixed (od, oh, ow) with adaptive
    windows (first maximum wins ties; indices flat in D*H*W).

    >>> adaptive_max_pool3d(cadenza.arange(8.0).reshape(1, 1, 2, 2, 2), 1).flatten()
    tensor([7.])
    """
    x, unb = _batched3d(input, "adaptive_max_pool3d")
    N, C, D, H, W = x.shape
    od, oh, ow = _out_sizes(output_size, (D, H, W), "adaptive_max_pool3d")
    bounds = [_adaptive_bounds(n, o) for n, o in ((D, od), (H, oh), (W, ow))]
    outs, inds = [], []
    for a in range(od):
        for b in range(oh):
            for c in range(ow):
                (d0, d1), (h0, h1), (w0, w1) = [(int(st[i]), int(en[i])) for (st, en), i in
                                                zip(bounds, (a, b, c))]
                win = x[:, :, d0:d1, h0:h1, w0:w1].reshape(N, C, -1)
                arg = win.detach().argmax(2, keepdim=True)
                outs.append(ops.gather(win, 2, arg))
                if return_indices:
                    hw = (h1 - h0) * (w1 - w0)
                    zd = arg // hw + d0
                    zh = (arg // (w1 - w0)) % (h1 - h0) + h0
                    zw = arg % (w1 - w0) + w0
                    inds.append((zd * H + zh) * W + zw)
    out = ops.cat(outs, 2).reshape(N, C, od, oh, ow)
    if unb:
        out = out.squeeze(0)
    if not return_indices:
        return out
    ind = ops.cat(inds, 2).reshape(N, C, od, oh, ow)
    return out, (ind.squeeze(0) if unb else ind)


def adaptive_max_pool3d_with_indices(input, output_size, return_indices=True):
    """adaptive_max_pool3d returning (values, indices)."""
    return adaptive_max_pool3d(input, output_size, True)
