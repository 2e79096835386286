"""PyTorch's top-level functions that programs call and that are built from the other
primitives (no primitive of their own): distances (cdist, pdist, dist), matrix builders
(block_diag, kron, diag_embed, diagflat, vander, cross, chain_matmul), statistics (cov,
corrcoef, histc), integration (trapezoid, trapz, cumulative_trapezoid) and differentiation
(gradient), index builders
(tril_indices, triu_indices, combinations, cartesian_prod) and rot90, atleast_3d."""
from __future__ import annotations

import builtins
import itertools

import numpy as np

from .._creation import zeros, tensor as _tensor
from .._creation import writes_out
from .._tensor_base import TensorBase as Tensor, _norm_dim
from .. import dtypes as _dt
from ._registry import autocast_policy
from ..errors import ShapeError
from ..dtypes import result_type
from .join import cat, stack, meshgrid
from .linalg import matmul
from .views import _atleast
from .reduce import norm, _sqrt0

# (cross, dist, kron, diag_embed, diagflat, cov, corrcoef, histc and rot90 are Tensor methods
# too: they live with them in ops/products.py, ops/scatters.py, ops/stats.py and ops/shape.py)
__all__ = ["atleast_3d", "block_diag", "cartesian_prod", "cdist", "chain_matmul",
           "combinations", "cumulative_trapezoid", "gradient", "pdist", "trapezoid", "trapz",
           "tril_indices", "triu_indices", "vander"]


# ----------------------------------------------------------------------------- distances
@autocast_policy("fp32")
def cdist(x1, x2, p=2.0, compute_mode="use_mm_for_euclid_dist_if_necessary"):
    """p-norm distances between the rows of x1 (..., P, M) and x2 (..., R, M): (..., P, R)."""
    if x1.ndim < 2 or x2.ndim < 2 or x1.shape[-1] != x2.shape[-1]:
        raise ShapeError(f"cdist only supports at least 2D tensors with the same number of "
                         f"columns, got X1 {tuple(x1.shape)} and X2 {tuple(x2.shape)}")
    if p < 0:
        raise RuntimeError(f"cdist only supports non-negative p values, got {p}")
    use_mm = p == 2 and (compute_mode == "use_mm_for_euclid_dist" or (
        compute_mode == "use_mm_for_euclid_dist_if_necessary" and
        (x1.shape[-2] > 25 or x2.shape[-2] > 25)))
    if use_mm:
        # as PyTorch: |a|^2 + |b|^2 - 2 a.b through one matmul, not a (P, R, M) difference
        sq = (x1 * x1).sum(-1, keepdim=True) + (x2 * x2).sum(-1).unsqueeze(-2) \
            - 2 * matmul(x1, x2.mT)
        return _sqrt0(sq.clamp(min=0))
    return norm(x1.unsqueeze(-2) - x2.unsqueeze(-3), p, -1)


def pdist(input, p=2):
    """Distances between every pair of rows i < j of an (N, M) input, flattened."""
    if input.ndim != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {input.ndim}D")
    if p < 0:
        raise RuntimeError("pdist only supports non-negative p values")
    i, j = np.triu_indices(input.shape[0], 1)
    return norm(input[_tensor(i)] - input[_tensor(j)], p, -1)


# ----------------------------------------------------------------------------- matrix builders
def block_diag(*tensors):
    """The tensors (0-d, 1-d as a row, or 2-d) along the diagonal of one matrix."""
    mats = []
    for k, t in enumerate(tensors):
        if t.ndim > 2:
            raise RuntimeError(f"torch.block_diag: Input tensors must have 2 or fewer "
                               f"dimensions. Input {k} has {t.ndim} dimensions")
        mats.append(t.reshape(1, 1) if t.ndim == 0 else t.reshape(1, -1) if t.ndim == 1 else t)
    if not mats:
        return zeros(1, 0)
    dt = result_type(*mats)
    width = builtins.sum(m.shape[1] for m in mats)
    rows, left = [], 0
    for m in mats:
        r, c = m.shape
        parts = [zeros(r, left, dtype=dt), m.to(dt), zeros(r, width - left - c, dtype=dt)]
        rows.append(cat(parts, 1))
        left += c
    return cat(rows, 0)


