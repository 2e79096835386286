"""Matrix decompositions and solvers: the primitives under ``torch.linalg`` (inv, det,
slogdet, cholesky, qr, svd, eigh, solve, solve_triangular, matrix_exp) and PyTorch's top-level
forms of them (``torch.det``, ``inverse``, ``svd`` with ``some=``, ``triangular_solve``...).

Every primitive works on batches of matrices (leading batch dims) in float32/float64. An op
with several outputs (qr, svd, eigh, slogdet) is one primitive whose output packs them along
its last axis, each flattened (``_pack``); the public function unpacks them with views, so one
factorization runs per call and its backward receives the gradients of all outputs at once.
Backward rules are the ones PyTorch states in its derivatives (FunctionsManual.cpp), written
in Tensor ops so that second order and tracing work. ``cadenza.linalg`` holds the namespace.
"""
from __future__ import annotations

import builtins
import math
from collections import namedtuple

import numpy as np

from ._registry import Op, register, apply
from .._tensor_base import TensorBase as Tensor
from .._creation import eye, zeros, _wrap_np
from .._dispatch import state as _state
from ..dtypes import bool as _bool, int32 as _int32
from ..errors import ShapeError, DTypeError, LinAlgError
from .linalg import matmul
from .join import cat
from .shape import tril, triu
from .elementwise import where


__all__ = ["det", "logdet", "slogdet", "inverse", "cholesky", "cholesky_solve",
           "cholesky_inverse", "qr", "svd", "pinverse", "matrix_power", "matrix_exp",
           "triangular_solve", "lu", "lu_unpack", "lu_solve", "geqrf", "orgqr", "ormqr"]


# ----------------------------------------------------------------------------- checks
def check_float(op, *tensors):
    for t in tensors:
        if t._data.dtype.kind != "f" or t._data.dtype.itemsize < 4:
            raise DTypeError(f"{op}: Expected a floating point tensor (float32 or float64) as "
                             f"input. Got {t.dtype.name}")
    if len({t._data.dtype for t in tensors}) > 1:
        raise DTypeError(f"{op}: Expected all tensors to have the same dtype, got "
                         + " and ".join(t.dtype.name for t in tensors))


def check_square(op, A, name="A"):
    """A float32/float64 tensor of one or more square matrices (PyTorch's messages)."""
    if A._data.ndim < 2:
        raise ShapeError(f"{op}: The input tensor {name} must have at least 2 dimensions.")
    if A.shape[-1] != A.shape[-2]:
        raise ShapeError(f"{op}: {name} must be batches of square matrices, but they are "
                         f"{A.shape[-2]} by {A.shape[-1]} matrices")
    check_float(op, A)


def check_matrix(op, A, name="A"):
    if A._data.ndim < 2:
        raise ShapeError(f"{op}: The input tensor {name} must have at least 2 dimensions.")
    check_float(op, A)


def _lapack(op, fn, what):
    """Run a NumPy LAPACK call; its LinAlgError becomes PyTorch's (a RuntimeError)."""
    try:
        return fn()
    except np.linalg.LinAlgError:
        raise LinAlgError(f"{op}: {what}") from None


_SINGULAR = "The input matrix is singular (a zero pivot in its LU factorization), so it " \
            "has no inverse and the system has no unique solution."


# ----------------------------------------------------------------------------- packing
def _pack(xp, *arrays):
    """Several per-matrix outputs as one array: each flattened over its matrix dims and
    concatenated along the last axis (batch dims first)."""
    batch = arrays[0].shape[:-2] if arrays[0].ndim >= 2 else arrays[0].shape[:-1]
    nb = len(batch)
    # the per-matrix size spelled out: -1 is ambiguous for an empty batch
    return xp.concatenate([a.reshape(batch + (math.prod(a.shape[nb:]),)) for a in arrays],
                          axis=nb)


def _unpack(t, batch, shapes):
    """The tensors ``_pack`` joined (views of ``t``), given each one's per-matrix shape."""
    out, off = [], 0
    for s in shapes:
        n = math.prod(s)
        out.append(t.narrow(-1, off, n).reshape(tuple(batch) + tuple(s)))
        off += n
    return out


def _diag_embed(v):
    return v.unsqueeze(-1) * eye(v.shape[-1], dtype=v.dtype)


def _eye_like(A):
    return eye(A.shape[-1], dtype=A.dtype)


# ----------------------------------------------------------------------------- inverse, det
@register
class Inv(Op):
    name, kind, onnx, saves = "linalg_inv", "library", None, "output"

    @staticmethod
    def forward(xp, a):
        return _lapack("linalg.inv", lambda: xp.linalg.inv(a), _SINGULAR)

    # d(A^-1) = -A^-1 dA A^-1: gA = -A^-T g A^-T
    @staticmethod
    def backward(c, g):
        ai = c.out.mT
        return (-matmul(matmul(ai, g), ai),)


@register
class Det(Op):
    name, kind, onnx, saves = "linalg_det", "library", None, "both"

    @staticmethod
    def forward(xp, a):
        return xp.linalg.det(a)

    # d det(A) = det(A) tr(A^-1 dA): gA = g det(A) A^-T. Where det(A) is exactly 0 torch's
    # gradient is 0 (not the adjugate): the inverse is taken of the identity there instead,
    # and det = 0 zeroes it (no branch on the values, so a traced backward is the same graph)
    @staticmethod
    def backward(c, g):
        (a,) = c.saved
        if a.shape[-1] == 1:   # det of a 1x1 matrix is its entry: gradient 1, also at 0 (torch)
            return (g.unsqueeze(-1).unsqueeze(-1) * _eye_like(a),)
        d = c.out.unsqueeze(-1).unsqueeze(-1)
        safe = where(d == 0, _eye_like(a), a)
        return (g.unsqueeze(-1).unsqueeze(-1) * d * apply(Inv, safe).mT,)


