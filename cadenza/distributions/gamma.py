"""The gamma family: ``Gamma(concentration, rate)``, ``Beta(concentration1, concentration0)``
and ``Dirichlet(concentration)``. Sampling draws from NumPy's gamma on Cadenza's generator
(so ``cadenza.manual_seed`` fixes it); ``rsample`` is reparameterised implicitly, as torch's:
dx/da = -(dP(a, x)/da) / p(x; a), with dP/da by a central difference of the regularized
incomplete gamma P."""
from __future__ import annotations

import math

import numpy as np

from .. import _creation as C
from ..autograd.function import Function
from ..ops.special import _gammainc, gammainc
from ..ops import elementwise as E
from ..random import _rng
from . import constraints
from .distribution import params
from .exp_family import ExponentialFamily
from .kl import register_kl

__all__ = ["Gamma", "Chi2", "Beta", "Dirichlet"]


class _StandardGamma(Function):
    @staticmethod
    def forward(ctx, conc, shape):
        a = np.broadcast_to(conc.detach().numpy(), shape)
        x = np.asarray(_rng(None).standard_gamma(a)).astype(a.dtype)   # 0-d: a float
        ctx.a, ctx.x, ctx.conc_shape = a, x, tuple(conc.shape)
        return C.tensor(x)

    @staticmethod
    def backward(ctx, g):
        a, x = ctx.a.astype(np.float64), ctx.x.astype(np.float64)
        h = 1e-5 * np.maximum(a, 1e-3)
        with np.errstate(all="ignore"):
            dp_da = (_gammainc(a + h, x, False) - _gammainc(a - h, x, False)) / (2 * h)
            log_pdf = (a - 1) * np.log(x) - x - np.vectorize(math.lgamma)(a)
            dx_da = np.nan_to_num(-dp_da / np.exp(log_pdf))
        grad = g * C.tensor(dx_da.astype(ctx.x.dtype))
        lead = grad.ndim - len(ctx.conc_shape)
        if lead:
            grad = grad.sum(tuple(range(lead)))
        for i, n in enumerate(ctx.conc_shape):
            if n == 1 and grad.shape[i] != 1:
                grad = grad.sum(i, keepdim=True)
        return grad, None


def _std_gamma(conc, shape):
    """Gamma(conc, 1) draws of ``shape`` (conc broadcast to its trailing dims), differentiable
    in ``conc`` (implicit reparameterisation)."""
    return _StandardGamma.apply(conc, tuple(shape))


def _lbeta_vec(c):
    return c.lgamma().sum(-1) - c.sum(-1).lgamma()


