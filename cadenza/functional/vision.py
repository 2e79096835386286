"""Spatial transformer sampling (``affine_grid`` and ``grid_sample``) as composites: the
sampling grid is an affine map of a base grid (one matmul), and sampling gathers the corner
pixels (4-d or 5-d) with bilinear/trilinear, nearest or bicubic weights, so gradients reach
both the input and the grid."""
from __future__ import annotations

import itertools

import numpy as np

from .. import ops
from .._tensor_base import TensorBase as Tensor
from ..errors import ShapeError, fmt_shape
from .pool import _const, _cubic_weights

__all__ = ["affine_grid", "grid_sample"]

GRID_SAMPLE_INTERPOLATION_MODES = {"bilinear": 0, "nearest": 1, "bicubic": 2}
GRID_SAMPLE_PADDING_MODES = {"zeros": 0, "border": 1, "reflection": 2}


def _base(n, align_corners, dtype):
    """Normalised pixel-centre coordinates in [-1, 1] of n pixels."""
    if align_corners:
        return np.linspace(-1.0, 1.0, n, dtype=dtype) if n > 1 else np.zeros(1, dtype)
    return ((np.arange(n, dtype=np.float64) * 2 + 1) / n - 1).astype(dtype)


def affine_grid(theta: Tensor, size, align_corners=None) -> Tensor:
    """The sampling grid (N, H, W, 2) (or (N, D, H, W, 3)) of the affine maps ``theta``
    (N, 2, 3) (or (N, 3, 4)) applied to the output's normalised pixel coordinates.

    >>> affine_grid(cadenza.tensor([[[1.0, 0, 0], [0, 1, 0]]]), (1, 1, 2, 2),
    ...             align_corners=True)[0, :, :, 0]
    tensor([[-1.,  1.],
            [-1.,  1.]])
    """
    ac = bool(align_corners)
    size = tuple(int(v) for v in size)
    dt = theta._data.dtype
    if len(size) == 4:
        if theta.ndim != 3 or tuple(theta.shape[1:]) != (2, 3) or theta.shape[0] != size[0]:
            raise ValueError(f"Expected a batch of 2D affine matrices of shape Nx2x3 for size "
                             f"{size}. Got {fmt_shape(theta.shape)}.")
        N, _, H, W = size
        ys, xs = np.meshgrid(_base(H, ac, dt), _base(W, ac, dt), indexing="ij")
        base = np.stack([xs, ys, np.ones_like(xs)], -1).reshape(1, H * W, 3)
        out = ops.matmul(_const(base), theta.transpose(1, 2))        # (N, H*W, 2)
        return out.reshape(N, H, W, 2)
    if len(size) == 5:
        if theta.ndim != 3 or tuple(theta.shape[1:]) != (3, 4) or theta.shape[0] != size[0]:
            raise ValueError(f"Expected a batch of 3D affine matrices of shape Nx3x4 for size "
                             f"{size}. Got {fmt_shape(theta.shape)}.")
        N, _, D, H, W = size
        zs, ys, xs = np.meshgrid(_base(D, ac, dt), _base(H, ac, dt), _base(W, ac, dt),
                                 indexing="ij")
        base = np.stack([xs, ys, zs, np.ones_like(xs)], -1).reshape(1, D * H * W, 4)
        out = ops.matmul(_const(base), theta.transpose(1, 2))
        return out.reshape(N, D, H, W, 3)
    raise NotImplementedError(f"affine_grid only supports 4D and 5D sizes, for 2D and 3D "
                              f"affine transforms, respectively. Got size {size}.")


def _unnormalize(c, n, align_corners):
    return (c + 1) * ((n - 1) / 2) if align_corners else ((c + 1) * n - 1) / 2


def _reflect(c, twice_low, twice_high):
    """torch's reflect_coordinates: fold c into [twice_low / 2, twice_high / 2]."""
    if twice_low == twice_high:
        return c * 0
    lo = twice_low / 2
    span = (twice_high - twice_low) / 2
    c = (c - lo).abs()
    extra = ops.fmod(c, span)
    flips = ops.floor(c / span)
    even = ops.fmod(flips, 2) == 0
    return ops.where(even, extra + lo, span - extra + lo)


def _source(c, n, padding_mode, align_corners):
    c = _unnormalize(c, n, align_corners)
    if padding_mode == "border":
        c = ops.clamp(c, 0, n - 1)
    elif padding_mode == "reflection":
        c = _reflect(c, 0, 2 * (n - 1)) if align_corners else _reflect(c, -1, 2 * n - 1)
        c = ops.clamp(c, 0, n - 1)
    return c


