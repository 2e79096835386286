"""The op table's entries for linear algebra: ``cadenza.linalg`` (entries ``linalg.<name>``)
and the top-level forms of ``cadenza/ops/decomp.py`` (``det``, ``inverse``, ``svd``...).
Imported by opinfo.py, which adds LINALG_OPS to the table.

Samples are well conditioned (a random matrix plus a multiple of the identity) so that
finite differences agree; functions that read one triangle of a symmetric input (cholesky,
eigh) are called on ``a + a^T`` so that gradcheck's perturbations of either triangle count.
Eigen- and singular vectors are defined up to sign (LAPACK builds differ: PyTorch's MKL and
NumPy's OpenBLAS choose differently), so those entries compare them with each vector's
largest entry made positive (``_canon``), in both libraries.
"""
from __future__ import annotations

import numpy as np
import torch

import cadenza
import cadenza.linalg as CL
from opinfo_base import DT, Err, OpInfo, S, FLOAT

# --- samples
def _wc(m, *shape):
    """A well-conditioned (batch of) square matrix: random plus n * I."""
    n = shape[-1]
    return (m(*shape) + n * np.eye(n)).astype(m.dtype)


def _spd_half(m, *shape):
    """Half of a symmetric positive-definite matrix: a + a^T is SPD."""
    a = m(*shape)
    n = shape[-1]
    return ((a @ np.swapaxes(a, -1, -2)) / 2 + n * np.eye(n) / 2).astype(m.dtype)


def _lower_factor(m, *shape):
    s = _spd_half(m, *shape) * 2
    return np.linalg.cholesky(s).astype(m.dtype)


def sq(*shapes):
    return lambda m: [S(_wc(m, *s)) for s in shapes]


def sym(*shapes):
    return lambda m: [S(_spd_half(m, *s)) for s in shapes]


SQ = sq((3, 3), (2, 2, 2), (1, 4, 4))
NOT_SQUARE = Err(lambda m: S(m(2, 3)), RuntimeError)
ONE_D = Err(lambda m: S(m(3)), RuntimeError)
INT = Err(lambda m: S(np.eye(3, dtype=np.int64)), RuntimeError)
SINGULAR = Err(lambda m: S(np.ones((3, 3), m.dtype)), RuntimeError)  # LinAlgError in both
SQ_ERR = (NOT_SQUARE, ONE_D, INT)


def _canon(q, lib):
    """Each column with its largest-magnitude entry positive (signs as constants)."""
    if q.shape[-2] == 0 or q.shape[-1] == 0:
        return q, None
    s = lib.sign(q.gather(-2, q.abs().argmax(-2, keepdim=True))).detach()
    return q * s, s


def _svd_canon(lib, u, s, vh):
    u2, sg = _canon(u, lib)
    return u2, s, (vh if sg is None else vh * sg.mT)


def _old_svd_canon(lib, u, s, v):
    u2, sg = _canon(u, lib)
    return u2, s, (v if sg is None else v * sg)


def _eigh_canon(lib, w, v):
    return w, _canon(v, lib)[0]


def _sym(f):
    return lambda a, *args, **kw: f(a + a.mT, *args, **kw)


def both(f):
    """(cadenza form, torch form) of f(lib, *args) run with each library."""
    return dict(cd=lambda *a, **k: f(cadenza, *a, **k), th=lambda *a, **k: f(torch, *a, **k))


