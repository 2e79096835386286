"""Pooling and resampling as composites: max / average pooling over unfold windows, adaptive
pooling and linear interpolation as products with small averaging / interpolation matrices,
nearest interpolation as index_select."""
from __future__ import annotations

import math

import numpy as np

from .. import ops
from .._creation import _created
from .._tensor_base import TensorBase as Tensor, _make
from .._trace_hooks import untraceable
from ..ops.conv import unfold
from ..ops.views import owned
from ..ops._registry import autocast_policy
from ..ops import pool as _pool_ops
from ..errors import ShapeError, fmt_shape
from ._util import ntuple, keeps_channels_last, one_node
from ..autograd.node import relabel

__all__ = ["max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d", "adaptive_avg_pool1d",
           "adaptive_avg_pool2d", "adaptive_max_pool1d", "adaptive_max_pool2d", "interpolate",
           "upsample", "upsample_nearest", "upsample_bilinear"]


def _check_pool(x, k, s, p, d, op, ceil_mode=False):
    for n, kk, ss, pp, dd in zip(x.shape[2:], k, s, p, d):
        if kk <= 0 or ss <= 0 or dd <= 0 or pp < 0:
            raise ValueError(f"{op}: expected positive kernel_size, stride and dilation and "
                             f"non-negative padding, got kernel_size={k}, stride={s}, "
                             f"padding={p}, dilation={d}")
        if pp > kk // 2:
            raise ValueError(f"{op}: expected padding <= kernel_size / 2, got padding={p}, "
                             f"kernel_size={k}")
        # torch's rule: at least one output (a ceil_mode window may hang over the end)
        if _pool_ops.pool_out(n, kk, ss, pp, dd, ceil_mode) < 1:
            raise ShapeError(f"{op}: expected input spatial size >= the kernel after padding, "
                             f"got input {fmt_shape(x.shape)}, kernel_size={k}, padding={p}, "
                             f"dilation={d}: output size is too small")


def _windows(x, k, s, p, d, ceil_mode, fill):
    """Pad x (N, C, H, W) with ``fill`` (p on the left, what the last window needs on the right)
    and cut it into windows: (N, C, kh*kw, oh*ow) plus (oh, ow)."""
    N, C = x.shape[:2]
    oh, ow, rh, rw = _pool_ops.pool_geometry(x.shape, k, s, p, d, ceil_mode)
    if p[0] or p[1] or rh or rw:
        x = ops.pad(x, (p[1], rw, p[0], rh), value=fill)
    cols = unfold(x, k, d, 0, s)  # (N, C*kh*kw, L)
    return cols.reshape(N, C, k[0] * k[1], -1), oh, ow


def _const(a):
    """A NumPy array computed from shapes only (divisors, interpolation matrices): a constant
    of the graph while compile traces, not an input read from this tensor."""
    return _created(_make(a))


def _as_batched(input, nd, op):
    """(N, C, H, W) from a (C, *) or (N, C, *) input with nd spatial dims (a 1-d pool is a 2-d
    one over a height-1 plane), and whether it had no batch dim."""
    if input.ndim == nd + 1:
        x, unbatched = input.unsqueeze(0), True
    elif input.ndim == nd + 2:
        x, unbatched = input, False
    else:
        raise ShapeError(f"{op}: expected a {nd + 1}-d (C, ...) or {nd + 2}-d (N, C, ...) input, "
                         f"got {fmt_shape(input.shape)}")
    return (x.unsqueeze(2) if nd == 1 else x), unbatched


def _unbatched(t, nd, unbatched):
    """Back from _as_batched's (N, C, H, W) form to the input's (None stays None)."""
    if t is None:
        return None
    if nd == 1:
        t = t.squeeze(2)
    return t.squeeze(0) if unbatched else t