@register
class Slogdet(Op):
    """(sign, log|det A|) packed along a last axis of 2; only log|det| has a gradient."""
    name, kind, onnx = "linalg_slogdet", "library", None

    @staticmethod
    def forward(xp, a):
        sign, logabs = xp.linalg.slogdet(a)
        return xp.stack([sign, logabs], axis=-1)

    # d log|det A| = tr(A^-1 dA): gA = g A^-T
    @staticmethod
    def backward(c, g):
        (a,) = c.saved
        return (g[..., 1].unsqueeze(-1).unsqueeze(-1) * apply(Inv, a).mT,)


# ----------------------------------------------------------------------------- triangular
def _tri(x, upper, unitriangular=False):
    k = 1 if unitriangular else 0
    return triu(x, k) if upper else tril(x, -k)


@register
class SolveTriangular(Op):
    """X with A X = B (left) or X A = B (not left), reading only A's upper or lower triangle
    (and taking its diagonal as ones when unitriangular)."""
    name, kind, onnx, saves = "solve_triangular", "library", None, "both"

    @staticmethod
    def forward(xp, a, b, upper=False, left=True, unitriangular=False):
        n = a.shape[-1]
        m = np.triu(np.ones((n, n), bool), 1 if unitriangular else 0) if upper else \
            np.tril(np.ones((n, n), bool), -1 if unitriangular else 0)
        t = xp.where(m, a, 0)
        if unitriangular:
            t = t + xp.eye(n, dtype=a.dtype)
        shape = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        t = xp.broadcast_to(t, shape + t.shape[-2:])
        b = xp.broadcast_to(b, shape + b.shape[-2:])
        with np.errstate(all="ignore"):
            if left:
                return _lapack("linalg.solve_triangular", lambda: xp.linalg.solve(t, b),
                               _SINGULAR).astype(a.dtype, copy=False)
            x = _lapack("linalg.solve_triangular",
                        lambda: xp.linalg.solve(xp.swapaxes(t, -1, -2), xp.swapaxes(b, -1, -2)),
                        _SINGULAR)
            return xp.swapaxes(x, -1, -2).astype(a.dtype, copy=False)

    # left: X = A^-1 B, gB = A^-T g, gA = -gB X^T; right: X = B A^-1, gB = g A^-T,
    # gA = -X^T gB; gA keeps only the triangle the forward read
    @staticmethod
    def backward(c, g):
        a, _ = c.saved
        x = c.out
        up, left, unit = (c.attrs.get("upper", False), c.attrs.get("left", True),
                          c.attrs.get("unitriangular", False))
        gb = apply(SolveTriangular, a.mT, g, upper=not up, left=left, unitriangular=unit)
        ga = None
        if c.next[0] is not None:
            ga = _tri(-(matmul(gb, x.mT) if left else matmul(x.mT, gb)), up, unit)
        return ga, gb


def solve_triangular(A, B, *, upper, left=True, unitriangular=False):
    check_square("linalg.solve_triangular", A)
    check_matrix("linalg.solve_triangular", B, "B")
    check_float("linalg.solve_triangular", A, B)
    n = A.shape[-1]
    if (B.shape[-2] if left else B.shape[-1]) != n:
        raise ShapeError(f"linalg.solve_triangular: Incompatible shapes of A and B for the "
                         f"equation {'AX = B' if left else 'XA = B'} ({A.shape[-2]}x{n} and "
                         f"{B.shape[-2]}x{B.shape[-1]})")
    return apply(SolveTriangular, A, B, upper=builtins.bool(upper), left=builtins.bool(left),
                 unitriangular=builtins.bool(unitriangular))


# ----------------------------------------------------------------------------- solve
@register
class Solve(Op):
    """X with A X = B for square A and a matrix (batch) B; batch dims broadcast."""
    name, kind, onnx, saves = "linalg_solve", "library", None, "both"

    @staticmethod
    def forward(xp, a, b):
        shape = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        a = xp.broadcast_to(a, shape + a.shape[-2:])
        b = xp.broadcast_to(b, shape + b.shape[-2:])
        return _lapack("linalg.solve", lambda: xp.linalg.solve(a, b), _SINGULAR)

    # X = A^-1 B: gB = A^-T g, gA = -gB X^T
    @staticmethod
    def backward(c, g):
        a, _ = c.saved
        gb = apply(Solve, a.mT, g)
        ga = -matmul(gb, c.out.mT) if c.next[0] is not None else None
        return ga, gb


# ----------------------------------------------------------------------------- cholesky
@register
class Cholesky(Op):
    """The lower (or upper) Cholesky factor, from A's lower triangle."""
    name, kind, onnx, saves = "linalg_cholesky", "library", None, "output"

    @staticmethod
    def forward(xp, a, upper=False):
        def run():
            lo = xp.linalg.cholesky(a)
            return xp.swapaxes(lo, -1, -2).copy() if upper else lo
        return _lapack("linalg.cholesky", run, "The factorization could not be completed "
                       "because the input is not positive-definite.")

    # PyTorch's cholesky_backward: gA = L^-H Phi(L^H gL) L^-1, symmetrized, where Phi takes
    # the lower triangle with the diagonal halved
    @staticmethod
    def backward(c, g):
        upper = c.attrs.get("upper", False)
        lo = c.out.mT if upper else c.out
        gl = g.mT if upper else g
        p = matmul(lo.mT, gl).tril()
        p = p - 0.5 * _diag_embed(p.diagonal(0, -2, -1))
        s = apply(SolveTriangular, lo.mT, p, upper=True, left=True)
        s = apply(SolveTriangular, lo, s, upper=False, left=False)
        return (0.5 * (s + s.mT),)


