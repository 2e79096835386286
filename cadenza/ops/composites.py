"""PyTorch's top-level functions that programs call and that are built from the other
primitives (no primitive of their own): distances (cdist, pdist, dist), matrix builders
(block_diag, kron, diag_embed, diagflat, vander, cross, chain_matmul), statistics (cov,
corrcoef, histc), integration (trapezoid, trapz, cumulative_trapezoid), index builders
(tril_indices, triu_indices, combinations, cartesian_prod) and rot90, atleast_3d."""
from __future__ import annotations

import builtins
import itertools

import numpy as np

from .._creation import zeros, eye, arange, tensor as _tensor
from .._tensor_base import TensorBase as Tensor, _norm_dim
from .._dispatch import state as _state
from .. import dtypes as _dt
from ..errors import ShapeError
from ..dtypes import result_type
from .join import cat, stack, meshgrid
from .linalg import matmul
from .reduce import norm, _sqrt0
from .views import movedim

__all__ = ["atleast_3d", "block_diag", "cartesian_prod", "cdist", "chain_matmul",
           "combinations", "corrcoef", "cov", "cross", "cumulative_trapezoid", "diag_embed",
           "diagflat", "dist", "histc", "kron", "pdist", "rot90", "trapezoid", "trapz",
           "tril_indices", "triu_indices", "vander"]


# ----------------------------------------------------------------------------- distances
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
    i, j = np.triu_indices(input.shape[0], 1)
    return norm(input[_tensor(i)] - input[_tensor(j)], p, -1)


def dist(input, other, p=2):
    return norm(input - other, p)


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


def kron(input, other):
    """The Kronecker product: block (i, j...) is input[i, j...] * other."""
    nd = builtins.max(input.ndim, other.ndim)
    a = input.reshape((1,) * (nd - input.ndim) + tuple(input.shape))
    b = other.reshape((1,) * (nd - other.ndim) + tuple(other.shape))
    a2 = a.reshape(tuple(s for d in a.shape for s in (d, 1)))
    b2 = b.reshape(tuple(s for d in b.shape for s in (1, d)))
    return (a2 * b2).reshape(tuple(x * y for x, y in zip(a.shape, b.shape)))


def diag_embed(input, offset=0, dim1=-2, dim2=-1):
    """Matrices whose diagonal (offset) is the last dim of input, placed at dims dim1, dim2."""
    n = input.shape[-1] + builtins.abs(offset)
    e = eye(n, dtype=input.dtype)
    # the (k, k + offset) entries of an n x n matrix, k along input's last dim
    sel = np.zeros((input.shape[-1], n, n), dtype=bool)
    k = np.arange(input.shape[-1])
    r, c = (k, k + offset) if offset >= 0 else (k - offset, k)
    sel[k, r, c] = True
    out = (input.unsqueeze(-1).unsqueeze(-1) * _tensor(sel.astype(e._data.dtype))).sum(-3)
    nd = out.ndim
    d1, d2 = _norm_dim(dim1, nd, "diag_embed"), _norm_dim(dim2, nd, "diag_embed")
    if (d1, d2) != (nd - 2, nd - 1):
        out = movedim(out, (nd - 2, nd - 1), (d1, d2))
    return out


def diagflat(input, offset=0):
    return diag_embed(input.reshape(-1), offset)


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


def cross(input, other, dim=None):
    """Cross product of 3-vectors along dim (default: the first dim of size 3)."""
    if dim is None:
        dim = next((d for d in range(input.ndim) if input.shape[d] == 3 and
                    other.shape[d] == 3), None) if input.ndim == other.ndim else None
        if dim is None:
            raise RuntimeError("no dimension of size 3 in input")
    d = _norm_dim(dim, input.ndim, "cross")
    if input.shape[d] != 3 or other.shape[d] != 3:
        raise ShapeError(f"linalg.cross: inputs dimension {dim} must have length 3. Got "
                         f"{input.shape[d]} and {other.shape[d]}")
    a0, a1, a2 = (input.narrow(d, i, 1) for i in range(3))
    b0, b1, b2 = (other.narrow(d, i, 1) for i in range(3))
    return cat([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], d)


def chain_matmul(*matrices, out=None):
    if len(matrices) == 1:
        return matrices[0].clone()
    result = matrices[0]
    for m in matrices[1:]:
        result = matmul(result, m)
    return result