def _pool_args(nd, op, kernel_size, stride, padding, dilation=1):
    """kernel, stride (default: the kernel), padding and dilation as the 2-d primitive's pairs
    (a 1-d pool's with the height-1 pair first)."""
    k = ntuple(kernel_size, nd, "kernel_size", op)
    s = k if stride is None or (not isinstance(stride, int) and len(stride) == 0) else \
        ntuple(stride, nd, "stride", op)
    p, d = ntuple(padding, nd, "padding", op), ntuple(dilation, nd, "dilation", op)
    if nd == 1:
        return (1, *k), (1, *s), (0, *p), (1, *d)
    return k, s, p, d


def _max_pool2d(x, k, s, p, d, ceil_mode, return_indices, op):
    _check_pool(x, k, s, p, d, op, ceil_mode)
    N, C, H, W = x.shape
    out = _pool_ops.max_pool2d(x, k, s, p, d, bool(ceil_mode))
    if not return_indices:
        return out, None
    untraceable(f"{op}(return_indices=True)", "call it outside the compiled function", x)
    # flat index into the unpadded H * W plane of each window's winner (first maximum)
    a = _pool_ops.window_argmax(np, x._data, out._data, k, s, p, d, bool(ceil_mode))
    a = a.astype(np.int64)
    oh, ow = a.shape[2], a.shape[3]
    ki, kj = a // k[1], a % k[1]
    rows = np.arange(oh).reshape(oh, 1) * s[0] - p[0] + ki * d[0]
    cols_ = np.arange(ow).reshape(1, ow) * s[1] - p[1] + kj * d[1]
    ind = _make(rows * W + cols_)
    return out, (ind.to("meta") if x.is_meta else ind)   # (the values of a meta x are none)


def _max_pool(nd, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    op = f"max_pool{nd}d"
    x, unb = _as_batched(input, nd, op)
    k, s, p, d = _pool_args(nd, op, kernel_size, stride, padding, dilation)
    out, ind = _max_pool2d(x, k, s, p, d, ceil_mode, return_indices, op)
    out = _unbatched(out, nd, unb)
    return (out, _unbatched(ind, nd, unb)) if return_indices else out


@keeps_channels_last()
def max_pool2d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False, return_indices: bool = False):
    """Max over kh x kw windows of (N, C, H, W) or (C, H, W); padding counts as -inf; ties go
    to the first maximal element of the window (its gradient too), as in torch.

    >>> max_pool2d(cadenza.arange(16.0).reshape(1, 1, 4, 4), 2)
    tensor([[[[ 5.,  7.],
              [13., 15.]]]])
    """
    return _max_pool(2, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def max_pool1d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False, return_indices: bool = False):
    """Max over windows of (N, C, L) or (C, L).

    >>> max_pool1d(cadenza.tensor([[[1.0, 3.0, 2.0, 0.0]]]), 2)
    tensor([[[3., 2.]]])
    """
    return _max_pool(1, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def _divisor(n, k, s, p, o, include_pad):
    """Per-output window sizes along one dim (torch's avg_pool: windows clipped to the padded
    input, and further to the real input unless count_include_pad)."""
    start = np.arange(o) * s - p
    end = np.minimum(start + k, n + p)
    if not include_pad:
        start, end = np.maximum(start, 0), np.minimum(end, n)
    return end - start


def _avg_pool2d(x, k, s, p, ceil_mode, count_include_pad, divisor_override, op):
    _check_pool(x, k, s, p, (1, 1), op, ceil_mode)
    N, C, H, W = x.shape
    cols, oh, ow = _windows(x, k, s, p, (1, 1), ceil_mode, 0.0)
    total = cols.sum(2)  # (N, C, L)
    if divisor_override:
        out = total / divisor_override
    else:
        dh = _divisor(H, k[0], s[0], p[0], oh, count_include_pad)
        dw = _divisor(W, k[1], s[1], p[1], ow, count_include_pad)
        div = (dh[:, None] * dw[None, :]).reshape(-1).astype(x._data.dtype)
        out = total / _const(div)
    return owned(out.reshape(N, C, oh, ow))   # not a view: in-place activations follow pools


def _avg_pool(nd, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
              divisor_override):
    op = f"avg_pool{nd}d"
    x, unb = _as_batched(input, nd, op)
    k, s, p, _ = _pool_args(nd, op, kernel_size, stride, padding)
    half = x.is_floating_point() and x._data.dtype.itemsize == 2
    # half precision: a window's sum overflows where its mean does not; torch accumulates in
    # float32
    out = _avg_pool2d(x.float() if half else x, k, s, p, ceil_mode, count_include_pad,
                      divisor_override, op)
    return _unbatched(out.to(x.dtype) if half else out, nd, unb)


@keeps_channels_last(1, one_node("AvgPool2DBackward0"))
def avg_pool2d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override=None) -> Tensor:
    """Mean over kh x kw windows (zero padding; count_include_pad counts it in the divisor).

    >>> avg_pool2d(cadenza.arange(16.0).reshape(1, 1, 4, 4), 2)
    tensor([[[[ 2.5000,  4.5000],
              [10.5000, 12.5000]]]])
    """
    return _avg_pool(2, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override)