def vander(x, N=None, increasing=False):
    """Powers of a 1-d x: x^(N-1) ... x^0 per row (increasing=True: x^0 first)."""
    if x.ndim != 1:
        raise RuntimeError("x must be a one-dimensional tensor.")
    n = x.shape[0] if N is None else N
    if n < 0:
        raise RuntimeError("N must be non-negative.")
    powers = np.arange(n) if increasing else np.arange(n)[::-1].copy()
    dt = x.dtype if x.is_floating_point() else _dt.int64
    base = x.to(dt).unsqueeze(-1)
    if n == 0:
        return zeros(x.shape[0], 0, dtype=dt)
    return base ** _tensor(powers, dtype=dt)


@writes_out(policy="any")
def chain_matmul(*matrices, out=None):
    if len(matrices) == 1:
        return matrices[0].clone()
    result = matrices[0]
    for m in matrices[1:]:
        result = matmul(result, m)
    return result


# ----------------------------------------------------------------------------- statistics
# ----------------------------------------------------------------------------- integration
def _trap_parts(y, x, dx, dim):
    d = _norm_dim(dim, y.ndim, "trapezoid")
    n = y.shape[d]
    mids = (y.narrow(d, 1, n - 1) + y.narrow(d, 0, n - 1)) / 2 if n else y
    if x is None:
        return mids * (1.0 if dx is None else dx), d
    if x.ndim == 1:
        dxs = x[1:] - x[:-1]
        shape = [1] * y.ndim
        shape[d] = n - 1
        dxs = dxs.reshape(shape)
    else:
        dxs = x.narrow(d, 1, n - 1) - x.narrow(d, 0, n - 1)
    return mids * dxs, d


def trapezoid(y, x=None, *, dx=None, dim=-1):
    if x is not None and not isinstance(x, Tensor):
        raise TypeError(f"trapezoid(): argument 'x' must be a Tensor (or pass the spacing as "
                        f"dx=), not {type(x).__name__}")
    if y.shape[_norm_dim(dim, y.ndim, "trapezoid")] == 0:
        return y.sum(dim)
    parts, d = _trap_parts(y, x, dx, dim)
    return parts.sum(d)


def trapz(y, x=None, *, dx=None, dim=-1):
    return trapezoid(y, x, dx=dx, dim=dim)


def cumulative_trapezoid(y, x=None, *, dx=None, dim=-1):
    if x is not None and not isinstance(x, Tensor):
        raise TypeError(f"cumulative_trapezoid(): argument 'x' must be a Tensor (or pass the "
                        f"spacing as dx=), not {type(x).__name__}")
    parts, d = _trap_parts(y, x, dx, dim)
    return parts.cumsum(d)


# ----------------------------------------------------------------------------- gradient
def gradient(input, *, spacing=1, dim=None, edge_order=1):
    """Estimates of the derivative of ``input`` along each dim of ``dim`` (all by default), one
    tensor per dim: second-order central differences inside, first- or second-order
    (``edge_order``) one-sided differences at the ends, as numpy.gradient. ``spacing``: one
    number for every dim, a number per dim, or a 1-d tensor of coordinates per dim."""
    dims = list(range(input.ndim)) if dim is None else \
        [dim] if isinstance(dim, int) else list(dim)
    dims = [_norm_dim(d, input.ndim, "gradient") for d in dims]
    if isinstance(spacing, (list, tuple)):
        if len(spacing) != len(dims):
            what = "since dim argument was not given" if dim is None else \
                "the length of dim"
            raise RuntimeError(f"torch.gradient expected spacing to be unspecified, a scalar, "
                               f"or a list of length equal to 'self.dim() = {input.ndim}', "
                               f"{what}, but got a list of length {len(spacing)}")
        spacings = list(spacing)
    else:
        spacings = [spacing] * len(dims)
    if edge_order not in (1, 2):
        raise RuntimeError("torch.gradient only supports edge_order=1 and edge_order=2.")
    for d in dims:
        if input.shape[d] < edge_order + 1:
            raise RuntimeError("torch.gradient expected each dimension size to be at least "
                               "edge_order+1")
    f = input if input.is_floating_point() or input.is_complex() else \
        input.to(_dt.get_default_dtype())
    return tuple(_gradient_1d(f, d, h, edge_order) for d, h in zip(dims, spacings))


