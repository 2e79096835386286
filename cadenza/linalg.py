"""``torch.linalg``: norms, inverses, determinants, solvers and decompositions of batches of
matrices (leading batch dims), float32/float64, with autograd.

The primitives (inv, det, slogdet, solve, solve_triangular, cholesky, qr, svd, eigh, eig,
matrix_exp) and PyTorch's top-level forms (``torch.det``, ``torch.svd``...) live in
``cadenza/ops/decomp.py``; this module is the namespace and the composites over them. A failed
factorization (a singular matrix, one that is not positive-definite) raises ``LinAlgError``, a
RuntimeError as in PyTorch.
"""
from __future__ import annotations

import builtins
import math
from collections import namedtuple

import numpy as np

from .errors import LinAlgError, ShapeError
from ._creation import zeros, arange, tensor as _tensor_of
from ._creation import writes_out
from .ops import decomp as _d
from .ops.decomp import (det, slogdet, matrix_exp, svdvals, pinv, solve_triangular,
                         check_matrix, check_float)
from .ops.linalg import matmul
from .ops.reduce import norm as _vnorm
from .ops.shape import diagonal as _diagonal
from .ops.views import movedim, broadcast_tensors
from .ops.products import cross as _cross
from .dtypes import int32

__all__ = ["LinAlgError", "cholesky", "cholesky_ex", "cond", "cross", "det", "diagonal",
           "eig", "eigvals", "eigh", "eigvalsh", "householder_product", "inv", "inv_ex", "lstsq",
           "ldl_factor", "ldl_factor_ex", "ldl_solve",
           "lu", "lu_factor", "lu_factor_ex", "lu_solve", "matmul", "matrix_exp",
           "matrix_norm", "matrix_power", "matrix_rank", "multi_dot", "norm", "pinv", "qr",
           "slogdet", "solve", "solve_ex", "solve_triangular", "svd", "svdvals", "tensorinv",
           "tensorsolve", "vander", "vecdot", "vector_norm"]

_ex = {n: namedtuple(n, fields) for n, fields in (
    ("inv_ex", ["inverse", "info"]), ("cholesky_ex", ["L", "info"]),
    ("solve_ex", ["result", "info"]),
    ("lstsq", ["solution", "residuals", "rank", "singular_values"]),
    ("lu_factor_ex", ["LU", "pivots", "info"]))}


# ----------------------------------------------------------------------------- inverses, solvers
@writes_out
def inv(A, *, out=None):
    return _d.linalg_inv(A)


@writes_out
def solve(A, B, *, left=True, out=None):
    return _d.linalg_solve(A, B, left=left)


@writes_out
def cholesky(A, *, upper=False, out=None):
    return _d.linalg_cholesky(A, upper=upper)


def _info_zeros(A):
    return zeros(*A.shape[:-2], dtype=int32, device=A.device)


def _ex_call(name, fn, A, check_errors):
    """``*_ex``: (result, info) with info 0 per matrix; a failure raises when check_errors,
    else gives a NaN result and info 1 (PyTorch reports the failing LAPACK step in info)."""
    try:
        return _ex[name](fn(), _info_zeros(A))
    except LinAlgError:
        if check_errors:
            raise
        return _ex[name](A.detach() * float("nan"), _info_zeros(A) + 1)


@writes_out
def inv_ex(A, *, check_errors=False, out=None):
    return _ex_call("inv_ex", lambda: inv(A), A, check_errors)


@writes_out
def cholesky_ex(A, *, upper=False, check_errors=False, out=None):
    return _ex_call("cholesky_ex", lambda: cholesky(A, upper=upper), A, check_errors)


@writes_out
def solve_ex(A, B, *, left=True, check_errors=False, out=None):
    return _ex_call("solve_ex", lambda: solve(A, B, left=left), A, check_errors)