LINALG_OPS = [
    # determinants and inverses
    OpInfo("det", SQ, errors=SQ_ERR, prims=("linalg_det", "linalg_inv")),
    OpInfo("linalg.det", SQ, cd=CL.det, th=torch.linalg.det, errors=SQ_ERR,
           prims=("linalg_det", "linalg_inv")),
    OpInfo("slogdet", SQ, errors=SQ_ERR, prims=("linalg_slogdet", "linalg_inv")),
    OpInfo("linalg.slogdet", lambda m: SQ(m) + [S(-_wc(m, 3, 3))], cd=CL.slogdet,
           th=torch.linalg.slogdet, prims=("linalg_slogdet", "linalg_inv")),
    OpInfo("logdet", sym((3, 3), (2, 2, 2)), cd=_sym(cadenza.logdet), th=_sym(torch.logdet),
           prims=("linalg_slogdet", "linalg_inv")),
    OpInfo("inverse", SQ, errors=SQ_ERR + (SINGULAR,), prims=("linalg_inv",)),
    OpInfo("linalg.inv", SQ, cd=CL.inv, th=torch.linalg.inv, errors=SQ_ERR + (SINGULAR,),
           prims=("linalg_inv",)),
    # (torch's own backward of inv_ex fails: "output 0 of LinalgInvEx modified by an inplace
    # operation"; the gradient is linalg.inv's)
    OpInfo("linalg.inv_ex", sq((3, 3)), cd=CL.inv_ex, th=torch.linalg.inv_ex, grad=False,
           prims=("linalg_inv",)),
    OpInfo("matrix_power", lambda m: [S(_wc(m, 3, 3), 3), S(_wc(m, 2, 2, 2), -2)],
           prims=("matmul", "linalg_inv"), errors=(Err(lambda m: S(m(2, 3), 2), RuntimeError),)),
    OpInfo("matrix_power:01", lambda m: [S(_wc(m, 2, 2), 0), S(_wc(m, 2, 2, 2), 1)],
           cd=cadenza.matrix_power, th=torch.matrix_power, prims=()),
    OpInfo("linalg.matrix_power", lambda m: [S(_wc(m, 3, 3), 2), S(_wc(m, 2, 2, 2), -1)],
           cd=CL.matrix_power, th=torch.linalg.matrix_power, prims=("matmul", "linalg_inv")),
    OpInfo("matrix_exp", lambda m: [S(m(3, 3)), S(m(2, 2, 2) * 3), S(m(1, 1))],
           errors=(NOT_SQUARE,), rtol=1e-4),
    OpInfo("linalg.matrix_exp", lambda m: [S(m(2, 3, 3))], cd=CL.matrix_exp,
           th=torch.linalg.matrix_exp, prims=("matrix_exp",), check_limit=40),
    # solvers
    OpInfo("linalg.solve", lambda m: [S(_wc(m, 3, 3), m(3, 2)), S(_wc(m, 2, 3, 3), m(3)),
                                      S(_wc(m, 2, 2, 2), m(2, 2)), S(_wc(m, 3, 3), m(2, 1, 3, 2)),
                                      S(_wc(m, 3, 3), m(2, 3), left=False)],
           cd=CL.solve, th=torch.linalg.solve, prims=("linalg_solve",), check_limit=30,
           errors=(Err(lambda m: S(m(2, 3), m(2)), RuntimeError),
                   Err(lambda m: S(_wc(m, 3, 3), m(4)), RuntimeError),
                   Err(lambda m: S(np.ones((2, 2), m.dtype), m(2)), RuntimeError))),
    OpInfo("linalg.solve_ex", lambda m: [S(_wc(m, 3, 3), m(3, 2))], cd=CL.solve_ex,
           th=torch.linalg.solve_ex, prims=("linalg_solve",)),
    OpInfo("linalg.solve_triangular",
           lambda m: [S(_wc(m, 3, 3), m(3, 2), upper=True), S(_wc(m, 3, 3), m(3, 2), upper=False),
                      S(_wc(m, 2, 2, 2), m(3, 2), upper=True, left=False),
                      S(_wc(m, 3, 3), m(2, 3, 1), upper=False, unitriangular=True)],
           cd=CL.solve_triangular, th=torch.linalg.solve_triangular, check_limit=30,
           prims=("solve_triangular",),
           errors=(Err(lambda m: S(m(3, 3), m(2, 2), upper=True), RuntimeError),)),
    OpInfo("triangular_solve", lambda m: [S(m(3, 2), _wc(m, 3, 3)),
                                          S(m(3, 2), _wc(m, 3, 3), False, True),
                                          S(m(2, 3, 1), _wc(m, 3, 3), unitriangular=True)],
           prims=("solve_triangular",), check_limit=30),
    OpInfo("linalg.lstsq", lambda m: [S(m(5, 3), m(5, 2)), S(m(2, 4, 3), m(2, 4)),
                                      S(_wc(m, 3, 3), m(3, 2))],
           cd=CL.lstsq, th=torch.linalg.lstsq, prims=("linalg_svd",), check_limit=30,
           rtol=1e-4, gradgrad="pinv's gradient through the SVD: second order is checked on "
                               "linalg.pinv"),
    OpInfo("linalg.tensorinv", lambda m: [S(_wc(m, 4, 4).reshape(4, 2, 2), 1)],
           cd=CL.tensorinv, th=torch.linalg.tensorinv, prims=("linalg_inv",)),
    OpInfo("linalg.tensorsolve", lambda m: [S(_wc(m, 6, 6).reshape(2, 3, 6), m(2, 3))],
           cd=CL.tensorsolve, th=torch.linalg.tensorsolve, prims=("linalg_solve",),
           check_limit=60),
    # factorizations
    # (P has no gradient, in PyTorch neither: its own entries compare it)
    OpInfo("linalg.lu", lambda m: [S(m(3, 3)), S(m(2, 2, 2)), S(m(4, 2)), S(m(2, 4))],
           **both(lambda lib, a: lib.linalg.lu(a)[1:]), prims=("linalg_lu", "solve_triangular"),
           rtol=1e-4, grad_samples=lambda m: [S(_wc(m, 3, 3)), S(_wc(m, 2, 2, 2))]),
    OpInfo("linalg.lu:P", lambda m: [S(m(3, 3)), S(m(2, 2, 2)), S(m(4, 2)), S(m(2, 4))],
           **both(lambda lib, a: lib.linalg.lu(a).P), grad=False, prims=("linalg_lu",)),
    OpInfo("linalg.lu_factor", lambda m: [S(_wc(m, 3, 3)), S(m(2, 4, 3))], cd=CL.lu_factor,
           th=torch.linalg.lu_factor, prims=("linalg_lu", "solve_triangular"), rtol=1e-4,
           grad_samples=lambda m: [S(_wc(m, 3, 3))]),
    OpInfo("linalg.householder_product", lambda m: [S(m(3, 3), m(2)), S(m(2, 4, 2), m(2, 2)),
                                                    S(m(3, 2), m(2))],
           cd=CL.householder_product, th=torch.linalg.householder_product,
           prims=("matmul",), check_limit=30),
    OpInfo("linalg.lu_factor_ex", lambda m: [S(_wc(m, 3, 3))], cd=CL.lu_factor_ex,
           th=torch.linalg.lu_factor_ex, prims=("linalg_lu", "solve_triangular")),
    OpInfo("linalg.lu_solve", lambda m: [S(_wc(m, 3, 3), m(3, 2)), S(_wc(m, 3, 3), m(3, 2),
                                                                    adjoint=True),
                                         S(_wc(m, 2, 2, 2), m(2, 3, 2), left=False)],
           **both(lambda lib, a, b, **kw: lib.linalg.lu_solve(*lib.linalg.lu_factor(a), b,
                                                             **kw)),
           prims=("linalg_lu", "solve_triangular", "matmul"), check_limit=30),
    # LAPACK's compact QR; not differentiable in PyTorch either (tests/ops/test_sobol_geqrf.py
    # checks the backward error)
    OpInfo("geqrf", lambda m: [S(m(4, 3)), S(m(3, 5)), S(m(2, 3, 3))], grad=False,
           prims=("geqrf",)),
    OpInfo("orgqr", lambda m: [S(m(3, 3), m(2)), S(m(2, 4, 2), m(2, 2))], prims=("matmul",),
           check_limit=30),
    OpInfo("ormqr", lambda m: [S(m(4, 3), m(3), m(4, 2)),
                               S(m(3, 2), m(2), m(2, 3), left=False, transpose=True)],
           prims=("matmul",), check_limit=30),
    OpInfo("lu", lambda m: [S(_wc(m, 3, 3)), S(_wc(m, 3, 3), get_infos=True)],
           prims=("linalg_lu", "solve_triangular")),
    OpInfo("lu_unpack", lambda m: [S(_wc(m, 3, 3)), S(m(2, 4, 3))],
           **both(lambda lib, a: lib.lu_unpack(*lib.linalg.lu_factor(a))[1:]),
           prims=("linalg_lu", "solve_triangular"), rtol=1e-4,
           grad_samples=lambda m: [S(_wc(m, 3, 3))]),
    OpInfo("lu_solve", lambda m: [S(m(3, 2), _wc(m, 3, 3))],
           **both(lambda lib, b, a: lib.lu_solve(b, *lib.linalg.lu_factor(a))),
           prims=("linalg_lu", "solve_triangular", "matmul")),
    OpInfo("cholesky", sym((3, 3), (2, 2, 2)), cd=_sym(cadenza.cholesky),
           th=_sym(torch.cholesky), prims=("linalg_cholesky", "solve_triangular"),
           errors=(Err(lambda m: S(-np.eye(3, dtype=m.dtype)), RuntimeError),)),
    OpInfo("linalg.cholesky", lambda m: sym((3, 3), (2, 2, 2))(m) + [S(_spd_half(m, 3, 3),
                                                                       upper=True)],
           cd=_sym(CL.cholesky), th=_sym(torch.linalg.cholesky),
           prims=("linalg_cholesky", "solve_triangular"),
           errors=(Err(lambda m: S(-np.eye(3, dtype=m.dtype) / 2), RuntimeError),
                   Err(lambda m: S(m(2, 3)), RuntimeError))),
    OpInfo("linalg.cholesky_ex", sym((3, 3)), cd=_sym(CL.cholesky_ex),
           th=_sym(torch.linalg.cholesky_ex), prims=("linalg_cholesky", "solve_triangular")),
    # (the factor's other triangle is not read, but PyTorch's gradient fills it: the entries
    # pass the triangle itself, so that gradcheck's perturbations count)
    OpInfo("cholesky_solve", lambda m: [S(m(3, 2), _lower_factor(m, 3, 3)),
                                        S(m(2, 3, 1), _lower_factor(m, 3, 3).T.copy(), True)],
           cd=lambda b, a, upper=False: cadenza.cholesky_solve(b, a.triu() if upper else
                                                               a.tril(), upper),
           th=lambda b, a, upper=False: torch.cholesky_solve(b, a.triu() if upper else a.tril(),
                                                             upper),
           prims=("linalg_solve", "matmul")),
    OpInfo("cholesky_inverse", lambda m: [S(_lower_factor(m, 3, 3)),
                                          S(_lower_factor(m, 2, 2, 2).swapaxes(-1, -2).copy(),
                                            True)],
           cd=lambda a, upper=False: cadenza.cholesky_inverse(a.triu() if upper else a.tril(),
                                                              upper),
           th=lambda a, upper=False: torch.cholesky_inverse(a.triu() if upper else a.tril(),
                                                            upper),
           prims=("linalg_inv", "matmul")),
    OpInfo("qr", lambda m: [S(m(3, 3)), S(m(2, 4, 3)), S(m(3, 2), False)],
           errors=(ONE_D,), prims=("linalg_qr", "solve_triangular"), check_limit=30,
           # complete mode with more rows than columns has no gradient (in PyTorch too)
           grad_samples=lambda m: [S(m(3, 3)), S(m(2, 4, 3)), S(m(2, 3), False)]),
    OpInfo("linalg.qr", lambda m: [S(m(3, 3)), S(m(4, 2)), S(m(2, 2, 3)), S(m(2, 3), "complete"),
                                   S(m(3, 2), mode="r")],
           cd=CL.qr, th=torch.linalg.qr, prims=("linalg_qr", "solve_triangular"),
           grad_samples=lambda m: [S(m(3, 3)), S(m(4, 2)), S(m(2, 2, 3)), S(m(2, 3), "complete")],
           errors=(Err(lambda m: S(m(3, 3), "full"), RuntimeError),)),
    OpInfo("svd", lambda m: [S(m(3, 3)), S(m(2, 4, 3)), S(m(2, 4))],
           **both(lambda lib, a, *r: _old_svd_canon(lib, *lib.svd(a, *r))),
           prims=("linalg_svd",), rtol=1e-4),
    OpInfo("linalg.svd", lambda m: [S(m(3, 3), False), S(m(2, 4, 3), False), S(m(2, 4), False)],
           **both(lambda lib, a, fm: _svd_canon(lib, *lib.linalg.svd(a, fm))),
           prims=("linalg_svd",), rtol=1e-4),
    OpInfo("linalg.svdvals", lambda m: [S(m(3, 3)), S(m(2, 4, 3)), S(m(2, 4))],
           cd=CL.svdvals, th=torch.linalg.svdvals, prims=("linalg_svd",), rtol=1e-4),
    OpInfo("linalg.eigh", lambda m: [S(m(3, 3)), S(m(2, 2, 2)), S(m(3, 3), "U")],
           **both(lambda lib, a, *r: _eigh_canon(lib, *lib.linalg.eigh(a + a.mT, *r))),
           prims=("linalg_eigh",), rtol=1e-4,
           errors=(Err(lambda m: S(m(3, 3), "X"), RuntimeError),)),
    OpInfo("linalg.eigvalsh", lambda m: [S(m(3, 3)), S(m(2, 2, 2))], cd=_sym(CL.eigvalsh),
           th=_sym(torch.linalg.eigvalsh), prims=("linalg_eigh",), rtol=1e-4),
    OpInfo("pinverse", lambda m: [S(m(3, 3)), S(m(2, 4)), S(m(2, 4, 3))],
           prims=("linalg_svd",), rtol=1e-4),
    OpInfo("linalg.pinv", lambda m: [S(m(3, 3)), S(m(2, 4)), S(m(2, 4, 3)),
                                     S(m(3, 3), rtol=0.3), S(m(2, 4), atol=1.0)],
           cd=CL.pinv, th=torch.linalg.pinv, prims=("linalg_svd",), rtol=1e-4,
           # cutting singular values off: PyTorch's gradient is that of the full-rank formula
           grad_samples=lambda m: [S(m(3, 3)), S(m(2, 4)), S(m(2, 4, 3))]),
    OpInfo("linalg.matrix_rank",
           lambda m: [S(m(3, 3)), S(m(2, 4, 3)), S(np.ones((3, 3), m.dtype)),
                      S(m(4, 3), atol=1.0), S(m(4, 3), rtol=0.5), S(m(4, 3), hermitian=False)],
           cd=CL.matrix_rank, th=torch.linalg.matrix_rank, grad=False, prims=("linalg_svd",)),
    OpInfo("linalg.cond", lambda m: [S(_wc(m, 3, 3)), S(_wc(m, 2, 2, 2), "fro"),
                                     S(_wc(m, 3, 3), 1), S(_wc(m, 3, 3), -2),
                                     S(_wc(m, 3, 3), float("inf")), S(_wc(m, 3, 3), "nuc")],
           cd=CL.cond, th=torch.linalg.cond, prims=("linalg_svd", "linalg_inv"), rtol=1e-4,
           # the other orders go through torch's inv_ex, whose own backward fails (above)
           grad_samples=lambda m: [S(_wc(m, 3, 3)), S(_wc(m, 2, 2, 2), -2)]),
    # norms
    OpInfo("linalg.vector_norm", lambda m: [S(m(2, 3)), S(m(2, 3), 1), S(m(2, 3), 3.5, 1),
                                            S(m(2, 3, 2), float("inf"), (0, 2), True),
                                            S(m(4), -1.5), S(m(2, 3), 2, -1),
                                            S(m(2, 3), 2, dtype=DT("float64"))],
           cd=CL.vector_norm, th=torch.linalg.vector_norm,
           grad_samples=lambda m: [S(m(2, 3)), S(m(2, 3), 1), S(m(2, 3), 3.5, 1),
                                   S(m(4), -1.5)]),
    OpInfo("linalg.matrix_norm", lambda m: [S(m(3, 3)), S(m(2, 3, 4), "nuc"), S(m(2, 3), 2),
                                            S(m(3, 2), -2), S(m(2, 3), 1), S(m(3, 2), -1),
                                            S(m(2, 3, 2), float("inf"), (0, 2)),
                                            S(m(2, 3), float("-inf"), keepdim=True),
                                            S(m(2, 2, 3), "fro", (2, 0), True)],
           cd=CL.matrix_norm, th=torch.linalg.matrix_norm, prims=("linalg_svd",), rtol=1e-4,
           errors=(Err(lambda m: S(m(3, 3), 3), RuntimeError),
                   Err(lambda m: S(m(3), "fro"), RuntimeError))),
    OpInfo("linalg.norm", lambda m: [S(m(2, 3)), S(m(5)), S(m(2, 3, 4)), S(m(2, 3), "nuc"),
                                     S(m(2, 3), 1), S(m(5), 3), S(m(2, 3, 4), None, (0, 2)),
                                     S(m(2, 3, 4), 1, 1, True), S(m(2, 3), float("inf"))],
           cd=CL.norm, th=torch.linalg.norm, prims=("linalg_svd",), rtol=1e-4,
           errors=(Err(lambda m: S(m(2, 3, 4), 2), RuntimeError),)),
    # products
    OpInfo("linalg.cross", lambda m: [S(m(4, 3), m(4, 3)), S(m(3, 2), m(3, 1), dim=0),
                                      S(m(2, 1, 3), m(1, 4, 3))],
           cd=CL.cross, th=torch.linalg.cross, check_limit=30,
           errors=(Err(lambda m: S(m(4, 2), m(4, 2)), RuntimeError),)),
    OpInfo("linalg.vecdot", lambda m: [S(m(4, 3), m(4, 3)), S(m(3, 2), m(3, 1), dim=0)],
           cd=CL.vecdot, th=torch.linalg.vecdot),
    OpInfo("linalg.multi_dot", lambda m: [S([m(2, 3), m(3, 4), m(4, 2)]),
                                          S([m(3), m(3, 2), m(2)]), S([m(3), m(3, 2)])],
           cd=CL.multi_dot, th=torch.linalg.multi_dot, prims=("matmul",),
           errors=(Err(lambda m: S([m(3)]), RuntimeError),)),
    OpInfo("linalg.matmul", lambda m: [S(m(2, 3), m(3, 2))], cd=CL.matmul,
           th=torch.linalg.matmul, prims=("matmul",)),
    OpInfo("linalg.diagonal", lambda m: [S(m(3, 3)), S(m(2, 3, 4), offset=1),
                                         S(m(2, 3, 4), dim1=0, dim2=2)],
           cd=CL.diagonal, th=torch.linalg.diagonal),
    OpInfo("linalg.vander", lambda m: [S(m(3)), S(m(2, 3), N=4)], cd=CL.vander,
           th=torch.linalg.vander),
]
for _o in LINALG_OPS:
    _o.dtypes = FLOAT


