"""``MultivariateNormal(loc, covariance_matrix= | precision_matrix= | scale_tril=)``: kept as
its lower Cholesky factor; log_prob / entropy / KL use triangular solves (differentiable)."""
from __future__ import annotations

import math

from .. import _creation as C
from .. import linalg
from ..ops.shape import broadcast_shapes
from . import constraints
from .distribution import Distribution
from .kl import register_kl

__all__ = ["MultivariateNormal"]


def _batch_mahalanobis(L, x):
    """|L^{-1} x|^2 over the last dim (L and x broadcast over batch dims)."""
    shape = broadcast_shapes(tuple(L.shape[:-2]), tuple(x.shape[:-1]))
    k = L.shape[-1]
    y = linalg.solve_triangular(L.expand(shape + (k, k)), x.expand(shape + (k,)).unsqueeze(-1),
                                upper=False)
    return y.squeeze(-1).pow(2).sum(-1)


def _half_log_det(L):
    return L.diagonal(dim1=-2, dim2=-1).log().sum(-1)


class MultivariateNormal(Distribution):
    arg_constraints = {"loc": constraints.real_vector,
                       "covariance_matrix": constraints.positive_definite,
                       "precision_matrix": constraints.positive_definite,
                       "scale_tril": constraints.lower_cholesky}
    support = constraints.real_vector
    has_rsample = True

    def __init__(self, loc, covariance_matrix=None, precision_matrix=None, scale_tril=None,
                 validate_args=None):
        if loc.ndim < 1:
            raise ValueError("loc must be at least one-dimensional.")
        given = [m for m in (covariance_matrix, precision_matrix, scale_tril) if m is not None]
        if len(given) != 1:
            raise ValueError("Exactly one of covariance_matrix or precision_matrix or "
                             "scale_tril may be specified.")
        m = given[0]
        if m.ndim < 2:
            raise ValueError("scale_tril, covariance_matrix or precision_matrix must be at "
                             "least two-dimensional, with optional leading batch dimensions")
        batch = broadcast_shapes(tuple(m.shape[:-2]), tuple(loc.shape[:-1]))
        k = loc.shape[-1]
        if scale_tril is not None:
            self.scale_tril = scale_tril.expand(batch + (k, k))
            self._unbroadcasted_scale_tril = scale_tril
        elif covariance_matrix is not None:
            self.covariance_matrix = covariance_matrix.expand(batch + (k, k))
            self._unbroadcasted_scale_tril = linalg.cholesky(covariance_matrix)
        else:
            self.precision_matrix = precision_matrix.expand(batch + (k, k))
            self._unbroadcasted_scale_tril = linalg.cholesky(linalg.inv(precision_matrix))
        self.loc = loc.expand(batch + (k,))
        super().__init__(batch, (k,), validate_args=validate_args)

    def _param_names(self):
        return [n for n in ("loc", "scale_tril", "covariance_matrix", "precision_matrix")
                if n in self.__dict__]

    def expand(self, batch_shape, _instance=None):
        new = super().expand(batch_shape)
        new._unbroadcasted_scale_tril = self._unbroadcasted_scale_tril
        return new

    def _L(self):
        return self._unbroadcasted_scale_tril

    def __getattr__(self, name):
        L = self.__dict__.get("_unbroadcasted_scale_tril")
        if L is None:
            raise AttributeError(name)
        shape = self.__dict__["_batch_shape"] + self.__dict__["_event_shape"] * 2
        if name == "scale_tril":
            return L.expand(shape)
        if name == "covariance_matrix":
            return (L @ L.transpose(-1, -2)).expand(shape)
        if name == "precision_matrix":
            return linalg.inv(L @ L.transpose(-1, -2)).expand(shape)
        raise AttributeError(f"'MultivariateNormal' object has no attribute '{name}'")

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        return self._L().pow(2).sum(-1).expand(self._batch_shape + self._event_shape)

    def rsample(self, sample_shape=()):
        eps = C.randn(self._extended_shape(sample_shape), dtype=self.loc.dtype)
        return self.loc + (self._L() @ eps.unsqueeze(-1)).squeeze(-1)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        k = self._event_shape[0]
        m = _batch_mahalanobis(self._L(), value - self.loc)
        return -0.5 * (k * math.log(2 * math.pi) + m) - _half_log_det(self._L())

    def entropy(self):
        k = self._event_shape[0]
        h = 0.5 * k * (1.0 + math.log(2 * math.pi)) + _half_log_det(self._L())
        return h.expand(self._batch_shape) if self._batch_shape else h


@register_kl(MultivariateNormal, MultivariateNormal)
def _kl_mvn_mvn(p, q):
    if p.event_shape != q.event_shape:
        raise ValueError("KL-divergence between two Multivariate Normals with different event "
                         "shapes cannot be computed")
    k = p.event_shape[0]
    Lp, Lq = p._L(), q._L()
    shape = broadcast_shapes(tuple(Lp.shape[:-2]), tuple(Lq.shape[:-2]))
    term2 = linalg.solve_triangular(Lq.expand(shape + (k, k)), Lp.expand(shape + (k, k)),
                                    upper=False).pow(2).sum((-2, -1))
    term3 = _batch_mahalanobis(Lq, q.loc - p.loc)
    return _half_log_det(Lq) - _half_log_det(Lp) + 0.5 * (term2 + term3 - k)
