"""More of torch's top-level functions: device modules (``get_device_module``), the
deterministic-algorithms switches and debug mode, ``empty_permuted``, ``histogramdd``, the
single-step recurrent cells ATen exposes (``lstm_cell``, ``gru_cell``, ``rnn_tanh_cell``,
``rnn_relu_cell``: the cells of ``nn.LSTMCell``/``GRUCell``/``RNNCell``, one implementation),
``to_dlpack``, the randomised low-rank SVD/PCA (``svd_lowrank``, ``pca_lowrank``) and
LOBPCG (``lobpcg``)."""
from __future__ import annotations

import builtins
import importlib
from collections import namedtuple

import numpy as np

from . import _creation
from . import linalg
from ._tensor_base import TensorBase
from .autograd.function import Function
from .device import device as _device
from .nn import functional as F
from .nn.modules.rnn_cell import _gru_step, _lstm_step, _rnn_step
from .utils.dlpack import to_dlpack

__all__ = ["get_device_module", "use_deterministic_algorithms",
           "are_deterministic_algorithms_enabled", "is_deterministic_algorithms_warn_only_enabled",
           "set_deterministic_debug_mode", "get_deterministic_debug_mode", "empty_permuted",
           "histogramdd", "lstm_cell", "gru_cell", "rnn_tanh_cell", "rnn_relu_cell",
           "to_dlpack", "svd_lowrank", "pca_lowrank", "lobpcg"]

_DEVICE_MODULES = {"cpu": "cpu", "cuda": "cuda"}


def get_device_module(device=None):
    """The module of ``device``'s type (``cadenza.cuda`` for 'cuda', ``cadenza.cpu`` for
    'cpu'); without one, the current accelerator's, else ``cadenza.cpu``."""
    if device is None:
        cuda = importlib.import_module(f"{__package__}.cuda")
        kind = "cuda" if cuda.is_available() else "cpu"
    else:
        kind = (device if isinstance(device, _device) else _device(device)).type
    if kind not in _DEVICE_MODULES:
        raise RuntimeError(f"Device '{kind}' does not have a corresponding module registered "
                           "as 'torch.{kind}'.")
    return importlib.import_module(f"{__package__}.{_DEVICE_MODULES[kind]}")


# (deterministic algorithms requested, warn only): Cadenza's CPU kernels are deterministic
# already, so the switches are recorded for the queries and the debug mode only
_deterministic = [False, False]


def use_deterministic_algorithms(mode: builtins.bool, *, warn_only: builtins.bool = False
                                 ) -> None:
    """Recorded for the ``are_...``/``is_...``/debug-mode queries (Cadenza's CPU kernels are
    deterministic already)."""
    _deterministic[:] = [builtins.bool(mode), builtins.bool(mode) and builtins.bool(warn_only)]


def are_deterministic_algorithms_enabled() -> builtins.bool:
    return _deterministic[0]


def is_deterministic_algorithms_warn_only_enabled() -> builtins.bool:
    return _deterministic[1]


_DEBUG_MODES = {"default": 0, "warn": 1, "error": 2}


def set_deterministic_debug_mode(debug_mode) -> None:
    """0/'default' (off), 1/'warn' (deterministic, warn only), 2/'error' (deterministic)."""
    if isinstance(debug_mode, str):
        if debug_mode not in _DEBUG_MODES:
            raise RuntimeError("invalid value of debug_mode, expected one of `default`, "
                               f"`warn`, `error`, but got {debug_mode}")
        debug_mode = _DEBUG_MODES[debug_mode]
    elif not isinstance(debug_mode, builtins.int) or isinstance(debug_mode, builtins.bool):
        raise TypeError(f"debug_mode must be str or int, but got {type(debug_mode)}")
    if debug_mode not in (0, 1, 2):
        raise RuntimeError(f"invalid value of debug_mode, expected 0, 1, or 2, but got "
                           f"{debug_mode}")
    use_deterministic_algorithms(debug_mode > 0, warn_only=debug_mode == 1)


def get_deterministic_debug_mode() -> builtins.int:
    if not _deterministic[0]:
        return 0
    return 1 if _deterministic[1] else 2