# --- sparse COO (cadenza.sparse): the sparse_mm primitive through its public forms; the
# indices are fixed (with a duplicate entry), the values and the dense operand are samples
_SP_IDX = np.array([[0, 2, 1, 2, 0], [1, 0, 3, 3, 1]], dtype=np.int64)


def _sp(lib, i, v, size):
    return lib.sparse_coo_tensor(i, v, size)


# CSR/CSC (cadenza/_sparse_compressed.py): rows 0 and 2 hold entries (sorted columns: torch
# leaves unsorted ones undefined)
_CSR_C = np.array([0, 2, 2, 4], dtype=np.int64)
_CSR_P = np.array([1, 3, 0, 2], dtype=np.int64)


def _csr(lib, c, p, v, size):
    return lib.sparse_csr_tensor(c, p, v, size)


def _sp_samples(m):
    return [S(_SP_IDX, m(5), (3, 4), m(4, 2)), S(_SP_IDX, m(5), (3, 5), m(5)),
            S(_SP_IDX[:, :0], m(0), (3, 4), m(4, 2))]


LINALG_OPS += [
    OpInfo("sparse.mm", _sp_samples, **both(lambda lib, i, v, size, d: lib.sparse.mm(
        _sp(lib, i, v, size), d) if d.ndim == 2 else _sp(lib, i, v, size) @ d),
        prims=("sparse_mm",)),
    OpInfo("spmm:top", lambda m: _sp_samples(m)[:1],
           **both(lambda lib, i, v, size, d: lib.spmm(_sp(lib, i, v, size), d)),
           prims=("sparse_mm",)),
    OpInfo("sparse.mm:dense_sparse", lambda m: [S(_SP_IDX, m(5), (3, 4), m(2, 3))],
           **both(lambda lib, i, v, size, d: lib.mm(d, _sp(lib, i, v, size))),
           prims=("sparse_mm",)),
    OpInfo("sparse_coo_tensor:top", lambda m: [S(_SP_IDX, m(5), (3, 4)),
                                               S(_SP_IDX, m(5, 2), (3, 4, 2))],
           **both(lambda lib, i, v, size: _sp(lib, i, v, size).to_dense()),
           prims=("index_put",)),
    OpInfo("sparse_csr_tensor:top", lambda m: [S(_CSR_C, _CSR_P, m(4), (3, 4), m(4, 2)),
                                               S(_CSR_C, _CSR_P, m(4), (3, 4), m(4))],
           **both(lambda lib, c, p, v, size, d: _csr(lib, c, p, v, size) @ d),
           prims=("sparse_mm",)),
    OpInfo("sparse_csc_tensor:top", lambda m: [S(_CSR_C, _CSR_P, m(4), (4, 3), m(3, 2))],
           **both(lambda lib, c, p, v, size, d: (
               lib.sparse_csc_tensor(c, p, v, size) @ d,
               lib.sparse_csc_tensor(c, p, v, size).to_dense())),
           prims=("sparse_mm", "index_put")),
    OpInfo("sparse_compressed_tensor:top", lambda m: [S(_CSR_C, _CSR_P, m(4), (3, 4))],
           **both(lambda lib, c, p, v, size: lib.sparse.mm(lib.sparse_compressed_tensor(
               c, p, v, size, layout=lib.sparse_csr), v[:, None] * 0
               + lib.ones(4, 2, dtype=v.dtype))), prims=("sparse_mm",)),
    OpInfo("sparse.coalesce", lambda m: [S(_SP_IDX, m(5), (3, 4))],
           **both(lambda lib, i, v, size: (_sp(lib, i, v, size).coalesce().values(),
                                           _sp(lib, i, v, size).coalesce().indices())),
           prims=("index_put",)),
    OpInfo("sparse.sum", lambda m: [S(_SP_IDX, m(5), (3, 4), 1), S(_SP_IDX, m(5), (3, 4), 0),
                                    S(_SP_IDX, m(5), (3, 4), None)],
           **both(lambda lib, i, v, size, dim: (lib.sparse.sum(_sp(lib, i, v, size), dim)
                                                if dim is None else
                                                lib.sparse.sum(_sp(lib, i, v, size), dim)
                                                .to_dense())),
           prims=("sparse_mm",)),
    OpInfo("sparse.softmax", lambda m: [S(_SP_IDX, m(5), (3, 4), 1), S(_SP_IDX, m(5), (3, 4), 0)],
           **both(lambda lib, i, v, size, dim: lib.sparse.softmax(_sp(lib, i, v, size), dim)
                  .to_dense()), prims=("exp", "div", "index_put")),
    OpInfo("sparse.log_softmax", lambda m: [S(_SP_IDX, m(5), (3, 4), 1)],
           **both(lambda lib, i, v, size, dim: lib.sparse.log_softmax(_sp(lib, i, v, size), dim)
                  .to_dense()), prims=("exp", "log", "index_put")),
    OpInfo("to_sparse", lambda m: [S(m(3, 4) * (m(3, 4) > 0)), S(m(2, 3, 2), 2)],
           cd=lambda x, *a: x.to_sparse(*a).to_dense(), th=lambda x, *a: x.to_sparse(*a)
           .to_dense(), prims=("getitem",),
           # a perturbed zero becomes an entry: differentiate where no element is zero
           grad_samples=lambda m: [S(m(3, 4)), S(m(2, 3, 2), 2)]),
]
for _o in LINALG_OPS:
    _o.dtypes = FLOAT