def avg_pool1d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> Tensor:
    """Mean over windows of (N, C, L) or (C, L).

    >>> avg_pool1d(cadenza.tensor([[[1.0, 3.0, 2.0, 0.0]]]), 2)
    tensor([[[2., 1.]]])
    """
    out = _avg_pool(1, input, kernel_size, stride, padding, ceil_mode, count_include_pad, None)
    # torch's nodes: an unsqueezed input through its 2-d pool
    return relabel(out, "SqueezeBackward1", (
        ("AvgPool2DBackward0", (("UnsqueezeBackward0", (input,)),)),))


def _adaptive_bounds(n, o):
    # window i covers [floor(i n / o), ceil((i + 1) n / o))
    i = np.arange(o)
    return (i * n) // o, -((-(i + 1) * n) // o)


def _avg_matrix(n, o, dtype):
    """(o, n) matrix whose row i averages adaptive window i."""
    start, end = _adaptive_bounds(n, o)
    m = np.zeros((o, n), dtype=dtype)
    for i, (a, b) in enumerate(zip(start, end)):
        m[i, a:b] = 1.0 / (b - a)
    return _const(m)


def _out_sizes(output_size, spatial, op):
    nd = len(spatial)
    if isinstance(output_size, int):
        output_size = (output_size,) * nd
    output_size = tuple(spatial[i] if o is None else int(o) for i, o in enumerate(output_size))
    if len(output_size) != nd or any(o <= 0 for o in output_size):
        raise ValueError(f"{op}: expected output_size of {nd} positive ints, got {output_size}")
    return output_size



@keeps_channels_last(1, one_node("AdaptiveAvgPool3DBackward0", True))
def adaptive_avg_pool3d(input: Tensor, output_size) -> Tensor:
    """Average pooling of (N, C, D, H, W) or (C, D, H, W) to a fixed (od, oh, ow).

    >>> adaptive_avg_pool3d(cadenza.ones(1, 2, 4, 5, 6), (2, 3, 1)).shape
    cadenza.Size([1, 2, 2, 3, 1])
    """
    if input.ndim not in (4, 5):
        raise ShapeError(f"adaptive_avg_pool3d: expected a 4-d or 5-d input, got "
                         f"{fmt_shape(input.shape)}")
    D, H, W = input.shape[-3:]
    od, oh, ow = _out_sizes(output_size, (D, H, W), "adaptive_avg_pool3d")
    dt = input._data.dtype
    x = ops.matmul(input, _avg_matrix(W, ow, dt).transpose(0, 1))          # (..., D, H, ow)
    x = ops.matmul(_avg_matrix(H, oh, dt), x)                               # (..., D, oh, ow)
    x = ops.matmul(_avg_matrix(D, od, dt), x.flatten(-2)).unflatten(-1, (oh, ow))
    return x