def lstsq(A, B, rcond=None, *, driver=None):
    """Least-squares solution of A X = B through the pseudo-inverse (PyTorch's default CPU
    driver 'gelsy': residuals and singular_values are empty, rank is computed)."""
    check_matrix("linalg.lstsq", A)
    check_float("linalg.lstsq", A, B)
    vec = B._data.ndim == A._data.ndim - 1
    b = B.unsqueeze(-1) if vec else B
    if b._data.ndim < 2 or b.shape[-2] != A.shape[-2]:
        raise ShapeError(f"torch.linalg.lstsq: input.size(-2) should match other.size(-2), got "
                         f"{A.shape[-2]} and {tuple(B.shape)}")
    if rcond is None:
        rcond = np.finfo(A._data.dtype).eps * builtins.max(A.shape[-2], A.shape[-1])
    x = matmul(pinv(A, rtol=rcond), b)
    # empty residuals, a view of the solution (in the graph, as PyTorch's)
    residuals = x.reshape(-1).narrow(0, 0, 0)
    return _ex["lstsq"](x.squeeze(-1) if vec else x, residuals, matrix_rank(A, rtol=rcond),
                        zeros(0, dtype=A.dtype))


@writes_out
def tensorinv(A, ind=2, *, out=None):
    if ind <= 0:
        raise RuntimeError(f"Expected a strictly positive integer for 'ind', but got {ind}")
    lead, rest = tuple(A.shape[:ind]), tuple(A.shape[ind:])
    if math.prod(lead) != math.prod(rest):
        raise RuntimeError(f"Expected self to satisfy the requirement prod(self.shape[ind:]) == "
                           f"prod(self.shape[:ind]), but got {math.prod(rest)} != "
                           f"{math.prod(lead)}")
    return inv(A.reshape(math.prod(lead), math.prod(rest))).reshape(rest + lead)


@writes_out
def tensorsolve(A, B, dims=None, *, out=None):
    if dims is not None:
        dims = [d % A.ndim for d in dims]
        A = movedim(A, dims, list(range(A.ndim - len(dims), A.ndim)))
    rest = tuple(A.shape[B.ndim:])
    n = math.prod(B.shape)
    if math.prod(rest) != n:
        raise RuntimeError(f"Expected self to satisfy the requirement prod(self.shape[other.ndim:])"
                           f" == prod(self.shape[:other.ndim]), but got {math.prod(rest)} != {n}")
    return solve(A.reshape(n, n), B.reshape(n)).reshape(rest)


# ----------------------------------------------------------------------------- decompositions
@writes_out
def lu(A, *, pivot=True, out=None):
    return _d.linalg_lu(A, pivot=pivot)[0]


@writes_out
def lu_factor(A, *, pivot=True, out=None):
    return _d.lu_factor(A, pivot=pivot)


@writes_out
def lu_factor_ex(A, *, pivot=True, check_errors=False, out=None):
    LU, piv = _d.lu_factor(A, pivot=pivot)
    return _ex["lu_factor_ex"](LU, piv, _info_zeros(A))


@writes_out
def lu_solve(LU, pivots, B, *, left=True, adjoint=False, out=None):
    return _d.linalg_lu_solve(LU, pivots, B, left=left, adjoint=adjoint)


@writes_out
def qr(A, mode="reduced", *, out=None):
    return _d.linalg_qr(A, mode)


@writes_out
def svd(A, full_matrices=True, *, driver=None, out=None):
    return _d.linalg_svd(A, full_matrices)


@writes_out
def householder_product(A, tau, *, out=None):
    """The first n columns of the product of the Householder reflectors (A, tau): LAPACK's
    orgqr (``cadenza.ops.decomp.orgqr``)."""
    return _d.orgqr(A, tau)


@writes_out
def eigh(A, UPLO="L", *, out=None):
    return _d.linalg_eigh(A, UPLO)


@writes_out
def eig(A, *, out=None):
    return _d.linalg_eig(A)