def empty_permuted(size, physical_layout, *, dtype=None, layout=None, device=None,
                   requires_grad=False, pin_memory=False):
    """An uninitialised tensor of shape ``size`` whose dims lie in memory in the order
    ``physical_layout`` (``(0, 2, 3, 1)``: channels last), as torch.empty_permuted."""
    size, order = tuple(size), tuple(physical_layout)
    if sorted(order) != list(builtins.range(len(size))):
        raise RuntimeError(f"empty_permuted: physical_layout {list(order)} is not a "
                           f"permutation of the {len(size)} dims of size {list(size)}")
    phys = _creation.empty(tuple(size[d] for d in order), dtype=dtype, device=device)
    out = phys.permute(tuple(int(i) for i in np.argsort(order)))
    if requires_grad:
        out = out.detach().requires_grad_()
    return out


_histogramdd = namedtuple("histogramdd", ["hist", "bin_edges"])


def histogramdd(input, bins=10, *, range=None, weight=None, density=False):
    """The histogram of the points ``input[..., D]`` over D dims (torch.histogramdd): ``bins``
    an int, one int per dim, or one tensor of bin edges per dim; ``range`` the flat
    ``[min0, max0, min1, max1, ...]`` (default: each dim's min and max)."""
    if not input.is_floating_point():
        raise RuntimeError(f"torch.histogramdd: input tensor and bins tensors should have the "
                           f"same dtype, but got input {input.dtype}")
    pts = input._host().reshape(-1, input.shape[-1])
    d = pts.shape[1]
    np_dt = pts.dtype
    if isinstance(bins, (builtins.list, builtins.tuple)) and bins and \
            isinstance(bins[0], TensorBase):
        edges = [b._host() for b in bins]
    else:
        counts = [builtins.int(bins)] * d if isinstance(bins, (builtins.int, np.integer)) \
            else [builtins.int(b) for b in bins]
        if range is not None:
            lims = [(builtins.float(range[2 * i]), builtins.float(range[2 * i + 1]))
                    for i in builtins.range(d)]
        else:
            lims = [(builtins.float(pts[:, i].min()), builtins.float(pts[:, i].max()))
                    if len(pts) else (0.0, 1.0) for i in builtins.range(d)]
        edges = [np.linspace(lo, hi, n + 1, dtype=np_dt) for (lo, hi), n in zip(lims, counts)]
    w = None if weight is None else weight._host().reshape(-1)
    hist, _ = np.histogramdd(pts, bins=edges, weights=w, density=density)
    return _histogramdd(_creation.tensor(hist.astype(np_dt)),
                        tuple(_creation.tensor(np.asarray(e, dtype=np_dt)) for e in edges))


def lstm_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One LSTM step: ``hx = (h, c)`` -> ``(h', c')`` (nn.LSTMCell's)."""
    return _lstm_step(F.linear(input, w_ih, b_ih), tuple(hx), w_hh, b_hh)


def gru_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One GRU step: ``h -> h'`` (nn.GRUCell's)."""
    return _gru_step(F.linear(input, w_ih, b_ih), hx, w_hh, b_hh)


def rnn_tanh_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One Elman RNN step with tanh: ``h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)``."""
    return _rnn_step(F.tanh)(F.linear(input, w_ih, b_ih), hx, w_hh, b_hh)


