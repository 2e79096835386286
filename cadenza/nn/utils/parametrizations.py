"""``torch.nn.utils.parametrizations``: weight normalisation, spectral normalisation and
orthogonal matrices as parametrizations (``nn.utils.parametrize``), with torch's state-dict
keys (``parametrizations.weight.original0`` ...)."""
from __future__ import annotations

from ... import _torch_functions
from ... import functional as F
from ... import linalg
from ...ops import cat
from ...dtypes import finfo
from ...autograd.grad_mode import no_grad
from ..._tensor import Tensor
from ..modules.module import Module
from . import parametrize
from .spectral_norm import _is_transposed_conv

__all__ = ["weight_norm", "spectral_norm", "orthogonal"]


def _weight_norm(v, g, dim):
    return v * (g / _torch_functions.norm_except_dim(v, 2, dim))


class _WeightNorm(Module):
    def __init__(self, dim=0):
        super().__init__()
        self.dim = -1 if dim is None else dim

    def forward(self, weight_g, weight_v):
        return _weight_norm(weight_v, weight_g, self.dim)

    def right_inverse(self, weight):
        return _torch_functions.norm_except_dim(weight, 2, self.dim), weight


def weight_norm(module, name="weight", dim=0):
    """``module.<name> = g * v / ||v||`` with the norm over every dim but ``dim`` (None: the
    whole tensor); g is ``parametrizations.<name>.original0``, v ``original1``."""
    parametrize.register_parametrization(module, name, _WeightNorm(dim), unsafe=True)
    return module


class _SpectralNorm(Module):
    def __init__(self, weight, n_power_iterations=1, dim=0, eps=1e-12):
        super().__init__()
        ndim = weight.dim()
        if dim >= ndim or dim < -ndim:
            raise IndexError(f"Dimension out of range (expected to be in range of [-{ndim}, "
                             f"{ndim - 1}] but got {dim})")
        if n_power_iterations <= 0:
            raise ValueError(f"Expected n_power_iterations to be positive, but got "
                             f"n_power_iterations={n_power_iterations}")
        self.dim = dim if dim >= 0 else dim + ndim
        self.eps = eps
        if ndim > 1:
            self.n_power_iterations = n_power_iterations
            mat = self._matrix(weight)
            h, w = mat.shape
            u = F.normalize(mat.new_empty(h).normal_(0, 1), dim=0, eps=eps)
            v = F.normalize(mat.new_empty(w).normal_(0, 1), dim=0, eps=eps)
            self.register_buffer("_u", u)
            self.register_buffer("_v", v)
            self._power_method(mat, 15)

    def _matrix(self, weight):
        if self.dim != 0:
            weight = weight.permute(self.dim, *(d for d in range(weight.dim()) if d != self.dim))
        return weight.flatten(1)

    def _power_method(self, mat, n):
        """Refine the estimates of the leading singular vectors in place (no gradient)."""
        with no_grad():
            for _ in range(n):
                self._u.copy_(F.normalize(mat @ self._v, dim=0, eps=self.eps))
                self._v.copy_(F.normalize(mat.mH @ self._u, dim=0, eps=self.eps))

    def forward(self, weight):
        if weight.dim() == 1:
            return F.normalize(weight, dim=0, eps=self.eps)
        mat = self._matrix(weight)
        if self.training:
            self._power_method(mat.detach(), self.n_power_iterations)
        u, v = self._u.clone(), self._v.clone()
        sigma = (u.conj() * (mat @ v)).sum()
        return weight / sigma

    def right_inverse(self, value):
        return value


def spectral_norm(module, name="weight", n_power_iterations=1, eps=1e-12, dim=None):
    """``module.<name>`` divided by its largest singular value, estimated by power iteration
    (one step per training-mode access; buffers ``_u``/``_v`` on the parametrization)."""
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"Module '{module}' has no parameter or buffer with name '{name}'")
    if dim is None:
        dim = 1 if _is_transposed_conv(module) else 0
    parametrize.register_parametrization(module, name, _SpectralNorm(weight, n_power_iterations,
                                                                     dim, eps))
    return module