@writes_out
def eigvals(A, *, out=None):
    return _d.linalg_eigvals(A)


@writes_out
def eigvalsh(A, UPLO="L", *, out=None):
    return _d.linalg_eigh(A, UPLO).eigenvalues


@writes_out
def matrix_power(A, n, *, out=None):
    return _d.matrix_power(A, n)


@writes_out
def matrix_rank(A, *, atol=None, rtol=None, hermitian=False, out=None, tol=None):
    """The number of singular values above max(atol, rtol * s_max) (rtol defaults to
    eps * max(m, n) when atol is not given), as int64."""
    check_matrix("linalg.matrix_rank", A)
    if tol is not None:
        atol, rtol = tol, 0.0
    s = svdvals(A.detach())
    if rtol is None:
        rtol = 0.0 if atol is not None and not (not hasattr(atol, "shape") and atol == 0) else \
            np.finfo(A._data.dtype).eps * builtins.max(A.shape[-2], A.shape[-1])
    smax = s.amax(-1, keepdim=True) if s.shape[-1] else s
    tol_ = smax * rtol
    if atol is not None:
        tol_ = tol_.clamp(min=atol) if not hasattr(atol, "shape") else \
            tol_.maximum(atol.unsqueeze(-1))
    return (s > tol_).long().sum(-1)


def cond(A, p=None):
    """Condition number: s_max / s_min for p None or 2 (s_min / s_max for -2), else
    norm(A, p) * norm(inv(A), p). An empty matrix's is 0 (square ones only for 'fro' and
    'nuc', as torch)."""
    check_matrix("linalg.cond", A)
    if A.numel() == 0:
        if p in ("fro", "nuc") and A.shape[-1] != A.shape[-2]:
            raise RuntimeError(f"linalg.cond(ord={p}): A must be batches of square matrices, "
                               f"but they are {A.shape[-2]} by {A.shape[-1]} matrices")
        return A.abs().sum((-2, -1))   # zeros of the batch shape, real
    if p in (None, 2, -2):
        s = svdvals(A)
        big, small = s.amax(-1), s.amin(-1)
        return small / big if p == -2 else big / small
    return matrix_norm(A, p) * matrix_norm(inv(A), p)


# ----------------------------------------------------------------------------- norms
@writes_out
def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None, out=None):
    if isinstance(ord, str):
        raise RuntimeError(f"linalg.vector_norm: Expected a scalar ord, got {ord!r}")
    return _vnorm(x, float(ord), dim, keepdim, dtype)


def _amax0(t):
    """amax over the last dim, 0 where it is empty (the largest of no non-negative numbers, as
    torch's matrix norms give; the smallest of none stays an error)."""
    return t.amax(-1) if t.shape[-1] else t.sum(-1)


@writes_out
def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None, out=None):
    check_matrix("linalg.matrix_norm", A)
    if dtype is not None:
        A = A.to(dtype)
    if len(dim) != 2:
        raise RuntimeError(f"linalg.matrix_norm: dim must be a 2-tuple. Got {dim}")
    d0, d1 = dim[0] % A.ndim, dim[1] % A.ndim
    if d0 == d1:
        raise RuntimeError(f"linalg.matrix_norm: dims must be different. Got ({d0}, {d1})")
    if ord == "fro":
        return _vnorm(A, 2, (d0, d1), keepdim)
    x = movedim(A, (d0, d1), (-2, -1))
    if ord in ("nuc", 2, -2):
        s = svdvals(x)
        r = s.sum(-1) if ord == "nuc" else (_amax0(s) if ord == 2 else s.amin(-1))
    elif ord in (1, -1, math.inf, -math.inf):
        col = ord in (1, -1)
        sums = x.abs().sum(-2 if col else -1)
        r = _amax0(sums) if ord > 0 else sums.amin(-1)
    else:
        raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")
    if keepdim:
        for d in sorted((d0, d1)):
            r = r.unsqueeze(d)
    return r