def rnn_relu_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One Elman RNN step with ReLU."""
    return _rnn_step(F.relu)(F.linear(input, w_ih, b_ih), hx, w_hh, b_hh)




# ----------------------------------------------------------------------------- low-rank SVD
def _lowrank_input(name, A):
    if not isinstance(A, TensorBase):
        raise TypeError(f"{name}: expected A to be a Tensor, got {type(A).__name__}")
    if A.ndim < 2:
        raise ValueError(f"{name}: expected a matrix or a batch of matrices, got A of shape "
                         f"{list(A.shape)}")
    if not (A.is_floating_point() or A.is_complex()):
        raise RuntimeError(f"{name}: expected a floating point or complex A, got {A.dtype}")


def _check_rank(name, q):
    if isinstance(q, builtins.bool) or not isinstance(q, (builtins.int, np.integer)):
        raise TypeError(f"{name}: q must be an int, got {type(q).__name__}")
    if q < 0:
        raise RuntimeError(f"{name}: q must be non-negative, got {q}")
    return builtins.int(q)


def _range_finder(A, q, niter):
    """An orthonormal basis Q (..., m, q) of A's dominant column space: Gaussian sketch and
    ``niter`` rounds of subspace (power) iteration, re-orthonormalised each time."""
    omega = _creation.randn(*A.shape[:-2], A.shape[-1], q, dtype=A.dtype, device=A.device)
    Q = linalg.qr(A @ omega).Q
    for _ in builtins.range(niter):
        Q = linalg.qr(A.mH @ Q).Q
        Q = linalg.qr(A @ Q).Q
    return Q


def svd_lowrank(A, q=6, niter=2, M=None):
    """A rank-``q`` approximation ``A - M ~ U diag(S) V^H`` by the randomised range finder
    (Halko, Martinsson and Tropp): U (..., m, k), S (..., k), V (..., n, k) with
    k = min(q, m, n); differentiable through matmul, QR and SVD. Random: the sketch is drawn
    from the global generator (``manual_seed`` makes it repeatable)."""
    _lowrank_input("svd_lowrank", A)
    q = _check_rank("svd_lowrank", 6 if q is None else q)
    if M is not None:
        A = A - M
    m, n = A.shape[-2:]
    k = builtins.min(q, m, n)
    if m < n:   # sketch the wider side's transpose: the basis lives in the smaller space
        V, S, U = svd_lowrank(A.mH, k, niter)
        return U, S, V
    Q = _range_finder(A, k, builtins.int(niter))
    Ub, S, Vh = linalg.svd(Q.mH @ A, full_matrices=False)
    return Q @ Ub, S, Vh.mH


def pca_lowrank(A, q=None, center=True, niter=2):
    """Principal components of the rows of A (..., m, n): ``svd_lowrank`` of A less its
    column means (``center``), q defaulting to min(6, m, n). Returns (U, S, V); the
    principal directions are V's columns, the explained variances S^2 / (m - 1)."""
    _lowrank_input("pca_lowrank", A)
    m, n = A.shape[-2:]
    q = builtins.min(6, m, n) if q is None else _check_rank("pca_lowrank", q)
    if q > builtins.min(m, n):
        raise ValueError(f"pca_lowrank: q(={q}) must be non-negative integer and not greater "
                         f"than min(m, n)={builtins.min(m, n)}")
    M = A.mean(dim=-2, keepdim=True) if center else None
    return svd_lowrank(A, q, niter, M)


# ----------------------------------------------------------------------------- LOBPCG
def _ritz(a, bmul, S):
    """Rayleigh-Ritz on span(S): Ritz values (descending) and B-orthonormal vectors."""
    Q, _ = np.linalg.qr(S)
    As = Q.T @ a @ Q
    L = np.linalg.cholesky((lambda g: (g + g.T) / 2)(Q.T @ bmul(Q)))
    Li = np.linalg.inv(L)
    w, v = np.linalg.eigh((lambda c: (c + c.T) / 2)(Li @ As @ Li.T))
    return w[::-1], Q @ (Li.T @ v)[:, ::-1]


def _lobpcg_np(a, b, x, k, ik, niter, tol):
    """The k largest eigenpairs of the pencil (a, b) by Knyazev's LOBPCG: Rayleigh-Ritz on
    span[X, K R, P] each step, P the change of X. Stops when every wanted residual
    ||a x - l b x|| is below tol (||a x|| + |l| ||b x||)."""
    bmul = (lambda v: v) if b is None else (lambda v: b @ v)
    n = x.shape[1]
    w, V = _ritz(a, bmul, x)
    X, P = V[:, :n], None
    for _ in builtins.range(niter):
        ax, bx = a @ X, bmul(X)
        R = ax - bx * w[:n]
        scale = np.linalg.norm(ax, axis=0) + np.abs(w[:n]) * np.linalg.norm(bx, axis=0)
        if (np.linalg.norm(R[:, :k], axis=0) <= tol * scale[:k]).all():
            break
        W = R if ik is None else ik @ R
        w, V = _ritz(a, bmul, np.hstack([X, W] + ([] if P is None else [P])))
        new = V[:, :n]
        P = new - X @ (X.T @ bmul(new))
        X = new
    return w[:k].copy(), X[:, :k].copy()