@autocast_policy("none")   # (not on torch's autocast lists: its GEMMs stay as given)
@keeps_channels_last(1, one_node("AdaptiveAvgPool2DBackward0", True))
def adaptive_avg_pool2d(input: Tensor, output_size) -> Tensor:
    """Average pooling to a fixed (oh, ow): out = A_h x A_w^T with A the (separable) window
    averaging matrices.

    >>> adaptive_avg_pool2d(cadenza.ones(1, 2, 5, 7), (2, 3)).shape
    cadenza.Size([1, 2, 2, 3])
    """
    if input.ndim not in (3, 4):
        raise ShapeError(f"adaptive_avg_pool2d: expected a 3-d or 4-d input, got "
                         f"{fmt_shape(input.shape)}")
    H, W = input.shape[-2:]
    oh, ow = _out_sizes(output_size, (H, W), "adaptive_avg_pool2d")
    dt = input._data.dtype
    out = ops.matmul(_avg_matrix(H, oh, dt), input)                    # (..., oh, W)
    return ops.matmul(out, _avg_matrix(W, ow, dt).transpose(0, 1))     # (..., oh, ow)


def adaptive_avg_pool1d(input: Tensor, output_size) -> Tensor:
    """Average pooling of (N, C, L) or (C, L) to a fixed length.

    >>> adaptive_avg_pool1d(cadenza.tensor([[[1.0, 3.0, 2.0, 0.0]]]), 2)
    tensor([[[2., 1.]]])
    """
    if input.ndim not in (2, 3):
        raise ShapeError(f"adaptive_avg_pool1d: expected a 2-d or 3-d input, got "
                         f"{fmt_shape(input.shape)}")
    (o,) = _out_sizes(output_size, (input.shape[-1],), "adaptive_avg_pool1d")
    return ops.matmul(input, _avg_matrix(input.shape[-1], o, input._data.dtype).transpose(0, 1))