@writes_out
def norm(A, ord=None, dim=None, keepdim=False, *, dtype=None, out=None):
    """The vector norm for a 1-d dim (or ord None over all elements), the matrix norm for a
    2-d dim (or ord given on a 2-d input)."""
    if isinstance(dim, int):
        dim = (dim,)
    if dim is not None and len(dim) == 2 or (dim is None and ord is not None and A.ndim == 2):
        return matrix_norm(A, "fro" if ord is None else ord, dim if dim is not None else (-2, -1),
                           keepdim, dtype=dtype)
    if dim is None and ord is not None and A.ndim != 1:
        raise RuntimeError(f"linalg.norm: If dim is not specified but ord is, the input must be "
                           f"1D or 2D. Got {A.ndim}D.")
    if isinstance(ord, str):
        raise RuntimeError(f"linalg.norm: Order {ord} not supported for a vector norm.")
    return vector_norm(A, 2 if ord is None else ord, dim, keepdim, dtype=dtype)


# ----------------------------------------------------------------------------- products
@writes_out
def cross(input, other, *, dim=-1, out=None):
    """Cross product of 3-vectors along dim (batch dims broadcast)."""
    a, b = broadcast_tensors(input, other)
    return _cross(a, b, dim)


@writes_out
def vecdot(x, y, *, dim=-1, out=None):
    return (x * y).sum(dim)


@writes_out
def multi_dot(tensors, *, out=None):
    if len(tensors) < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {len(tensors)}")
    first, last = tensors[0].ndim == 1, tensors[-1].ndim == 1
    ts = list(tensors)
    if first:
        ts[0] = ts[0].unsqueeze(0)
    if last:
        ts[-1] = ts[-1].unsqueeze(-1)
    for i, t in enumerate(ts):
        if t.ndim != 2:
            raise RuntimeError(f"multi_dot(): tensor {i} must be 2D but got {t.ndim}D")
    out_ = ts[0]
    for t in ts[1:]:
        out_ = matmul(out_, t)
    if first:
        out_ = out_.squeeze(0)
    if last:
        out_ = out_.squeeze(-1)
    return out_


def diagonal(A, *, offset=0, dim1=-2, dim2=-1):
    return _diagonal(A, offset, dim1, dim2)


def vander(x, *, N=None):
    """Powers x^0 .. x^(N-1) of the last dim (increasing, as torch.linalg.vander)."""
    n = x.shape[-1] if N is None else N
    if n < 1:
        raise RuntimeError("N must be greater than 1.")
    return x.unsqueeze(-1) ** arange(n, dtype=x.dtype if x.is_floating_point() else None)



# ----------------------------------------------------------------------------- LDL^T
_BK_ALPHA = (1 + math.sqrt(17)) / 8   # Bunch-Kaufman's growth bound
_ex["ldl_factor"] = namedtuple("linalg_ldl_factor", ["LD", "pivots"])
_ex["ldl_factor_ex"] = namedtuple("linalg_ldl_factor_ex", ["LD", "pivots", "info"])


def _swap_sym(a, k, kk, kp):
    """Swap rows and columns kk < kp of the symmetric trailing block a[k:, k:] (lower)."""
    a[kp + 1:, [kk, kp]] = a[kp + 1:, [kp, kk]]
    mid = a[kk + 1:kp, kk].copy()
    a[kk + 1:kp, kk] = a[kp, kk + 1:kp]
    a[kp, kk + 1:kp] = mid
    a[kk, kk], a[kp, kp] = a[kp, kp], a[kk, kk]
    if kk > k:   # (a 2x2 step: the column-k entries of the two rows too)
        a[kk, k], a[kp, k] = a[kp, k], a[kk, k]