class _LobpcgGrad(Function):
    """(E, X) of symmetric A with the exact gradient for simple eigenvalues: dE_i = x_i^T dA
    x_i and dx_i = (l_i - A)^+ dA x_i (the pseudo-inverse off x_i), symmetrised."""

    @staticmethod
    def forward(ctx, A, E, X):
        ctx.save_for_backward(A, E, X)
        return E.clone(), X.clone()

    @staticmethod
    def backward(ctx, gE, gX):
        A, E, X = ctx.saved_tensors
        a, e, x = A.detach()._host(), E._host(), X._host()
        lam, Q = np.linalg.eigh(a)
        g = np.zeros_like(a)
        ge = None if gE is None else gE._host()
        gx = None if gX is None else gX._host()
        for i in builtins.range(e.shape[-1]):
            xi = x[:, i]
            if ge is not None:
                g += ge[i] * np.outer(xi, xi)
            if gx is not None:
                gap = e[i] - lam
                keep = np.abs(gap) > 1e-10 * builtins.max(1.0, np.abs(lam).max())
                inv = np.where(keep, 1 / np.where(keep, gap, 1), 0)
                g += np.outer((Q * inv) @ (Q.T @ gx[:, i]), xi)
        g = (g + g.T) / 2
        return _creation.tensor(g.astype(a.dtype), device=A.device), None, None


def lobpcg(A, k=None, B=None, X=None, n=None, iK=None, niter=None, tol=None, largest=None,
           method=None, tracker=None, ortho_iparams=None, ortho_fparams=None,
           ortho_bparams=None):
    """The k largest (``largest=False``: smallest) eigenpairs of the symmetric positive
    definite generalized problem A x = l B x by LOBPCG (Knyazev 2001): ``(E, X)``, E (k,)
    and X (m, k) B-orthonormal. ``X`` an initial block (else n random columns, n = k), ``iK``
    a preconditioner, ``niter`` the step limit (1000), ``tol`` the relative residual (the
    dtype's sqrt(eps)). Differentiable in a dense A (B not requiring grad), exactly for
    simple eigenvalues. ``method``/``tracker``/``ortho_*`` are accepted for torch's
    signature; the Rayleigh-Ritz step orthonormalises with QR and Cholesky."""
    _lowrank_input("lobpcg", A)
    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise ValueError(f"lobpcg: expected a square matrix A, got {list(A.shape)} (batches "
                         "are not supported by Cadenza's lobpcg)")
    if method not in (None, "basic", "ortho"):
        raise ValueError(f"lobpcg: method must be 'basic' or 'ortho', got {method!r}")
    m = A.shape[0]
    if X is not None:
        if X.ndim != 2 or X.shape[0] != m:
            raise ValueError(f"lobpcg: expected X of shape ({m}, n), got {list(X.shape)}")
        k = X.shape[1] if k is None else k
        if n is not None and n != X.shape[1]:
            raise ValueError(f"lobpcg: n (={n}) must be X's number of columns "
                             f"(={X.shape[1]})")
        n = X.shape[1]
    k = 1 if k is None else _check_rank("lobpcg", k)
    n = k if n is None else _check_rank("lobpcg", n)
    if m < 3 * n:
        raise ValueError(f"LOBPCG algorithm is not applicable when the number of A rows (={m})"
                         f" is smaller than 3 x the number of requested eigenpairs (={n})")
    if k > n:
        raise ValueError(f"lobpcg: k (={k}) must not exceed n (={n})")
    if B is not None and B.requires_grad:
        raise NotImplementedError("lobpcg: gradients with respect to B are not supported")
    np_dt = np.float64 if A.dtype.name == "float64" else np.float32
    sign = 1.0 if largest is None or largest else -1.0
    a = sign * A.detach()._host().astype(np.float64)
    b = None if B is None else B.detach()._host().astype(np.float64)
    ik = None if iK is None else iK.detach()._host().astype(np.float64)
    x0 = (X.detach()._host() if X is not None else
          _creation.randn(m, n, dtype=A.dtype)._host()).astype(np.float64)
    tol = float(np.sqrt(np.finfo(np_dt).eps)) if tol is None else float(tol)
    e, v = _lobpcg_np(a, b, x0, k, ik, 1000 if niter is None else builtins.int(niter), tol)
    E = _creation.tensor((sign * e).astype(np_dt), device=A.device)
    V = _creation.tensor(v.astype(np_dt), device=A.device)
    if A.requires_grad:
        return _LobpcgGrad.apply(A, E, V)
    return E, V