class Gamma(ExponentialFamily):
    arg_constraints = {"concentration": constraints.positive, "rate": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True
    _mean_carrier_measure = 0

    @property
    def _natural_params(self):
        return self.concentration - 1, -self.rate

    def _log_normalizer(self, x, y):
        return (x + 1).lgamma() + (x + 1) * (-y.reciprocal()).log()

    def __init__(self, concentration, rate, validate_args=None):
        self.concentration, self.rate = params(concentration, rate)
        super().__init__(self.rate.shape, validate_args=validate_args)

    @property
    def mean(self):
        return self.concentration / self.rate

    @property
    def mode(self):
        return ((self.concentration - 1) / self.rate).clamp(min=0)

    @property
    def variance(self):
        return self.concentration / self.rate.pow(2)

    def rsample(self, sample_shape=()):
        return _std_gamma(self.concentration, self._extended_shape(sample_shape)) / self.rate

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        c, r = self.concentration, self.rate
        return c * r.log() + (c - 1) * value.log() - r * value - c.lgamma()

    def cdf(self, value):
        return gammainc(self.concentration, self.rate * value)

    def entropy(self):
        c = self.concentration
        return c - self.rate.log() + c.lgamma() + (1.0 - c) * c.digamma()


class Chi2(Gamma):
    """Chi-squared with ``df`` degrees of freedom: Gamma(df / 2, 1 / 2)."""
    arg_constraints = {"df": constraints.positive}

    def __init__(self, df, validate_args=None):
        (df,) = params(df)
        super().__init__(0.5 * df, 0.5 * df.new_ones(()), validate_args=validate_args)

    @property
    def df(self):
        return self.concentration * 2


class Beta(ExponentialFamily):
    arg_constraints = {"concentration1": constraints.positive,
                       "concentration0": constraints.positive}
    support = constraints.unit_interval
    has_rsample = True

    @property
    def _natural_params(self):
        return self.concentration1, self.concentration0

    def _log_normalizer(self, x, y):
        return x.lgamma() + y.lgamma() - (x + y).lgamma()

    def __init__(self, concentration1, concentration0, validate_args=None):
        self.concentration1, self.concentration0 = params(concentration1, concentration0)
        super().__init__(self.concentration1.shape, validate_args=validate_args)

    def _ab(self):
        return self.concentration1, self.concentration0

    @property
    def mean(self):
        a, b = self._ab()
        return a / (a + b)

    @property
    def mode(self):
        # torch's Dirichlet rule: clamped (c - 1) normalised; when all c < 1, the largest c
        a, b = self._ab()
        m1, m0 = (a - 1).clamp(min=0), (b - 1).clamp(min=0)
        return E.where((a < 1) & (b < 1), (a > b).to(a.dtype), m1 / (m1 + m0))

    @property
    def variance(self):
        a, b = self._ab()
        t = a + b
        return a * b / (t.pow(2) * (t + 1))

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        x = _std_gamma(self.concentration1, shape)
        y = _std_gamma(self.concentration0, shape)
        return x / (x + y)

    def _lbeta(self):
        a, b = self._ab()
        return a.lgamma() + b.lgamma() - (a + b).lgamma()

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        a, b = self._ab()
        return (a - 1) * value.log() + (b - 1) * (-value).log1p() - self._lbeta()

    def entropy(self):
        a, b = self._ab()
        t = a + b
        return self._lbeta() - (a - 1) * a.digamma() - (b - 1) * b.digamma() + \
            (t - 2) * t.digamma()


class Dirichlet(ExponentialFamily):
    arg_constraints = {"concentration": constraints.independent(constraints.positive, 1)}
    support = constraints.simplex
    has_rsample = True

    @property
    def _natural_params(self):
        return (self.concentration,)

    def _log_normalizer(self, x):
        return x.lgamma().sum(-1) - x.sum(-1).lgamma()

    def __init__(self, concentration, validate_args=None):
        if concentration.ndim < 1:
            raise ValueError("`concentration` parameter must be at least one-dimensional.")
        self.concentration = concentration
        super().__init__(concentration.shape[:-1], concentration.shape[-1:], validate_args)

    @property
    def mean(self):
        return self.concentration / self.concentration.sum(-1, keepdim=True)

    @property
    def mode(self):
        c = self.concentration
        m = (c - 1).clamp(min=0)
        m = m / m.sum(-1, keepdim=True)
        top = (c == c.max(-1, keepdim=True).values).to(c.dtype)
        return E.where((c < 1).all(-1, keepdim=True), top, m)

    @property
    def variance(self):
        c = self.concentration
        a0 = c.sum(-1, keepdim=True)
        return c * (a0 - c) / (a0.pow(2) * (a0 + 1))

    def rsample(self, sample_shape=()):
        g = _std_gamma(self.concentration, self._extended_shape(sample_shape))
        return g / g.sum(-1, keepdim=True)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        c = self.concentration
        return ((c - 1) * value.log()).sum(-1) - _lbeta_vec(c)

    def entropy(self):
        c = self.concentration
        k = c.shape[-1]
        a0 = c.sum(-1)
        return _lbeta_vec(c) + (a0 - k) * a0.digamma() - ((c - 1) * c.digamma()).sum(-1)


@register_kl(Gamma, Gamma)
def _kl_gamma(p, q):
    pc, qc = p.concentration, q.concentration
    return qc * (p.rate / q.rate).log() + qc.lgamma() - pc.lgamma() + \
        (pc - qc) * pc.digamma() + (q.rate - p.rate) * (pc / p.rate)


@register_kl(Beta, Beta)
def _kl_beta(p, q):
    sp = p.concentration1 + p.concentration0
    sq = q.concentration1 + q.concentration0
    t1 = q.concentration1.lgamma() + q.concentration0.lgamma() + sp.lgamma()
    t2 = p.concentration1.lgamma() + p.concentration0.lgamma() + sq.lgamma()
    t3 = (p.concentration1 - q.concentration1) * p.concentration1.digamma()
    t4 = (p.concentration0 - q.concentration0) * p.concentration0.digamma()
    return t1 - t2 + t3 + t4 + (sq - sp) * sp.digamma()


@register_kl(Dirichlet, Dirichlet)
def _kl_dirichlet(p, q):
    sp, sq = p.concentration.sum(-1), q.concentration.sum(-1)
    t2 = (p.concentration.lgamma() - q.concentration.lgamma()).sum(-1)
    t4 = p.concentration.digamma() - sp.digamma().unsqueeze(-1)
    return sp.lgamma() - sq.lgamma() - t2 + ((p.concentration - q.concentration) * t4).sum(-1)