def _bunch_kaufman(a):
    """Factor the symmetric matrix ``a`` (its lower triangle; overwritten) as P L D L^T P^T
    by Bunch-Kaufman diagonal pivoting with 1x1 and 2x2 blocks, LAPACK's sytrf layout: L's
    unit columns below D, pivots 1-based (a 2x2 block's two entries -(row swapped) both).
    Returns (pivots, info), info the first 1-based zero pivot or 0."""
    n = a.shape[0]
    piv = np.zeros(n, np.int32)
    info, k = 0, 0
    while k < n:
        step, akk = 1, abs(a[k, k])
        col = np.abs(a[k + 1:, k])
        imax = k + 1 + int(np.argmax(col)) if len(col) else k
        colmax = col.max() if len(col) else 0.0
        kp = k
        if max(akk, colmax) == 0 or np.isnan(akk):
            info = info or k + 1
            piv[k] = k + 1
            k += 1
            continue
        if akk < _BK_ALPHA * colmax:
            row = np.abs(np.concatenate([a[imax, k:imax], a[imax + 1:, imax]]))
            rowmax = row.max()
            if akk >= _BK_ALPHA * colmax * (colmax / rowmax):
                kp = k
            elif abs(a[imax, imax]) >= _BK_ALPHA * rowmax:
                kp = imax
            else:
                kp, step = imax, 2
        kk = k + step - 1
        if kp != kk:
            _swap_sym(a, k, kk, kp)
        if step == 1:
            x = a[k + 1:, k].copy()
            a[k + 1:, k + 1:] -= np.tril(np.outer(x, x)) / a[k, k]
            a[k + 1:, k] = x / a[k, k]
            piv[k] = kp + 1
        else:
            d = np.array([[a[k, k], a[k + 1, k]], [a[k + 1, k], a[k + 1, k + 1]]])
            w = a[k + 2:, k:k + 2].copy()
            lw = np.linalg.solve(d, w.T).T                     # W D^-1
            a[k + 2:, k + 2:] -= np.tril(lw @ w.T)
            a[k + 2:, k:k + 2] = lw
            piv[k] = piv[k + 1] = -(kp + 1)
        k += step
    return piv, info


def _ldl_checks(name, A, hermitian):
    if A.ndim < 2 or A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"torch.linalg.{name}: A must be batches of square matrices, but "
                           f"they are {A.shape[-2] if A.ndim > 1 else 1} by {A.shape[-1]} "
                           "matrices")
    if A.is_complex():
        raise NotImplementedError(f"linalg.{name}: complex matrices are not supported by "
                                  "Cadenza yet (real float32/float64 are)")
    if not A.is_floating_point():
        raise RuntimeError(f"torch.linalg.{name}: Expected a floating point or complex tensor "
                           f"as input. Got {A.dtype}")


def ldl_factor_ex(A, *, hermitian=False, check_errors=False):
    """The Bunch-Kaufman LDL^T factorisation of symmetric A (its lower triangle is read):
    ``(LD, pivots, info)`` in LAPACK's compact form (L below the diagonal, D's 1x1 and 2x2
    blocks on and next to it), for ``ldl_solve``. No gradient (torch has none)."""
    _ldl_checks("ldl_factor_ex", A, hermitian)
    a = A.detach()._host().astype(np.float64 if A.dtype.name == "float64" else np.float32)
    n = a.shape[-1]
    flat = a.reshape(-1, n, n).copy()
    pivs = np.zeros(flat.shape[:1] + (n,), np.int32)
    infos = np.zeros(flat.shape[:1], np.int32)
    for b in builtins.range(flat.shape[0]):
        pivs[b], infos[b] = _bunch_kaufman(flat[b])
    ld = np.tril(flat).reshape(a.shape)
    if check_errors and infos.any():
        raise LinAlgError(f"linalg.ldl_factor_ex: the factorization could not be completed "
                          f"because the input is singular (zero pivot D[{int(infos.max())}])")
    t = _ex["ldl_factor_ex"](_tensor_of(ld, device=A.device),
                             _tensor_of(pivs.reshape(a.shape[:-1]), device=A.device),
                             _tensor_of(infos.reshape(a.shape[:-2]), device=A.device))
    return t