def _pad_taps(c, n, padding_mode, align_corners):
    """torch's compute_coordinates for the integer taps of bicubic sampling (no gradient)."""
    if padding_mode == "border":
        return ops.clamp(c, 0, n - 1)
    if padding_mode == "reflection":
        c = _reflect(c, 0, 2 * (n - 1)) if align_corners else _reflect(c, -1, 2 * n - 1)
        return ops.clamp(c, 0, n - 1)
    return c


def grid_sample(input: Tensor, grid: Tensor, mode: str = "bilinear",
                padding_mode: str = "zeros", align_corners=None) -> Tensor:
    """Sample (N, C, H, W) at the normalised (x, y) locations of ``grid`` (N, Ho, Wo, 2)
    (or (N, C, D, H, W) at (x, y, z) of (N, Do, Ho, Wo, 3)); [-1, 1] spans the input,
    align_corners puts -1 / 1 on the corner pixels' centres: 'bilinear' (trilinear in 3-d),
    'nearest' or 'bicubic' (4-d only; cubic convolution A = -0.75 on a 4x4 neighbourhood),
    outside points from 'zeros', 'border' or 'reflection' padding.

    >>> x = cadenza.arange(4.0).reshape(1, 1, 2, 2)
    >>> grid_sample(x, cadenza.zeros(1, 1, 1, 2), align_corners=True)
    tensor([[[[1.5000]]]])
    """
    if mode not in GRID_SAMPLE_INTERPOLATION_MODES:
        raise ValueError(f"nn.functional.grid_sample(): expected mode to be 'bilinear', "
                         f"'nearest' or 'bicubic', but got: '{mode}'")
    if padding_mode not in GRID_SAMPLE_PADDING_MODES:
        raise ValueError(f"nn.functional.grid_sample(): expected padding_mode to be 'zeros', "
                         f"'border', or 'reflection', but got: '{padding_mode}'")
    shapes = f"input with sizes {list(input.shape)} and grid with sizes {list(grid.shape)}"
    if input.ndim not in (4, 5) or grid.ndim != input.ndim:
        raise ShapeError(f"grid_sampler(): expected 4D or 5D input and grid with same number "
                         f"of dimensions, but got {shapes}")
    nd = input.ndim - 2
    if grid.shape[-1] != nd:
        raise ShapeError(f"grid_sampler(): expected grid to have size {nd} in last "
                         f"dimension, but got grid with sizes {list(grid.shape)}")
    if grid.shape[0] != input.shape[0]:
        raise ShapeError(f"grid_sampler(): expected grid and input to have same batch size, "
                         f"but got {shapes}")
    if mode == "bicubic" and nd == 3:
        raise ShapeError("grid_sampler(): bicubic interpolation only supports 4D input")
    ac = bool(align_corners)
    N, C = input.shape[:2]
    sizes = tuple(input.shape[2:])[::-1]                  # (W, H[, D]): grid's coordinate order
    out_sp = tuple(grid.shape[1:-1])
    P = int(np.prod(out_sp))
    flat = input.reshape(N, C, -1)

    def pick(coords):
        """input at integer coordinates (float tensors (N, *out), x first), zero outside."""
        inside, idx, stride = None, 0, 1
        for c, n in zip(coords, sizes):
            ok = (c >= 0) & (c <= n - 1)
            inside = ok if inside is None else inside & ok
            idx = idx + ops.clamp(c, 0, n - 1) * stride
            stride *= n
        idx = idx.long().reshape(N, 1, P).expand(N, C, P)
        v = ops.gather(flat, 2, idx).reshape(N, C, *out_sp)
        return ops.where(inside.unsqueeze(1), v, 0.0)

    if mode == "bicubic":
        src = [_unnormalize(grid[..., k], n, ac) for k, n in enumerate(sizes)]
        base = [ops.floor(c.detach()) for c in src]
        wts = [_cubic_weights(c - b) for c, b in zip(src, base)]
        taps = [[_pad_taps(b + k, n, padding_mode, ac) for k in range(-1, 3)]
                for b, n in zip(base, sizes)]
        out = 0
        for j in range(4):
            for i in range(4):
                out = out + pick((taps[0][i], taps[1][j])) * (wts[0][i] * wts[1][j]).unsqueeze(1)
        return out
    src = [_source(grid[..., k], n, padding_mode, ac) for k, n in enumerate(sizes)]
    if mode == "nearest":
        # the grid gets a zero gradient (as torch's), not none
        return pick([ops.round(c.detach()) for c in src]) + sum(c.sum() for c in src) * 0
    lo = [ops.floor(c.detach()) for c in src]
    hi_w = [c - f for c, f in zip(src, lo)]
    out = 0
    for corner in itertools.product((0, 1), repeat=nd):
        w = None
        for k, b in enumerate(corner):
            wk = hi_w[k] if b else 1 - hi_w[k]
            w = wk if w is None else w * wk
        out = out + pick([f + b for f, b in zip(lo, corner)]) * w.unsqueeze(1)
    return out