# ----------------------------------------------------------------------------- qr
@register
class Qr(Op):
    """(Q, R) packed; mode 'reduced' or 'complete'."""
    name, kind, onnx, saves = "linalg_qr", "library", None, "both"

    @staticmethod
    def forward(xp, a, mode="reduced"):
        q, r = xp.linalg.qr(a, mode=mode)
        return _pack(xp, q.astype(a.dtype, copy=False), r.astype(a.dtype, copy=False))

    # Walter and Lehmann / Seeger et al. (PyTorch's linalg_qr_backward): for m >= n,
    # gA = [gQ + Q copyltu(M)] R^-T with M = R gR^T - gQ^T Q; for m < n, A = [X | Y] with
    # X square: the X part as above with gQ + Y gR_Y^T, the Y part Q gR_Y
    @staticmethod
    def backward(c, g):
        (a,) = c.saved
        m, n = a.shape[-2], a.shape[-1]
        mode = c.attrs.get("mode", "reduced")
        k = m if mode == "complete" else builtins.min(m, n)
        if mode == "complete" and m > n:
            raise RuntimeError("The QR decomposition is not differentiable when "
                               "mode='complete' and nrows > ncols.")
        batch = a.shape[:-2]
        q, r = _unpack(c.out, batch, [(m, k), (k, n)])
        gq, gr = _unpack(g, batch, [(m, k), (k, n)])
        if m >= n:
            return (_qr_square_backward(q, r, gq, gr),)
        y = a.narrow(-1, m, n - m)
        gr_x, gr_y = gr.narrow(-1, 0, m), gr.narrow(-1, m, n - m)
        gx = _qr_square_backward(q, r.narrow(-1, 0, m), gq + matmul(y, gr_y.mT), gr_x)
        return (cat([gx, matmul(q, gr_y)], -1),)


def _qr_square_backward(q, r, gq, gr):
    m_ = matmul(r, gr.mT) - matmul(gq.mT, q)
    low = m_.tril(-1)
    b = gq + matmul(q, m_.tril() + low.mT)
    # b R^-T: solve X R^T = b with R^T lower triangular
    return apply(SolveTriangular, r.mT, b, upper=False, left=False)


# ----------------------------------------------------------------------------- geqrf
@register
class Geqrf(Op):
    """LAPACK's geqrf, (a, tau) packed: R on and above the diagonal of a, the Householder
    vectors below it (their unit leading entries implied), tau their scales."""
    name, kind, onnx, saves = "geqrf", "library", None, "none"

    @staticmethod
    def forward(xp, a):
        # NumPy's mode="raw" returns LAPACK's column-major array: h is a transposed
        h, tau = xp.linalg.qr(a, mode="raw")
        return _pack(xp, xp.swapaxes(h, -1, -2).astype(a.dtype, copy=False),
                     tau.astype(a.dtype, copy=False))

    @staticmethod
    def backward(c, g):
        raise NotImplementedError("the derivative for 'geqrf' is not implemented.")


geqrf_result = namedtuple("geqrf", ["a", "tau"])


def geqrf(input):
    """``torch.geqrf``: the QR factorization in LAPACK's compact form (a, tau); Q is
    ``orgqr(a, tau)`` (``linalg.householder_product``), R is ``a.triu()``. Not differentiable,
    as in PyTorch."""
    check_matrix("geqrf", input, "input")
    m, n = input.shape[-2], input.shape[-1]
    a, tau = _unpack(apply(Geqrf, input), input.shape[:-2], [(m, n), (builtins.min(m, n),)])
    return geqrf_result(a, tau)


def orgqr(input, tau):
    """The first n columns of H_1 H_2 ... H_k, H_i = I - tau_i v_i v_i^T, where v_i is column
    i of input below the diagonal with a 1 on it (LAPACK's orgqr; torch.orgqr is
    ``torch.linalg.householder_product``), for input (..., m, n), tau (..., k)."""
    check_matrix("linalg.householder_product", input)
    m, n = input.shape[-2], input.shape[-1]
    k = tau.shape[-1]
    if n > m or k > n:
        raise RuntimeError(f"torch.linalg.householder_product: input.shape[-2] must be greater "
                           f"than or equal to input.shape[-1] and input.shape[-1] must be "
                           f"greater than or equal to tau.shape[-1], got {tuple(input.shape)} "
                           f"and {tuple(tau.shape)}")
    vs = input.tril(-1) + eye(m, n, dtype=input.dtype)
    q = eye(m, dtype=input.dtype)
    for i in range(k):
        v = vs.narrow(-1, i, 1)
        q = q - matmul(matmul(q, v), v.mT) * tau.narrow(-1, i, 1).unsqueeze(-1)
    return q.narrow(-1, 0, n)


def ormqr(input, tau, other, left=True, transpose=False):
    """op(Q) @ other (left) or other @ op(Q), Q the full square product of the Householder
    reflectors (input, tau) as ``orgqr`` reads them, op a transpose when ``transpose``."""
    check_matrix("ormqr", input, "input")
    check_matrix("ormqr", other, "other")
    mn = other.shape[-2] if left else other.shape[-1]
    if input.shape[-2] != mn or tau.shape[-1] != builtins.min(mn, input.shape[-1]):
        raise RuntimeError(f"torch.ormqr: input {tuple(input.shape)} must have "
                           f"{mn} rows (other {tuple(other.shape)}, left={left}) and tau "
                           f"{tuple(tau.shape)} min(rows, columns) of input entries")
    k = input.shape[-1]
    full = input.narrow(-1, 0, mn) if k >= mn else cat(
        [input, zeros(*input.shape[:-1], mn - k, dtype=input.dtype)], -1)
    q = orgqr(full, tau)
    if transpose:
        q = q.mT
    return matmul(q, other) if left else matmul(other, q)