# --- special functions (cadenza/ops/special.py, cadenza.special): the top-level forms by name,
# the rest as ``special.<name>``; accuracy over wide ranges is in tests/ops/test_special.py
import cadenza.special as CS  # noqa: E402


def _pos(low=0.1, high=5.0):
    return lambda m: [S(m(2, 3, low=low, high=high)), S(m(5, low=low, high=high)),
                      S(m(low=low, high=high))]


def _sp_entry(name, samples, **kw):
    return OpInfo(f"special.{name}", samples, cd=getattr(CS, name),
                  th=getattr(torch.special, name), **kw)


_NEG_OK = lambda m: [S(m(2, 3, low=-4.7, high=4.7)), S(m(5, low=0.2, high=6))]  # noqa: E731
SPECIAL_OPS = [
    OpInfo("lgamma", _NEG_OK, prims=("lgamma", "digamma", "polygamma")),
    OpInfo("digamma", _NEG_OK, prims=("digamma", "polygamma")),
    OpInfo("polygamma", lambda m: [S(1, m(2, 3, low=0.2, high=5)), S(3, m(4, low=-3.7, high=-3.2)),
                                   S(0, m(3, low=0.5, high=3))],
           prims=("polygamma", "digamma"),
           errors=(Err(lambda m: S(-1, m(3)), RuntimeError),)),
    OpInfo("mvlgamma", lambda m: [S(m(2, 3, low=2, high=5), 3), S(m(4, low=0.2, high=3), 1)],
           prims=("lgamma",), errors=(Err(lambda m: S(m(3, low=2, high=3), 0), RuntimeError),)),
    OpInfo("erfinv", lambda m: [S(m(2, 3, low=-0.95, high=0.95)), S(m(4, low=-0.3, high=0.3))],
           prims=("erfinv", "exp")),
    OpInfo("i0", lambda m: [S(m(2, 3, low=-6, high=6)), S(m(3) * 20)], prims=("i0", "i1")),
    # (at 0 the gradient is 0 and PyTorch's second derivative too, not -pi^2/3)
    OpInfo("sinc", lambda m: [S(m(2, 3)), S(np.array([0.0, 1.0, -2.5], m.dtype))],
           grad_samples=lambda m: [S(m(2, 3, nonzero=True))], prims=("sin", "div", "mul")),
    OpInfo("logit", lambda m: [S(m(2, 3, low=0.05, high=0.95)),
                               S(m(4, low=0.01, high=0.99), 0.1)], rtol=1e-4,
           prims=("log", "div", "clamp")),
    OpInfo("xlogy", lambda m: [S(m(2, 3), m(2, 3, low=0.1, high=3)),
                               S(np.array([0.0, 1.0, 0.0], m.dtype),
                                 np.array([0.0, 2.0, np.nan], m.dtype)).const(0, 1),
                               S(m(3), 2.5), S(2.0, m(3, low=0.1, high=3))],
           prims=("log", "mul", "where")),
    _sp_entry("xlog1py", lambda m: [S(m(2, 3), m(2, 3, low=-0.5, high=3)), S(m(3), 0.5)],
              prims=("log1p", "mul", "where")),
    _sp_entry("gammaln", _pos(), prims=("lgamma", "digamma", "polygamma")),
    _sp_entry("psi", _pos(), prims=("digamma", "polygamma")),
    _sp_entry("multigammaln", lambda m: [S(m(2, 3, low=2, high=5), 2)], prims=("lgamma",)),
    _sp_entry("i0e", lambda m: [S(m(2, 3, low=-6, high=6)), S(m(3) * 20)],
              prims=("i0e", "i1e")),
    _sp_entry("i1", lambda m: [S(m(2, 3, low=-6, high=6)), S(m(3) * 20),
                               S(np.zeros(2, m.dtype))], prims=("i0", "i1")),
    _sp_entry("i1e", lambda m: [S(m(2, 3, low=-6, high=6)), S(m(3) * 20),
                                S(np.zeros(2, m.dtype))], prims=("i0e", "i1e")),
    _sp_entry("erfcx", lambda m: [S(m(2, 3, low=-3, high=3)), S(m(4, low=2, high=30))],
              prims=("erfcx",)),
    _sp_entry("log_ndtr", lambda m: [S(m(2, 3, low=-3, high=3)), S(m(4, low=-30, high=-2))],
              prims=("log_ndtr", "exp")),
    _sp_entry("ndtr", lambda m: [S(m(2, 3, low=-3, high=3))], prims=("log_ndtr", "exp")),
    _sp_entry("ndtri", lambda m: [S(m(2, 3, low=0.02, high=0.98)),
                                  S(np.array([1e-10, 0.5, 1 - 1e-7], m.dtype))], rtol=1e-4,
              prims=("ndtri", "exp"), grad_samples=lambda m: [S(m(2, 3, low=0.02, high=0.98))]),
    _sp_entry("zeta", lambda m: [S(m(2, 3, low=1.5, high=4), m(2, 3, low=0.5, high=3)).const(0),
                                 S(m(3, low=2, high=3), 1.5).const(0),
                                 S(3.0, m(3, low=0.5, high=3))], prims=("zeta",)),
    _sp_entry("entr", lambda m: [S(m(2, 3, low=0.1, high=3)),
                                 S(np.array([0.0, -1.0, 2.0], m.dtype)).const(0)],
              prims=("entr", "log", "mul", "add", "neg")),
    _sp_entry("expit", lambda m: [S(m(2, 3))], prims=("sigmoid",)),
    _sp_entry("gammainc", lambda m: [S(m(2, 3, low=0.5, high=4), m(2, 3, low=0.1, high=6))
                                     .const(0)], prims=("gammainc", "lgamma", "exp"),
              errors=(Err(lambda m: S(m(3, low=1, high=3), 2.5), TypeError),)),
    _sp_entry("gammaincc", lambda m: [S(m(2, 3, low=0.5, high=4), m(2, 3, low=0.1, high=6))
                                      .const(0)], prims=("gammainc", "lgamma", "exp")),
    _sp_entry("spherical_bessel_j0", lambda m: [S(m(2, 3) * 10),
                                                S(np.array([0.0, 1e-5, 30.0], m.dtype))],
              grad=False, prims=("sin", "div")),
    _sp_entry("modified_bessel_i0", lambda m: [S(m(2, 3) * 5)], grad=False, prims=("i0",)),
    _sp_entry("modified_bessel_i1", lambda m: [S(m(2, 3) * 5)], grad=False, prims=("i1",)),
    # cadenza/ops/bessel.py (one primitive; float64 accuracy in tests/ops/test_bessel.py)
    *[_sp_entry(_n, lambda m: [S(m(2, 3) * 12), S(np.array([0.0, 0.3, 24.0, 40.0], m.dtype))],
                grad=False, prims=("bessel",)) for _n in ("bessel_j0", "bessel_j1")],
    *[_sp_entry(_n, lambda m: [S(m(2, 3, low=0.01, high=30)),
                               S(np.array([0.0, -1.0, 1e-7, 50.0], m.dtype))],
                grad=False, prims=("bessel",))
      for _n in ("bessel_y0", "bessel_y1", "modified_bessel_k0", "modified_bessel_k1",
                 "scaled_modified_bessel_k0", "scaled_modified_bessel_k1")],
    _sp_entry("airy_ai", lambda m: [S(m(2, 3) * 8), S(np.array([-20.0, -12.0, 2.0, 6.0], m.dtype))],
              grad=False, prims=("bessel",)),
    _sp_entry("log_softmax", lambda m: [S(m(2, 3), 1)],
              prims=("log_softmax", "log_softmax_backward")),
    _sp_entry("softmax", lambda m: [S(m(2, 3), 0)], prims=("softmax", "softmax_backward")),
]
# the orthogonal polynomials (not differentiable, in PyTorch neither): scalar and per-element
# degrees, negative degrees give 0
SPECIAL_OPS += [_sp_entry(_n, lambda m: [S(m(2, 3), 3), S(m(5), np.array([0, 1, -1, 7, 12])),
                                         S(m(4) * 3, 5)],
                          grad=False, prims=("orthogonal_polynomial",))
                for _n in ("chebyshev_polynomial_t", "chebyshev_polynomial_u",
                           "chebyshev_polynomial_v", "chebyshev_polynomial_w",
                           "shifted_chebyshev_polynomial_t", "shifted_chebyshev_polynomial_u",
                           "shifted_chebyshev_polynomial_v", "shifted_chebyshev_polynomial_w",
                           "hermite_polynomial_h", "hermite_polynomial_he",
                           "laguerre_polynomial_l", "legendre_polynomial_p")]