def _adaptive_max2d(x, oh, ow, return_indices):
    N, C, H, W = x.shape
    if H % oh == 0 and W % ow == 0:
        k = (H // oh, W // ow)
        return _max_pool2d(x, k, k, (0, 0), (1, 1), False, return_indices,
                           "adaptive_max_pool2d")
    hs, he = _adaptive_bounds(H, oh)
    ws, we = _adaptive_bounds(W, ow)
    outs, inds = [], []
    for i in range(oh):
        for j in range(ow):
            win = x[:, :, hs[i]:he[i], ws[j]:we[j]].reshape(N, C, -1)
            a = win.detach().argmax(2, keepdim=True)
            outs.append(ops.gather(win, 2, a))
            if return_indices:
                ww = we[j] - ws[j]
                inds.append((a // int(ww) + int(hs[i])) * W + (a % int(ww) + int(ws[j])))
    out = ops.cat(outs, 2).reshape(N, C, oh, ow)
    ind = ops.cat(inds, 2).reshape(N, C, oh, ow) if return_indices else None
    return out, ind


def _adaptive_max(nd, input, output_size, return_indices):
    op = f"adaptive_max_pool{nd}d"
    x, unb = _as_batched(input, nd, op)
    oh, ow = (1, *_out_sizes(output_size, (x.shape[3],), op)) if nd == 1 else \
        _out_sizes(output_size, tuple(x.shape[2:]), op)
    out, ind = _adaptive_max2d(x, oh, ow, return_indices)
    out = _unbatched(out, nd, unb)
    return (out, _unbatched(ind, nd, unb)) if return_indices else out


@keeps_channels_last()
def adaptive_max_pool2d(input: Tensor, output_size, return_indices: bool = False):
    """Max pooling to a fixed (oh, ow) with adaptive windows (first maximum wins ties).

    >>> adaptive_max_pool2d(cadenza.arange(16.0).reshape(1, 1, 4, 4), 1)
    tensor([[[[15.]]]])
    """
    return _adaptive_max(2, input, output_size, return_indices)


def adaptive_max_pool1d(input: Tensor, output_size, return_indices: bool = False):
    """Max pooling of (N, C, L) or (C, L) to a fixed length.

    >>> adaptive_max_pool1d(cadenza.tensor([[[1.0, 3.0, 2.0, 0.0]]]), 2)
    tensor([[[3., 2.]]])
    """
    return _adaptive_max(1, input, output_size, return_indices)


# ----------------------------------------------------------------------------- interpolate
_LINEAR = {"linear": 1, "bilinear": 2, "trilinear": 3}


def _linear_matrix(n, o, scale, align_corners, dtype):
    """(o, n) matrix of linear interpolation weights: src = (dst + 1/2) scale - 1/2 (clamped at
    0), or dst (n - 1) / (o - 1) with align_corners; weights 1 - frac and frac on the two
    neighbours."""
    dst = np.arange(o, dtype=np.float64)
    if align_corners:
        src = dst * ((n - 1) / (o - 1) if o > 1 else 0.0)
    else:
        src = np.maximum((dst + 0.5) * scale - 0.5, 0.0)
    i0 = np.minimum(np.floor(src).astype(np.int64), n - 1)
    i1 = np.minimum(i0 + 1, n - 1)
    lam = src - i0
    m = np.zeros((o, n), dtype=np.float64)
    np.add.at(m, (np.arange(o), i0), 1.0 - lam)
    np.add.at(m, (np.arange(o), i1), lam)
    return _const(m.astype(dtype))


def _cubic_weights(t, A=-0.75):
    """The four cubic-convolution weights (Keys) of taps -1, 0, 1, 2 at offset t in [0, 1)
    (arrays or tensors: grid_sample's bicubic differentiates them)."""
    def near(x):   # |x| <= 1
        return ((A + 2) * x - (A + 3)) * x * x + 1

    def far(x):    # 1 < |x| < 2
        return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A
    return far(t + 1), near(t), near(1 - t), far(2 - t)


def _cubic_matrix(n, o, scale, align_corners, dtype, A=-0.75):
    """(o, n) matrix of bicubic (Keys, a = -0.75) interpolation weights along one dim, as
    torch's: src = (dst + 1/2) scale - 1/2 (not clamped) or dst (n - 1) / (o - 1); the four
    taps floor(src) - 1 .. floor(src) + 2 clamped to the input."""
    dst = np.arange(o, dtype=np.float64)
    if align_corners:
        src = dst * ((n - 1) / (o - 1) if o > 1 else 0.0)
    else:
        src = (dst + 0.5) * scale - 0.5
    i0 = np.floor(src).astype(np.int64)
    taps = _cubic_weights(src - i0, A)
    m = np.zeros((o, n), dtype=np.float64)
    for k, w in zip(range(-1, 3), taps):
        np.add.at(m, (np.arange(o), np.clip(i0 + k, 0, n - 1)), w)
    return _const(m.astype(dtype))


def _aa_matrix(n, o, scale, align_corners, dtype, mode):
    """(o, n) matrix of torch's antialiased resampling along one dim (_upsample_*_aa): a
    triangle (bilinear) or Keys cubic (a = -0.5) filter centred on scale (dst + 1/2), its
    support widened by the downsampling factor, the taps' weights normalised to sum 1."""
    if align_corners:
        scale = (n - 1) / (o - 1) if o > 1 else 0.0
    half = {"bilinear": 1.0, "bicubic": 2.0, "lanczos": 3.0}[mode]
    support = half * scale if scale >= 1.0 else half
    inv = 1.0 / scale if scale >= 1.0 else 1.0
    m = np.zeros((o, n), dtype=np.float64)
    for i in range(o):
        center = scale * (i + 0.5)
        lo = max(int(center - support + 0.5), 0)    # C casts truncate toward zero
        hi = min(int(center + support + 0.5), n)
        x = np.abs((np.arange(lo, hi, dtype=np.float64) - center + 0.5) * inv)
        if mode == "lanczos":     # Lanczos-3: sinc(x) sinc(x / 3) on |x| < 3
            w = np.where(x < 3.0, np.sinc(x) * np.sinc(x / 3), 0.0)
        elif mode == "bicubic":
            a = -0.5
            w = np.where(x < 1.0, ((a + 2.0) * x - (a + 3.0)) * x * x + 1,
                         np.where(x < 2.0, (((x - 5) * x + 8) * x - 4) * a, 0.0))
        else:
            w = np.maximum(1.0 - x, 0.0)
        total = w.sum()
        m[i, lo:hi] = w / total if total != 0.0 else w
    return _const(m.astype(dtype))


def _aa_uint8(x, mats, do_w, do_h):
    """torch's uint8 antialiased resampling: weights as int16 at the most bits that keep the
    largest below 2**15, integer sums rounded (+ half, arithmetic shift) and clamped to
    0..255 after each pass (width, then height)."""
    def one_pass(v, m):    # v (..., n) uint8, m (o, n) float64 -> (..., o) uint8
        bits = 0
        while bits < 22 and int(0.5 + m.max() * (1 << (bits + 1))) < (1 << 15):
            bits += 1
        w = m * (1 << bits)
        w = np.where(w < 0, w - 0.5, w + 0.5).astype(np.int16).astype(np.int64)
        acc = v.astype(np.int64) @ w.T + (1 << (bits - 1))
        return np.clip(acc >> bits, 0, 255).astype(np.uint8)
    if do_w:
        x = one_pass(x, mats[1])
    if do_h:
        x = np.swapaxes(one_pass(np.swapaxes(x, -1, -2), mats[0]), -1, -2)
    return np.ascontiguousarray(x)


def _interpolate_aa(x, spatial, out, scales, mode, align_corners):
    """torch's antialiased bilinear/bicubic: one _aa_matrix product per axis, with two quirks
    of torch 2.13's forward kept (its backward is the plain transpose of the matrices, so the
    forward values are overridden under a detach, leaving those gradients): an axis whose
    size does not change is copied even when a scale_factor would move the samples, and an
    output width of 1 with a new height repeats the first output row down the column."""
    dt = x._data.dtype
    (H, W), (oh, ow) = spatial, out
    if dt == np.uint8:
        mats = [_aa_matrix(n, o, sc if sc is not None else n / o, align_corners, np.float64,
                           mode)._data for n, o, sc in zip(spatial, out, scales)]
        return _const(_aa_uint8(np.asarray(x._data), mats, W != ow, H != oh))
    mats = [_aa_matrix(n, o, sc if sc is not None else n / o, align_corners, dt, mode)
            for n, o, sc in zip(spatial, out, scales)]
    y = ops.matmul(mats[0], ops.matmul(x, mats[1].transpose(0, 1)))
    seen = x
    if W != ow:
        seen = ops.matmul(seen, mats[1].transpose(0, 1))
    if H != oh:
        seen = ops.matmul(mats[0], seen)
        if ow == 1:
            seen = seen[..., :1, :].expand(*seen.shape)
    if H == oh or W == ow or ow == 1:   # what torch shows differs from the products
        y = y + (seen - y).detach()
    return y


@autocast_policy("none")   # (not on torch's autocast lists: its GEMMs stay as given)
@keeps_channels_last()
def interpolate(input: Tensor, size=None, scale_factor=None, mode: str = "nearest",
                align_corners: bool | None = None, recompute_scale_factor: bool | None = None,
                antialias: bool = False) -> Tensor:
    """Resample the spatial dims of (N, C, *spatial): 'nearest', 'nearest-exact', 'linear',
    'bilinear', 'bicubic', 'trilinear' (separable: one interpolation matrix per dim) or
    'area'.

    >>> interpolate(cadenza.ones(1, 1, 2, 2), scale_factor=2).shape
    cadenza.Size([1, 1, 4, 4])
    """
    if input.ndim < 3:
        raise ShapeError(f"interpolate: expected input (N, C, *spatial) with 1 to 3 spatial "
                         f"dims, got {fmt_shape(input.shape)}")
    nd = input.ndim - 2
    spatial = tuple(input.shape[2:])
    if antialias and not (mode in ("bilinear", "bicubic", "lanczos") and input.ndim == 4):
        raise ValueError("Anti-alias option is restricted to bilinear, bicubic, and lanczos "
                         "modes and requires a 4-D tensor as input")
    if mode in ("nearest", "nearest-exact", "area") and align_corners is not None:
        raise ValueError("interpolate: align_corners option can only be set with the "
                         "interpolating modes: linear | bilinear | bicubic | trilinear")
    if (size is None) == (scale_factor is None):
        raise ValueError("interpolate: expected exactly one of size or scale_factor, got "
                         f"size={size}, scale_factor={scale_factor}")
    if size is not None:
        out = ntuple(size, nd, "size", "interpolate")
        scales = [None] * nd
    else:
        sf = tuple(float(v) for v in scale_factor) if isinstance(scale_factor, (list, tuple)) \
            else (float(scale_factor),) * nd
        if len(sf) != nd:
            raise ValueError(f"interpolate: expected {nd} scale factors, got {scale_factor}")
        out = tuple(int(math.floor(n * f)) for n, f in zip(spatial, sf))
        scales = [None] * nd if recompute_scale_factor else [1.0 / f for f in sf]
    if mode == "lanczos" and nd == 2:
        if align_corners:
            raise ValueError("Lanczos mode does not support align_corners=True")
        if not antialias:
            raise ValueError("Lanczos mode requires antialias=True")
    if any(o <= 0 for o in out):
        raise RuntimeError(f"interpolate: input and output sizes should be greater than 0, "
                           f"got input {tuple(spatial)} and output {out}")
    if mode == "area":
        if nd == 1:
            return adaptive_avg_pool1d(input, out)
        if nd == 2:
            return adaptive_avg_pool2d(input, out)
        return adaptive_avg_pool3d(input, out)
    x = input
    if mode in ("nearest", "nearest-exact"):
        for i, (n, o) in enumerate(zip(spatial, out)):
            if n == o:
                continue
            # torch computes the source index in float32: floor(dst * scale), clamped
            sc = np.float32(scales[i]) if scales[i] is not None else np.float32(n) / np.float32(o)
            dst = np.arange(o, dtype=np.float32)
            if mode == "nearest-exact":
                dst = dst + np.float32(0.5)
            idx = np.minimum(np.floor(dst * sc).astype(np.int64), n - 1)
            x = x.index_select(2 + i, _const(idx))
        return x
    if mode in _LINEAR or mode in ("bicubic", "lanczos"):
        want = _LINEAR.get(mode, 2)
        if want != nd:
            raise ValueError(f"interpolate: mode={mode!r} expects {want} spatial dims, "
                             f"got input {fmt_shape(input.shape)}")
        dt = input._data.dtype
        weights = _cubic_matrix if mode == "bicubic" else _linear_matrix
        if antialias:
            return _interpolate_aa(input, spatial, out, scales, mode, bool(align_corners))
        if dt.kind in "iub" and not (dt == np.uint8 and mode in ("bilinear", "bicubic")):
            raise NotImplementedError(f"interpolate: mode={mode!r} is not implemented for "
                                      f"{dt.name} input (torch interpolates uint8 bilinear/"
                                      f"bicubic and floating point only)")
        if dt == np.uint8:   # torch's integer kernel, as antialias's (both separable passes)
            mats = [weights(n, o, sc if sc is not None else n / o, bool(align_corners),
                            np.float64)._data for n, o, sc in zip(spatial, out, scales)]
            return _const(_aa_uint8(np.asarray(input._data), mats, spatial[1] != out[1],
                                    spatial[0] != out[0]))
        for i, (n, o) in enumerate(zip(spatial, out)):
            sc = scales[i] if scales[i] is not None else n / o
            m = weights(n, o, sc, bool(align_corners), dt)  # (o, n)
            d = 2 + i
            if d == input.ndim - 1:
                x = ops.matmul(x, m.transpose(0, 1))
            elif d == input.ndim - 2:
                x = ops.matmul(m, x)
            else:
                x = ops.matmul(x.movedim(d, -1), m.transpose(0, 1)).movedim(-1, d)
        return x
    raise NotImplementedError(f"interpolate: mode={mode!r} is not supported; expected "
                              "'nearest', 'nearest-exact', 'linear', 'bilinear', 'bicubic', "
                              "'lanczos', 'trilinear' or 'area'")


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """Deprecated alias of interpolate.

    >>> upsample(cadenza.ones(1, 1, 2), scale_factor=2).shape
    cadenza.Size([1, 1, 4])
    """
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)