# ----------------------------------------------------------------------------- svd
@register
class Svd(Op):
    """(U, S, Vh) packed (S a vector per matrix)."""
    name, kind, onnx, saves = "linalg_svd", "library", None, "both"

    @staticmethod
    def forward(xp, a, full_matrices=False):
        def run():
            return xp.linalg.svd(a, full_matrices=full_matrices)
        u, s, vh = _lapack("linalg.svd", run, "The algorithm failed to converge because the "
                           "input matrix is ill-conditioned or has too many repeated singular "
                           "values.")
        return _pack(xp, u.astype(a.dtype, copy=False), s[..., None].astype(a.dtype, copy=False),
                     vh.astype(a.dtype, copy=False))

    # PyTorch's svd_backward (real case): with J = U^T gU, K = V^T gV, E_jk = s_k^2 - s_j^2,
    # gA = U [(J - J^T)/E S + S (K - K^T)/E + diag(gS)] V^T + (I - U U^T) gU S^-1 V^T
    #      + U S^-1 gV^T (I - V V^T)
    @staticmethod
    def backward(c, g):
        (a,) = c.saved
        m, n = a.shape[-2], a.shape[-1]
        k = builtins.min(m, n)
        full = c.attrs.get("full_matrices", False)
        mu, nv = (m, n) if full else (k, k)
        batch = a.shape[:-2]
        u, s, vh = _unpack(c.out, batch, [(m, mu), (k,), (nv, n)])
        gu, gs, gvh = _unpack(g, batch, [(m, mu), (k,), (nv, n)])
        if full:
            u, gu = u.narrow(-1, 0, k), gu.narrow(-1, 0, k)
            vh, gvh = vh.narrow(-2, 0, k), gvh.narrow(-2, 0, k)
        v, gv = vh.mT, gvh.mT
        s2 = s * s
        e = s2.unsqueeze(-2) - s2.unsqueeze(-1)
        e = e + _eye_like(e)  # ones on the diagonal, where J - J^T is zero
        j = matmul(u.mT, gu)
        kk = matmul(v.mT, gv)
        inner = (j - j.mT) / e * s.unsqueeze(-2) + s.unsqueeze(-1) * ((kk - kk.mT) / e) \
            + _diag_embed(gs)
        ga = matmul(matmul(u, inner), vh)
        sinv = 1 / s
        if m > k:
            ga = ga + matmul((gu - matmul(u, j)) * sinv.unsqueeze(-2), vh)
        if n > k:
            ga = ga + matmul(u * sinv.unsqueeze(-2), (gv - matmul(v, kk)).mT)
        return (ga,)


# ----------------------------------------------------------------------------- eigh
_EIG_FAILED = "The algorithm failed to converge because the input matrix is ill-conditioned " \
              "or has too many repeated eigenvalues."


def _eig_parts(c, g):
    """(eigenvalues, eigenvectors) and their gradients, unpacked, for an eig backward."""
    n = c.shape(0)[-1]
    batch = c.shape(0)[:-2]
    return (*_unpack(c.out, batch, [(n,), (n, n)]), *_unpack(g, batch, [(n,), (n, n)]))


@register
class Eigh(Op):
    """(eigenvalues ascending, eigenvectors) of a symmetric matrix, packed; reads the lower
    ('L') or upper ('U') triangle."""
    name, kind, onnx, saves = "linalg_eigh", "library", None, "output"

    @staticmethod
    def forward(xp, a, UPLO="L"):
        w, v = _lapack("linalg.eigh", lambda: xp.linalg.eigh(a, UPLO=UPLO), _EIG_FAILED)
        return _pack(xp, w[..., None].astype(a.dtype, copy=False), v.astype(a.dtype, copy=False))

    # PyTorch's linalg_eig_backward for Hermitian input:
    # gA = V (diag(gL) + (V^T gV) / E) V^T, E_ij = L_j - L_i off the diagonal
    @staticmethod
    def backward(c, g):
        w, v, gw, gv = _eig_parts(c, g)
        e = w.unsqueeze(-2) - w.unsqueeze(-1)
        eye_ = _eye_like(e)
        inner = matmul(v.mT, gv) / (e + eye_) * (1 - eye_) + _diag_embed(gw)
        return (matmul(matmul(v, inner), v.mT),)


# ----------------------------------------------------------------------------- eig
@register
class Eig(Op):
    """(eigenvalues, eigenvectors) of a general square matrix, complex (complex64 for float32
    and complex64 input, complex128 for the double dtypes), packed; each eigenvector has norm
    1 (LAPACK's geev, as PyTorch)."""
    name, kind, onnx, saves = "linalg_eig", "library", None, "output"
    holomorphic = False   # backward written for complex values (eigenvectors' phase)

    @staticmethod
    def forward(xp, a):
        ct = np.complex64 if a.dtype in (np.float32, np.complex64) else np.complex128
        w, v = _lapack("linalg.eig", lambda: xp.linalg.eig(a), _EIG_FAILED)
        return _pack(xp, w[..., None].astype(ct, copy=False), v.astype(ct, copy=False))

    # PyTorch's linalg_eig_backward (general case): with V^H gV projected onto the tangent
    # space (minus V^H V diag(re diag(V^H gV))), its diagonal replaced by gL and divided by
    # E*_ij = conj(L_j - L_i) (1 on the diagonal): gA = V^-H X V^H
    @staticmethod
    def backward(c, g):
        w, v, gw, gv = _eig_parts(c, g)
        vh = v.mH
        vhgv = matmul(vh, gv)
        diag = vhgv.diagonal(0, -2, -1)
        if _state.tracer is None and not np.allclose(diag._data.imag, 0, rtol=1e-2, atol=1e-2):
            raise RuntimeError(
                "linalg_eig_backward: The eigenvectors in the complex case are specified up "
                "to multiplication by e^{i phi}. The specified loss function depends on this "
                "quantity, so it is ill-defined.")
        vhgv = vhgv - matmul(vh, v * diag.real.unsqueeze(-2))
        eye_ = _eye_like(vhgv)
        x = vhgv * (1 - eye_) + _diag_embed(gw)
        wc = w.conj()
        e = wc.unsqueeze(-2) - wc.unsqueeze(-1) + eye_
        return (apply(Solve, vh, matmul(x / e, vh)),)


