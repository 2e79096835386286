"""Spatial transformer sampling (``affine_grid`` and ``grid_sample``) as composites: the
sampling grid is an affine map of a base grid (one matmul), and sampling gathers the corner
pixels with bilinear (or nearest) weights, so gradients reach both the input and the grid."""
from __future__ import annotations

import numpy as np

from .. import ops
from .._tensor_base import TensorBase as Tensor
from ..errors import ShapeError, fmt_shape
from .pool import _const

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


def grid_sample(input: Tensor, grid: Tensor, mode: str = "bilinear",
                padding_mode: str = "zeros", align_corners=None) -> Tensor:
    """Sample (N, C, H, W) at the normalised (x, y) locations of ``grid`` (N, Ho, Wo, 2)
    ([-1, 1] spans the input; align_corners puts -1 / 1 on the corner pixels' centres):
    'bilinear' or 'nearest', outside points from 'zeros', 'border' or 'reflection' padding.

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
    if input.ndim != 4 or grid.ndim != 4 or grid.shape[-1] != 2 or \
            grid.shape[0] != input.shape[0]:
        if input.ndim == 5:
            raise NotImplementedError("grid_sample: 5-d (volumetric) inputs are not supported "
                                      "by Cadenza yet; 4-d (N, C, H, W) inputs are")
        raise ShapeError(f"grid_sample: expected input (N, C, H, W) and grid (N, Ho, Wo, 2), "
                         f"got {fmt_shape(input.shape)} and {fmt_shape(grid.shape)}")
    if mode == "bicubic":
        raise NotImplementedError("grid_sample: mode='bicubic' is not supported by Cadenza "
                                  "yet; use 'bilinear' or 'nearest'")
    ac = bool(align_corners)
    N, C, H, W = input.shape
    Ho, Wo = grid.shape[1], grid.shape[2]
    x = _source(grid[..., 0], W, padding_mode, ac)                   # (N, Ho, Wo)
    y = _source(grid[..., 1], H, padding_mode, ac)
    flat = input.reshape(N, C, H * W)

    def pick(ix, iy):
        """input at integer (ix, iy) (float tensors), zero outside."""
        inside = (ix >= 0) & (ix <= W - 1) & (iy >= 0) & (iy <= H - 1)
        idx = (ops.clamp(iy, 0, H - 1) * W + ops.clamp(ix, 0, W - 1)).long()
        idx = idx.reshape(N, 1, Ho * Wo).expand(N, C, Ho * Wo)
        v = ops.gather(flat, 2, idx).reshape(N, C, Ho, Wo)
        return ops.where(inside.unsqueeze(1), v, 0.0)

    if mode == "nearest":
        # the grid gets a zero gradient (as torch's), not none
        return pick(ops.round(x.detach()), ops.round(y.detach())) + (x.sum() + y.sum()) * 0
    x0, y0 = ops.floor(x.detach()), ops.floor(y.detach())
    wx1, wy1 = x - x0, y - y0
    wx0, wy0 = 1 - wx1, 1 - wy1
    out = pick(x0, y0) * (wx0 * wy0).unsqueeze(1)
    out = out + pick(x0 + 1, y0) * (wx1 * wy0).unsqueeze(1)
    out = out + pick(x0, y0 + 1) * (wx0 * wy1).unsqueeze(1)
    return out + pick(x0 + 1, y0 + 1) * (wx1 * wy1).unsqueeze(1)