def _gradient_1d(f, d, h, edge_order):
    n = f.shape[d]

    def at(start, length):
        return f.narrow(d, start, length)

    if not isinstance(h, Tensor):
        h = h.item() if isinstance(h, np.generic) else h
        inner = (at(2, n - 2) - at(0, n - 2)) / (2 * h)
        if edge_order == 1:
            first = (at(1, 1) - at(0, 1)) / h
            last = (at(n - 1, 1) - at(n - 2, 1)) / h
        else:
            first = (at(0, 1) * -1.5 + at(1, 1) * 2 - at(2, 1) * 0.5) / h
            last = (at(n - 3, 1) * 0.5 - at(n - 2, 1) * 2 + at(n - 1, 1) * 1.5) / h
        return cat([first, inner, last], d)
    # coordinates: numpy.gradient's non-uniform formulas
    shape = [1] * f.ndim
    shape[d] = -1
    dx = (h[1:] - h[:-1]).to(f.dtype)

    def col(v):
        return v.reshape(shape)
    hd, hs = dx[:-1], dx[1:]
    a = -hs / (hd * (hd + hs))
    b = (hs - hd) / (hd * hs)
    c = hd / (hs * (hd + hs))
    inner = col(a) * at(0, n - 2) + col(b) * at(1, n - 2) + col(c) * at(2, n - 2)
    if edge_order == 1:
        first = (at(1, 1) - at(0, 1)) / col(dx[:1])
        last = (at(n - 1, 1) - at(n - 2, 1)) / col(dx[-1:])
    else:
        d1, d2 = dx[:1], dx[1:2]
        first = col(-(2 * d1 + d2) / (d1 * (d1 + d2))) * at(0, 1) + \
            col((d1 + d2) / (d1 * d2)) * at(1, 1) + col(-d1 / (d2 * (d1 + d2))) * at(2, 1)
        d1, d2 = dx[-2:-1], dx[-1:]
        last = col(d2 / (d1 * (d1 + d2))) * at(n - 3, 1) + \
            col(-(d2 + d1) / (d1 * d2)) * at(n - 2, 1) + \
            col((2 * d2 + d1) / (d2 * (d1 + d2))) * at(n - 1, 1)
    return cat([first, inner, last], d)


# ----------------------------------------------------------------------------- index builders
def _tri_indices(row, col, offset, dtype, upper):
    r, c = np.nonzero(np.triu(np.ones((row, col), bool), offset) if upper else
                      np.tril(np.ones((row, col), bool), offset))
    return _tensor(np.stack([r, c]).reshape(2, -1), dtype=dtype or _dt.int64)


def tril_indices(row, col, offset=0, *, dtype=None, device=None, layout=None):
    return _tri_indices(row, col, offset, dtype, False)


def triu_indices(row, col, offset=0, *, dtype=None, device=None, layout=None):
    return _tri_indices(row, col, offset, dtype, True)


def combinations(input, r=2, with_replacement=False):
    """All length-r combinations of a 1-d tensor's elements, one per row."""
    if input.ndim != 1:
        raise RuntimeError(f"Expect a 1D vector, but got shape {list(input.shape)}")
    if r < 0:
        raise RuntimeError(f"Expect a non-negative number, but got {r}")
    if r == 0:
        return zeros(0, dtype=input.dtype)
    gen = itertools.combinations_with_replacement if with_replacement else \
        itertools.combinations
    idx = np.array(list(gen(range(input.shape[0]), r)), dtype=np.int64).reshape(-1, r)
    return input[_tensor(idx)]


def cartesian_prod(*tensors):
    if len(tensors) == 1:
        return tensors[0]
    grids = meshgrid(*tensors, indexing="ij")
    return stack([g.reshape(-1) for g in grids], 1)


def atleast_3d(*tensors):
    def one(t):
        if t.ndim == 0:
            return t.reshape(1, 1, 1)
        if t.ndim == 1:
            return t.reshape(1, -1, 1)
        if t.ndim == 2:
            return t.unsqueeze(-1)
        return t
    return _atleast("atleast_3d", one, tensors)


# ----------------------------------------------------------------------------- Tensor methods