# ----------------------------------------------------------------------------- lu
def _lu_numpy(a):
    """Partial-pivoting LU of (..., m, n) as LAPACK's getrf: (P, L, U, pivots) with A = P L U
    and pivots the 1-based row swaps (the first largest magnitude in each column)."""
    shape = a.shape
    m, n = shape[-2], shape[-1]
    k = builtins.min(m, n)
    lu = a.reshape((-1, m, n)).copy()
    nb = lu.shape[0]
    perm = np.broadcast_to(np.arange(m), (nb, m)).copy()
    piv = np.zeros((nb, k))
    rows = np.arange(nb)
    with np.errstate(all="ignore"):
        for j in range(k):
            p = np.argmax(np.abs(lu[:, j:, j]), axis=1) + j if m > j else np.full(nb, j)
            piv[:, j] = p + 1
            top, pr = lu[rows, j].copy(), lu[rows, p].copy()
            lu[rows, j], lu[rows, p] = pr, top
            tp, pp = perm[rows, j].copy(), perm[rows, p].copy()
            perm[rows, j], perm[rows, p] = pp, tp
            d = lu[:, j, j]
            ok = d != 0
            lu[:, j + 1:, j] = np.where(ok[:, None], lu[:, j + 1:, j] / np.where(ok, d, 1)[:, None],
                                        lu[:, j + 1:, j])
            lu[:, j + 1:, j + 1:] -= lu[:, j + 1:, j, None] * lu[:, j, None, j + 1:]
    low = np.tril(lu[:, :, :k], -1) + np.eye(m, k, dtype=a.dtype)
    up = np.triu(lu[:, :k, :])
    pmat = np.zeros((nb, m, m), dtype=a.dtype)
    pmat[rows[:, None], perm, np.arange(m)[None, :]] = 1  # P[perm[i], i] = 1
    batch = shape[:-2]
    return (pmat.reshape(batch + (m, m)), low.reshape(batch + (m, k)),
            up.reshape(batch + (k, n)), piv.reshape(batch + (k,)))


@register
class Lu(Op):
    """(P, L, U, pivots as floats) packed, with A = P L U (partial pivoting)."""
    name, kind, onnx, saves = "linalg_lu", "library", None, "output"

    @staticmethod
    def forward(xp, a):
        p, lo, up, piv = _lu_numpy(np.asarray(a))
        return xp.asarray(_pack(np, p, lo, up, piv[..., None].astype(a.dtype)))

    # PyTorch's linalg_lu_backward (square A): gA = P L^-H [tril(L^H gL, -1) + triu(gU U^H)] U^-H
    @staticmethod
    def backward(c, g):
        m, n = c.shape(0)[-2], c.shape(0)[-1]
        if m != n:
            raise RuntimeError("linalg.lu: the derivative is implemented for square matrices "
                               f"only, got {m} by {n} matrices")
        batch = c.shape(0)[:-2]
        shapes = [(m, m), (m, m), (m, m), (m,)]
        p, lo, up, _ = _unpack(c.out, batch, shapes)
        _, gl, gu, _ = _unpack(g, batch, shapes)
        phi = matmul(lo.mT, gl).tril(-1) + matmul(gu, up.mT).triu()
        y = apply(SolveTriangular, up.mT, phi, upper=False, left=False)
        x = apply(SolveTriangular, lo.mT, y, upper=True, left=True, unitriangular=True)
        return (matmul(p, x),)


lu_result = namedtuple("lu", ["P", "L", "U"])
lu_factor_result = namedtuple("lu_factor", ["LU", "pivots"])


def linalg_lu(A, *, pivot=True):
    check_matrix("linalg.lu", A)
    if not pivot:
        raise RuntimeError("linalg.lu: LU without pivoting is not implemented on the CPU "
                           "(as in PyTorch)")
    m, n = A.shape[-2], A.shape[-1]
    k = builtins.min(m, n)
    p, lo, up, piv = _unpack(apply(Lu, A), A.shape[:-2], [(m, m), (m, k), (k, n), (k,)])
    return lu_result(p.detach(), lo, up), piv.detach().to(_int32)


def lu_compact(lo, up):
    """LAPACK's one-matrix form: L's strict lower triangle with U above it (m x n)."""
    m, k, n = lo.shape[-2], lo.shape[-1], up.shape[-1]
    low = lo.tril(-1)
    if n > k:
        low = cat([low, zeros(*low.shape[:-1], n - k, dtype=lo.dtype)], -1)
    upp = up
    if m > k:
        upp = cat([up, zeros(*up.shape[:-2], m - k, n, dtype=up.dtype)], -2)
    return low + upp


def lu_factor(A, *, pivot=True):
    (_, lo, up), piv = linalg_lu(A, pivot=pivot)
    return lu_factor_result(lu_compact(lo, up), piv)