def ldl_factor(A, *, hermitian=False):
    """``(LD, pivots)`` of ``ldl_factor_ex``; a singular A raises LinAlgError."""
    LD, pivots, info = ldl_factor_ex(A, hermitian=hermitian)
    if info.any():
        raise LinAlgError(f"linalg.ldl_factor: the factorization could not be completed "
                          f"because the input is singular (zero pivot D[{int(info.max())}])")
    return _ex["ldl_factor"](LD, pivots)


def _ldl_solve_one(ld, piv, b):
    """Solve P L D L^T P^T x = b (b (n, k)) with LAPACK's sytrs order of interchanges."""
    n = ld.shape[0]
    k = 0
    while k < n:                                   # L D y = P^T b
        if piv[k] > 0:
            kp = piv[k] - 1
            b[[k, kp]] = b[[kp, k]]
            b[k + 1:] -= np.outer(ld[k + 1:, k], b[k])
            b[k] /= ld[k, k]
            k += 1
        else:
            kp = -piv[k] - 1
            b[[k + 1, kp]] = b[[kp, k + 1]]
            b[k + 2:] -= np.outer(ld[k + 2:, k], b[k]) + np.outer(ld[k + 2:, k + 1], b[k + 1])
            d = np.array([[ld[k, k], ld[k + 1, k]], [ld[k + 1, k], ld[k + 1, k + 1]]])
            b[k:k + 2] = np.linalg.solve(d, b[k:k + 2])
            k += 2
    k = n - 1
    while k >= 0:                                  # L^T P^T x = y
        if piv[k] > 0:
            b[k] -= ld[k + 1:, k] @ b[k + 1:]
            kp = piv[k] - 1
            b[[k, kp]] = b[[kp, k]]
            k -= 1
        else:
            b[k] -= ld[k + 1:, k] @ b[k + 1:]
            b[k - 1] -= ld[k + 1:, k - 1] @ b[k + 1:]
            kp = -piv[k] - 1
            b[[k, kp]] = b[[kp, k]]
            k -= 2
    return b


def ldl_solve(LD, pivots, B, *, hermitian=False):
    """Solve A X = B from ``ldl_factor``'s (LD, pivots) of A; batches broadcast."""
    _ldl_checks("ldl_solve", LD, hermitian)
    if B.ndim < 2 or B.shape[-2] != LD.shape[-1]:
        raise RuntimeError(f"torch.linalg.ldl_solve: expected B of shape (..., {LD.shape[-1]}, "
                           f"k) for LD {list(LD.shape)}, got {list(B.shape)}")
    if tuple(pivots.shape) != tuple(LD.shape[:-1]):
        raise RuntimeError(f"torch.linalg.ldl_solve: expected pivots of shape "
                           f"{list(LD.shape[:-1])}, got {list(pivots.shape)}")
    if B.dtype != LD.dtype:
        raise RuntimeError(f"torch.linalg.ldl_solve: Expected LD and B to have the same dtype, "
                           f"but got LD with dtype {LD.dtype} and B with dtype {B.dtype}")
    ld, piv, b = LD.detach()._host(), pivots._host().astype(np.int64), B.detach()._host()
    batch = np.broadcast_shapes(ld.shape[:-2], b.shape[:-2])
    n, m = ld.shape[-1], b.shape[-1]
    ld = np.broadcast_to(ld, batch + (n, n)).reshape(-1, n, n)
    piv = np.broadcast_to(piv, batch + (n,)).reshape(-1, n)
    x = np.broadcast_to(b, batch + (n, m)).reshape(-1, n, m).copy()
    for i in builtins.range(x.shape[0]):
        _ldl_solve_one(ld[i], piv[i], x[i])
    return _tensor_of(x.reshape(batch + (n, m)), device=B.device)