# ----------------------------------------------------------------------------- statistics
def cov(input, *, correction=1, fweights=None, aweights=None):
    """Covariance of the rows (variables) over the columns (observations), with optional
    frequency and analytic weights."""
    if input.ndim > 2:
        raise RuntimeError(f"cov(): expected input to have two or fewer dimensions but got an "
                           f"input with {input.ndim} dimensions")
    x = input.reshape(1, -1) if input.ndim < 2 else input
    if not x.is_floating_point():
        x = x.to(_dt.get_default_dtype())
    n = x.shape[1]
    w = None
    if fweights is not None:
        w = fweights.to(x.dtype)
    if aweights is not None:
        w = aweights.to(x.dtype) if w is None else w * aweights.to(x.dtype)
    if w is None:
        avg = x.mean(1, keepdim=True)
        norm_ = n - correction
    else:
        wsum = w.sum()
        avg = (x * w).sum(1, keepdim=True) / wsum
        norm_ = wsum - correction if aweights is None else \
            wsum - correction * (w * aweights.to(x.dtype)).sum() / wsum
    xc = x - avg
    xw = xc if w is None else xc * w
    c = matmul(xw, xc.mT) / (norm_ if isinstance(norm_, Tensor) else builtins.max(norm_, 0))
    return c.reshape(()) if input.ndim < 2 else c


def corrcoef(input):
    c = cov(input)
    if c.ndim == 0:
        return c / c
    d = c.diagonal(0, -2, -1)
    sd = d.sqrt()
    return (c / sd.unsqueeze(1) / sd.unsqueeze(0)).clamp(-1, 1)


def histc(input, bins=100, min=0, max=0):
    """Counts of the elements in ``bins`` equal bins over [min, max] (the data's range when
    both are 0); elements outside are ignored. Not differentiable."""
    if bins <= 0:
        raise RuntimeError(f"torch.histc: bins must be > 0, but got {bins} for bins")
    if not input.is_floating_point():
        raise RuntimeError(f"torch.histc: input tensor and hist tensor should have the same "
                           f"dtype, but got input {input.dtype.name} and hist float")
    if _state.tracer is not None:  # the counts are Python-side NumPy of the values
        _state.tracer.concrete(input, "histc()")
    a = input.detach()._host().reshape(-1)
    lo, hi = float(min), float(max)
    if lo == hi and a.size:
        lo, hi = float(a.min()), float(a.max())
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    if lo > hi:
        raise RuntimeError(f"torch.histc: max must be larger than min, but got min {min} "
                           f"max {max}")
    counts, _ = np.histogram(a[np.isfinite(a)], bins=bins, range=(lo, hi))
    return _tensor(counts.astype(input._data.dtype))


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


def rot90(input, k=1, dims=(0, 1)):
    if len(dims) != 2:
        raise RuntimeError(f"expected total rotation dims == 2, but got dims = {len(dims)}")
    d0, d1 = (_norm_dim(d, input.ndim, "rot90") for d in dims)
    if d0 == d1:
        raise RuntimeError(f"expected rotation dims to be different, but got dim0 = {d0} and "
                           f"dim1 = {d1}")
    k %= 4
    if k == 1:
        return input.flip(d1).transpose(d0, d1)
    if k == 2:
        return input.flip(d0, d1)
    if k == 3:
        return input.flip(d0).transpose(d0, d1)
    return input.clone()


def atleast_3d(*tensors):
    def one(t):
        if t.ndim == 0:
            return t.reshape(1, 1, 1)
        if t.ndim == 1:
            return t.reshape(1, -1, 1)
        if t.ndim == 2:
            return t.unsqueeze(-1)
        return t
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    out = tuple(one(t) for t in tensors)
    return out[0] if len(out) == 1 else out


# ----------------------------------------------------------------------------- Tensor methods
class CompositeMethods:
    """cadenza.Tensor's methods for this module's functions (``x.f(...)`` is ``f(x, ...)``);
    ``cadenza/_tensor.py`` composes them."""
    __slots__ = ()

    cross = cross
    dist = dist
    kron = kron
    diag_embed = diag_embed
    diagflat = diagflat
    cov = cov
    corrcoef = corrcoef
    histc = histc
    rot90 = rot90