def lu_unpack(LU_data, LU_pivots, unpack_data=True, unpack_pivots=True):
    """(P, L, U) from lu_factor's compact LU and its 1-based row swaps."""
    m, n = LU_data.shape[-2], LU_data.shape[-1]
    k = builtins.min(m, n)
    lo = LU_data.narrow(-1, 0, k).tril(-1) + eye(m, k, dtype=LU_data.dtype)
    up = LU_data.narrow(-2, 0, k).triu()
    if _state.tracer is not None:  # the row swaps are read as Python values
        _state.tracer.concrete(LU_pivots, "lu_unpack")
    piv = LU_pivots._host().astype(np.int64).reshape(-1, k) - 1
    perm = np.broadcast_to(np.arange(m), (piv.shape[0], m)).copy()
    rows = np.arange(piv.shape[0])
    for j in range(k):
        pj = piv[:, j]
        a, b = perm[rows, j].copy(), perm[rows, pj].copy()
        perm[rows, j], perm[rows, pj] = b, a
    pmat = np.zeros((piv.shape[0], m, m), dtype=LU_data._data.dtype)
    pmat[rows[:, None], perm, np.arange(m)[None, :]] = 1
    p = _wrap_np(pmat.reshape(tuple(LU_data.shape[:-2]) + (m, m)))
    return lu_result(p, lo, up)


def linalg_lu_solve(LU, pivots, B, *, left=True, adjoint=False):
    """X with A X = B (A^H X = B when adjoint; X A = B when not left) from lu_factor."""
    p, lo, up = lu_unpack(LU, pivots)
    if not left:  # X A = B  <=>  A^H X^H = B^H
        return linalg_lu_solve(LU, pivots, B.mT, adjoint=not adjoint).mT
    if adjoint:  # A^H = U^H L^H P^H: X = P L^-H U^-H B
        y = solve_triangular(up.mT, B, upper=False)
        return matmul(p, solve_triangular(lo.mT, y, upper=True, unitriangular=True))
    y = solve_triangular(lo, matmul(p.mT, B), upper=False, unitriangular=True)
    return solve_triangular(up, y, upper=True)


def lu(A, pivot=True, get_infos=False):
    """PyTorch's older form: (LU, pivots[, infos])."""
    LU, piv = lu_factor(A, pivot=pivot)
    return (LU, piv, zeros(*A.shape[:-2], dtype=_int32)) if get_infos else (LU, piv)


def lu_solve(b, LU_data, LU_pivots):
    """PyTorch's older form of linalg.lu_solve (the right-hand side first)."""
    return linalg_lu_solve(LU_data, LU_pivots, b)


# ----------------------------------------------------------------------------- matrix_exp
def _expm(xp, a):
    """exp(A) by scaling and squaring a degree-18 Taylor polynomial (||A / 2^s||_1 <= 1/2)."""
    n = a.shape[-1]
    norm = float(xp.abs(a).sum(-2).max()) if a.size else 0.0
    s = builtins.max(0, int(math.ceil(math.log2(norm))) + 1) if norm > 0.5 else 0
    x = a.astype(np.float64) / (2.0 ** s)
    out = xp.broadcast_to(xp.eye(n), x.shape).copy()
    term = out.copy()
    for k in range(1, 19):
        term = xp.matmul(term, x) / k
        out = out + term
    for _ in range(s):
        out = xp.matmul(out, out)
    return out.astype(a.dtype, copy=False)


@register
class MatrixExp(Op):
    name, kind, onnx = "matrix_exp", "library", None

    @staticmethod
    def forward(xp, a):
        return _expm(xp, a)

    # the Frechet derivative's adjoint: gA = the upper right block of exp([[A^T, g], [0, A^T]])
    @staticmethod
    def backward(c, g):
        (a,) = c.saved
        n = a.shape[-1]
        at = a.mT
        top = cat([at, g], -1)
        bottom = cat([zeros(*at.shape, dtype=a.dtype), at], -1)
        big = apply(MatrixExp, cat([top, bottom], -2))
        return (big.narrow(-2, 0, n).narrow(-1, n, n),)


# ----------------------------------------------------------------------------- functions
slogdet_result = namedtuple("slogdet", ["sign", "logabsdet"])
qr_result = namedtuple("qr", ["Q", "R"])
svd_result = namedtuple("svd", ["U", "S", "Vh"])
old_svd_result = namedtuple("svd", ["U", "S", "V"])
eigh_result = namedtuple("eigh", ["eigenvalues", "eigenvectors"])
triangular_solve_result = namedtuple("triangular_solve", ["solution", "cloned_coefficient"])


def linalg_inv(A):
    check_square("linalg.inv", A)
    return apply(Inv, A)


def inverse(input):
    return linalg_inv(input)


def det(A):
    check_square("linalg.det", A)
    return apply(Det, A)


def slogdet(A):
    check_square("linalg.slogdet", A)
    sign, logabs = _unpack(apply(Slogdet, A), A.shape[:-2], [(), ()])
    return slogdet_result(sign, logabs)  # sign's gradient is zero (backward reads logabs's)


def logdet(input):
    """log(det A): NaN for a negative determinant, -inf for a singular matrix."""
    sign, logabs = slogdet(input)
    return logabs + sign.log()


def linalg_cholesky(A, *, upper=False):
    check_square("linalg.cholesky", A)
    return apply(Cholesky, A, upper=builtins.bool(upper))


def cholesky(input, upper=False):
    return linalg_cholesky(input, upper=upper)


def cholesky_solve(input, input2, upper=False):
    """X with A X = B for A = L L^T (or U^T U), given B = input and the factor input2."""
    check_square("cholesky_solve", input2)
    check_matrix("cholesky_solve", input, "B")
    return linalg_solve(_factor_product(input2, upper), input)


def _factor_product(f, upper):
    """L L^T (U^T U) of the factor's triangle, differentiated in the whole factor as PyTorch's
    cholesky_solve and cholesky_inverse are."""
    f = f - (f - _tri(f, upper)).detach()
    return matmul(f.mT, f) if upper else matmul(f, f.mT)