class _Orthogonal(Module):
    """A matrix with orthonormal columns (rows, if wide) from an unconstrained one: the
    matrix exponential or Cayley map of its skew-symmetric part, or the Householder product of
    its strict lower triangle (torch's three maps). With trivialization (the default), the
    result is ``base @ map(X)``, and assigning a matrix stores it in ``base``."""

    def __init__(self, weight, orthogonal_map, use_trivialization=True):
        super().__init__()
        if weight.is_complex() and orthogonal_map == "householder":
            raise ValueError("The householder parametrization does not support complex "
                             "tensors.")
        self.shape = tuple(weight.shape)
        self.orthogonal_map = orthogonal_map
        if use_trivialization:
            self.register_buffer("base", None)

    def forward(self, X):
        n, k = X.shape[-2], X.shape[-1]
        transposed = n < k
        if transposed:
            X = X.mT
            n, k = k, n
        if self.orthogonal_map in ("matrix_exp", "cayley"):
            X = X.tril()
            if n != k:
                X = cat([X, X.new_zeros(tuple(X.shape[:-1]) + (n - k,))], -1)
            A = X - X.mH
            if self.orthogonal_map == "matrix_exp":
                Q = linalg.matrix_exp(A)
            else:
                eye = _identity(A)
                Q = linalg.solve(eye - A / 2, eye + A / 2)
            if n != k:
                Q = Q[..., :k]
        else:
            A = X.tril(diagonal=-1)
            tau = 2.0 / (1.0 + (A * A.conj()).sum(dim=-2))
            Q = linalg.householder_product(A, tau)
            Q = Q * X.diagonal(dim1=-2, dim2=-1).int().unsqueeze(-2)
        if getattr(self, "base", None) is not None:
            Q = self.base @ Q
        return Q.mT if transposed else Q

    def right_inverse(self, Q):
        if tuple(Q.shape) != self.shape:
            raise ValueError(f"Expected a matrix or batch of matrices of shape {self.shape}. "
                             f"Got a tensor of shape {tuple(Q.shape)}.")
        if "base" not in self._buffers:
            raise NotImplementedError("Assigning to an orthogonal parametrization needs "
                                      "use_trivialization=True (Cadenza, like torch for the "
                                      "matrix_exp and Cayley maps, does not invert the maps)")
        with no_grad():
            Q_init = Q
            n, k = Q.shape[-2], Q.shape[-1]
            if n < k:
                Q = Q.mT
                n, k = k, n
            if n != k:       # complete the columns to a square matrix
                Q = _make_orthogonal(cat([Q, Q.new_empty(tuple(Q.shape[:-1]) +
                                                         (n - k,)).normal_()], -1))
            elif not _is_orthogonal(Q):
                Q = _make_orthogonal(Q)
            else:
                Q = Q.clone()
            self.base = Q
            # the map of -I's lower triangle is the identity, so base @ map(-I) = base
            return -_identity(Q_init)


def _identity(A):
    """An identity of A's (possibly rectangular, batched) shape."""
    out = A.new_zeros(tuple(A.shape))
    out.diagonal(dim1=-2, dim2=-1).fill_(1)
    return out


def _is_orthogonal(Q):
    eps = 10.0 * Q.shape[-2] * finfo(Q.dtype).eps
    return bool(((Q.mH @ Q - _identity(Q.mH @ Q)).abs() <= eps).all())


def _make_orthogonal(A):
    """Q of A's QR decomposition with R's diagonal made positive: the unique orthogonal
    matrix of that decomposition."""
    Q, R = linalg.qr(A)
    return Q * R.diagonal(dim1=-2, dim2=-1).sgn().unsqueeze(-2)


def orthogonal(module, name="weight", orthogonal_map=None, *, use_trivialization=True):
    """``module.<name>`` (a matrix or batch of them) constrained to have orthonormal columns
    (or rows, if wide), by the "matrix_exp", "cayley" or "householder" map."""
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"Module '{module}' has no parameter or buffer with name '{name}'")
    if weight.dim() < 2:
        raise ValueError(f"Expected a matrix or batch of matrices. Got a tensor of "
                         f"{weight.dim()} dimensions.")
    if orthogonal_map is None:
        orthogonal_map = "matrix_exp" if weight.shape[-2] == weight.shape[-1] or \
            weight.is_complex() else "householder"
    if orthogonal_map not in ("matrix_exp", "cayley", "householder"):
        raise ValueError(f'orthogonal_map has to be one of "matrix_exp", "cayley", '
                         f'"householder". Got: {orthogonal_map}')
    parametrize.register_parametrization(module, name, _Orthogonal(weight, orthogonal_map,
                                                                   use_trivialization),
                                         unsafe=True)
    return module