for _o in SPECIAL_OPS:
    _o.dtypes = FLOAT
LINALG_OPS += SPECIAL_OPS


# --- top-level composites (cadenza/ops/composites.py)
COMPOSITE_OPS = [
    OpInfo("cdist", lambda m: [S(m(3, 2), m(4, 2)), S(m(2, 3, 2), m(2, 2, 2), 1.0),
                               S(m(3, 2), m(2, 2), 3.0), S(m(2, 2), m(3, 2), float("inf")),
                               S(m(30, 3), m(4, 3)),
                               S(m(2, 3, 2), m(2, 2, 2), compute_mode="use_mm_for_euclid_dist")],
           prims=("sub", "mul", "sum", "sqrt"), check_limit=30, rtol=1e-4,
           errors=(Err(lambda m: S(m(3, 2), m(4, 3)), RuntimeError),)),
    OpInfo("pdist", lambda m: [S(m(4, 3)), S(m(3, 2), 1.0)], prims=("sub", "sqrt"), rtol=1e-4),
    OpInfo("dist", lambda m: [S(m(2, 3), m(2, 3)), S(m(3), m(3), 3)], prims=("sub", "sqrt"),
           rtol=1e-4),
    OpInfo("block_diag", lambda m: [S(m(2, 2), m(3), m(), m(1, 3))], prims=("cat",)),
    OpInfo("kron", lambda m: [S(m(2, 3), m(2, 2)), S(m(3), m(2)), S(m(2, 1, 2), m(3, 2))],
           prims=("mul",), check_limit=30),
    OpInfo("diag_embed", lambda m: [S(m(2, 3)), S(m(3), 1), S(m(2, 3), -1, 0, 2)],
           prims=("mul", "sum")),
    OpInfo("diagflat", lambda m: [S(m(2, 2)), S(m(3), -1)], prims=("mul", "sum")),
    # (torch's own vander backward fails: "modified by an inplace operation")
    OpInfo("vander", lambda m: [S(m(3)), S(m(4), 3), S(m(3), increasing=True)],
           prims=("pow",), grad=False),
    OpInfo("cross", lambda m: [S(m(4, 3), m(4, 3)), S(m(3, 2), m(3, 2), 0),
                               S(m(2, 3, 3), m(2, 3, 3), dim=1)], prims=("cat", "mul")),
    OpInfo("chain_matmul", lambda m: [S(m(2, 3), m(3, 4), m(4, 2)), S(m(2, 2))],
           prims=("matmul",)),
    OpInfo("cov", lambda m: [S(m(3, 5)), S(m(5)), S(m(2, 4), correction=0),
                             S(m(2, 4), fweights=np.array([1, 2, 1, 3]),
                               aweights=np.abs(m(4)) + 0.5)],
           prims=("matmul", "sum"), rtol=1e-4),
    OpInfo("corrcoef", lambda m: [S(m(3, 5)), S(m(2, 6))], prims=("matmul", "sqrt"),
           rtol=1e-4),
    OpInfo("histc", lambda m: [S(m(20)), S(m(4, 5), 5, -1, 1), S(m(10), 3, 0.5, 0.5)],
           grad=False, prims=()),
    OpInfo("trapezoid", lambda m: [S(m(5)), S(m(2, 5), m(5)), S(m(2, 3), dx=0.5, dim=0),
                                   S(m(3, 4), m(3, 4), dim=0)], prims=("add", "mul", "sum"),
           errors=(Err(lambda m: S(m(3, 4), 2.0), TypeError),)),
    OpInfo("trapz", lambda m: [S(m(5)), S(m(2, 5), m(2, 5))], prims=("add", "mul", "sum")),
    # (coordinates as spacing: tests/compat/test_torch_functions.py)
    OpInfo("gradient", lambda m: [S(m(5)), S(m(3, 4), spacing=2.0),
                                  S(m(3, 4), spacing=[0.5, 2.0], edge_order=2),
                                  S(m(3, 5), dim=1, edge_order=2),
                                  S(m(4, 3), spacing=[1.5], dim=(0,))],
           prims=("cat",), errors=(Err(lambda m: S(m(1)), RuntimeError),
                                   Err(lambda m: S(m(3), edge_order=3), RuntimeError),
                                   Err(lambda m: S(m(3, 3), spacing=[1.0, 2.0, 3.0]),
                                       RuntimeError))),
    OpInfo("cumulative_trapezoid", lambda m: [S(m(5)), S(m(2, 5), m(5)), S(m(3, 2), dim=0)],
           prims=("add", "mul", "cumsum")),
    OpInfo("tril_indices", lambda m: [S(3, 4), S(4, 3, 1), S(3, 3, -1)], grad=False, prims=()),
    OpInfo("triu_indices", lambda m: [S(3, 4), S(4, 3, 1), S(3, 3, -1)], grad=False, prims=()),
    OpInfo("combinations", lambda m: [S(m(4)), S(m(4), 3), S(m(3), with_replacement=True),
                                      S(m(3), 1)], prims=("getitem",)),
    OpInfo("cartesian_prod", lambda m: [S(m(3), m(2)), S(m(2), m(2), m(3))],
           prims=("cat",)),
    OpInfo("rot90", lambda m: [S(m(2, 3)), S(m(2, 3), 2), S(m(2, 3, 2), 3, (1, 2)),
                               S(m(2, 3), -1)], prims=("flip",)),
    OpInfo("atleast_3d", lambda m: [S(m()), S(m(3)), S(m(2, 3)), S(m(1, 2, 3, 1))],
           prims=("reshape",)),
]
for _o in COMPOSITE_OPS:
    _o.dtypes = FLOAT
LINALG_OPS += COMPOSITE_OPS