def cholesky_inverse(input, upper=False):
    """(L L^T)^-1 (or (U^T U)^-1) of the factor's triangle; the gradient is that of the
    formula in the whole factor, as PyTorch's."""
    check_square("cholesky_inverse", input)
    return linalg_inv(_factor_product(input, upper))


def linalg_qr(A, mode="reduced"):
    check_matrix("linalg.qr", A)
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(f"qr received unrecognized mode '{mode}' but expected one of "
                           "'reduced' (default), 'r', or 'complete'")
    m, n = A.shape[-2], A.shape[-1]
    k = m if mode == "complete" else builtins.min(m, n)
    q, r = _unpack(apply(Qr, A, mode="complete" if mode == "complete" else "reduced"),
                   A.shape[:-2], [(m, k), (k, n)])
    if mode == "r":
        q = zeros(0, dtype=A.dtype)
    return qr_result(q, r)


def qr(input, some=True):
    return linalg_qr(input, "reduced" if some else "complete")


def linalg_svd(A, full_matrices=True):
    check_matrix("linalg.svd", A)
    m, n = A.shape[-2], A.shape[-1]
    k = builtins.min(m, n)
    mu, nv = (m, n) if full_matrices else (k, k)
    u, s, vh = _unpack(apply(Svd, A, full_matrices=builtins.bool(full_matrices)),
                       A.shape[:-2], [(m, mu), (k,), (nv, n)])
    return svd_result(u, s, vh)


def svd(input, some=True, compute_uv=True):
    """PyTorch's older form: V, not Vh; with compute_uv=False, U and V are zero."""
    u, s, vh = linalg_svd(input, full_matrices=not some)
    if not compute_uv:
        m, n = input.shape[-2], input.shape[-1]
        bt = tuple(input.shape[:-2])
        return old_svd_result(zeros(*bt, m, m, dtype=input.dtype), s,
                              zeros(*bt, n, n, dtype=input.dtype))
    return old_svd_result(u, s, vh.mT)


def svdvals(A):
    return linalg_svd(A, full_matrices=False).S


def linalg_eigh(A, UPLO="L"):
    check_square("linalg.eigh", A)
    if UPLO not in ("L", "U"):
        raise RuntimeError(f"Expected UPLO argument to be 'L' or 'U', but got {UPLO}")
    n = A.shape[-1]
    w, v = _unpack(apply(Eigh, A, UPLO=UPLO), A.shape[:-2], [(n,), (n, n)])
    return eigh_result(w, v)


eig_result = namedtuple("linalg_eig", ["eigenvalues", "eigenvectors"])


def linalg_eig(A):
    """Eigenvalues and eigenvectors of general square matrices (complex results)."""
    check_square_any("linalg.eig", A)
    if A._data.dtype.kind == "f" and not np.isfinite(A._data).all():
        raise LinAlgError("linalg.eig: input tensor should not contain infs or NaNs.")
    n = A.shape[-1]
    w, v = _unpack(apply(Eig, A), A.shape[:-2], [(n,), (n, n)])
    return eig_result(w, v)


def linalg_eigvals(A):
    return linalg_eig(A).eigenvalues


def check_square_any(op, A):
    """A square matrix (batch) of a float32/float64 or complex64/complex128 dtype."""
    if A._data.ndim < 2:
        raise ShapeError(f"{op}: The input tensor A must have at least 2 dimensions.")
    if A.shape[-1] != A.shape[-2]:
        raise ShapeError(f"{op}: A must be batches of square matrices, but they are "
                         f"{A.shape[-2]} by {A.shape[-1]} matrices")
    if A._data.dtype.kind != "c":
        check_float(op, A)


def _is_vector_rhs(A, B):
    return B._data.ndim == 1 or (B._data.ndim == A._data.ndim - 1
                                 and tuple(B.shape) == tuple(A.shape[:-1]))


def linalg_solve(A, B, *, left=True):
    check_square("linalg.solve", A)
    check_float("linalg.solve", A, B)
    if not left:  # X A = B  <=>  A^T X^T = B^T
        return linalg_solve(A.mT, B.mT).mT
    vec = _is_vector_rhs(A, B)
    b = B.unsqueeze(-1) if vec else B
    if b._data.ndim < 2 or b.shape[-2] != A.shape[-1]:
        raise ShapeError(f"linalg.solve: Incompatible shapes of A and B for the equation AX = B "
                         f"({A.shape[-2]}x{A.shape[-1]} and {tuple(B.shape)})")
    x = apply(Solve, A, b)
    return x.squeeze(-1) if vec else x


def pinv(A, *, atol=None, rtol=None, hermitian=False):
    """Moore-Penrose pseudo-inverse through the SVD; singular values at or below
    max(atol, rtol * s_max) count as zero (rtol defaults to eps * max(m, n))."""
    check_matrix("linalg.pinv", A)
    u, s, vh = linalg_svd(A, full_matrices=False)
    m, n = A.shape[-2], A.shape[-1]
    if rtol is None:
        rtol = 0.0 if atol is not None and not _zero_tol(atol) else \
            np.finfo(A._data.dtype).eps * builtins.max(m, n)
    smax = s.detach().amax(-1, keepdim=True) if s.shape[-1] else s.detach()
    tol = smax * rtol
    if atol is not None:
        tol = tol.maximum(atol if isinstance(atol, Tensor) else
                          zeros((), dtype=A.dtype) + atol)
    keep = s.detach() > tol
    sinv = (1 / s.where(keep, 1.0)).where(keep, 0.0)
    return matmul(vh.mT * sinv.unsqueeze(-2), u.mT)


def _zero_tol(t):
    return not isinstance(t, Tensor) and t == 0


def pinverse(input, rcond=1e-15):
    return pinv(input, rtol=rcond)


def matrix_power(input, n):
    check_square("linalg.matrix_power", input)
    if not isinstance(n, (int, np.integer)) or isinstance(n, builtins.bool):
        raise TypeError(f"matrix_power(): argument 'n' must be int, not {type(n).__name__}")
    if n == 0:  # the identity, connected to the graph with a zero gradient, as PyTorch's
        keep = zeros(*input.shape, dtype=_bool)
        return input.where(keep, eye(input.shape[-1], dtype=input.dtype))
    a = linalg_inv(input) if n < 0 else input
    n = builtins.abs(int(n))
    result = None
    while n:  # binary powering
        if n & 1:
            result = a if result is None else matmul(result, a)
        n >>= 1
        if n:
            a = matmul(a, a)
    return result


def matrix_exp(input):
    check_square("linalg.matrix_exp", input)
    return apply(MatrixExp, input)


def triangular_solve(input, A, upper=True, transpose=False, unitriangular=False):
    """PyTorch's older form: solves A X = input (A^T X = input when transpose) and returns
    (solution, a copy of A)."""
    a = A.mT if transpose else A
    x = solve_triangular(a, input, upper=upper != builtins.bool(transpose),
                         unitriangular=unitriangular)
    batch = tuple(x.shape[:-2])
    return triangular_solve_result(x, A.expand(batch + tuple(A.shape[-2:])).clone())


# ----------------------------------------------------------------------------- Tensor methods
# ----------------------------------------------------------------------------- removed
# functions torch removed in 1.9 and keeps as names that raise, telling what replaces them
# (top-level in cadenza/_torch_functions.py, and Tensor methods)
_REMOVED = "This function was deprecated since version 1.9 and is now removed. "
_REMOVED_FUNCTIONS = {
    "eig": "`torch.linalg.eig` returns complex tensors of dtype `cfloat` or `cdouble` rather "
           "than real tensors mimicking complex tensors.\n\nL, _ = torch.eig(A) should be "
           "replaced with:\nL_complex = torch.linalg.eigvals(A)\n\nand\n\nL, V = "
           "torch.eig(A, eigenvectors=True) should be replaced with:\nL_complex, V_complex = "
           "torch.linalg.eig(A)",
    "symeig": "The default behavior has changed from using the upper triangular portion of "
              "the matrix by default to using the lower triangular portion.\n\nL, _ = "
              "torch.symeig(A, upper=upper) should be replaced with:\nL = "
              "torch.linalg.eigvalsh(A, UPLO='U' if upper else 'L')\n\nand\n\nL, V = "
              "torch.symeig(A, eigenvectors=True) should be replaced with:\nL, V = "
              "torch.linalg.eigh(A, UPLO='U' if upper else 'L')",
    "solve": "`torch.solve` is deprecated in favor of `torch.linalg.solve`. `torch.linalg.solve` "
             "has its arguments reversed and does not return the LU factorization.\n\nTo get "
             "the LU factorization see `torch.lu`, which can be used with `torch.lu_solve` or "
             "`torch.lu_unpack`.\nX = torch.solve(B, A).solution should be replaced with:\nX "
             "= torch.linalg.solve(A, B)",
    "lstsq": "`torch.lstsq` is deprecated in favor of `torch.linalg.lstsq`.\n`torch.linalg."
             "lstsq` has reversed arguments and does not return the QR decomposition in the "
             "returned tuple (although it returns other information about the problem).\n\n"
             "To get the QR decomposition consider using `torch.linalg.qr`.\n\nThe returned "
             "solution in `torch.lstsq` stored the residuals of the solution in the last m - n "
             "columns of the returned value whenever m > n. In torch.linalg.lstsq, the "
             "residuals are in the field 'residuals' of the returned named tuple.\n\nThe "
             "unpacking of the solution, as in\nX, _ = torch.lstsq(B, A).solution[:A.size(1)]"
             "\nshould be replaced with:\nX = torch.linalg.lstsq(A, B).solution",
}


def _removed_function(name, message):
    def fn(*args, **kwargs):
        raise RuntimeError(_REMOVED + message)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = "Removed from torch in 1.9: raises, naming what replaces it."
    return fn


eig, symeig, solve, lstsq = (_removed_function(n, _REMOVED_FUNCTIONS[n])
                             for n in ("eig", "symeig", "solve", "lstsq"))


def matrix_rank(*args, **kwargs):
    """Removed from torch in 1.9: raises, naming what replaces it."""
    raise RuntimeError("This function was deprecated since version 1.9 and is now removed.\n"
                       "Please use the `torch.linalg.matrix_rank` function instead. The "
                       "parameter 'symmetric' was renamed in `torch.linalg.matrix_rank()` to "
                       "'hermitian'.")

class DecompMethods:
    """cadenza.Tensor's methods for this module's functions (``x.f(...)`` is ``f(x, ...)``);
    ``cadenza/_tensor.py`` composes them."""
    __slots__ = ()

    det = det
    eig, symeig, lstsq, solve = eig, symeig, lstsq, solve   # (removed: they raise, as torch)
    logdet = logdet
    slogdet = slogdet
    inverse = inverse
    cholesky = cholesky
    cholesky_solve = cholesky_solve
    cholesky_inverse = cholesky_inverse
    qr = qr
    svd = svd
    pinverse = pinverse
    matrix_power = matrix_power
    matrix_exp = matrix_exp
    triangular_solve = triangular_solve
    lu = lu
    geqrf, orgqr, ormqr = geqrf, orgqr, ormqr

    def lu_solve(self, LU_data, LU_pivots):
        return lu_solve(self, LU_data, LU_pivots)
