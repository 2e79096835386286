"""``ContinuousBernoulli(probs= | logits=, lims=(0.499, 0.501))``: the [0, 1]-supported
exponential family with density proportional to p^x (1-p)^(1-x) (Loaiza-Ganem & Cunningham
2019); near p = 1/2 its normaliser, mean and variance use torch's Taylor expansions.
Reparameterised through the icdf."""
from __future__ import annotations

import math
from numbers import Number

from .. import _creation as C
from ..autograd.grad_mode import no_grad
from ..functional import binary_cross_entropy_with_logits
from ..ops import elementwise as E
from . import constraints
from .exp_family import ExponentialFamily
from .utils import broadcast_all, clamp_probs, probs_to_logits

__all__ = ["ContinuousBernoulli"]


class ContinuousBernoulli(ExponentialFamily):
    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.unit_interval
    _mean_carrier_measure = 0
    has_rsample = True

    def __init__(self, probs=None, logits=None, lims=(0.499, 0.501), validate_args=None):
        if (probs is None) == (logits is None):
            raise ValueError("Either `probs` or `logits` must be specified, but not both.")
        if probs is not None:
            scalar = isinstance(probs, Number)
            (p,) = broadcast_all(probs)
            if validate_args is not None and not bool(
                    self.arg_constraints["probs"].check(p).all()):
                raise ValueError("The parameter probs has invalid values")
            self.probs = clamp_probs(p)
            self.logits = probs_to_logits(self.probs, is_binary=True)
        else:
            scalar = isinstance(logits, Number)
            (self.logits,) = broadcast_all(logits)
            self.probs = clamp_probs(self.logits.sigmoid())
        self._lims = lims
        super().__init__(() if scalar else tuple(self.probs.shape), validate_args=validate_args)

    @property
    def param_shape(self):
        return tuple(self.probs.shape)

    def _outside_unstable_region(self):
        return (self.probs <= self._lims[0]) | (self.probs > self._lims[1])

    def _cut_probs(self):
        return E.where(self._outside_unstable_region(), self.probs,
                       self._lims[0] * C.ones_like(self.probs))

    def _cont_bern_log_norm(self):
        cut = self._cut_probs()
        below = E.where(cut <= 0.5, cut, C.zeros_like(cut))
        above = E.where(cut >= 0.5, cut, C.ones_like(cut))
        log_norm = ((-cut).log1p() - cut.log()).abs().log() - \
            E.where(cut <= 0.5, (-2.0 * below).log1p(), (2.0 * above - 1.0).log())
        x = (self.probs - 0.5).pow(2)
        taylor = math.log(2.0) + (4.0 / 3.0 + 104.0 / 45.0 * x) * x
        return E.where(self._outside_unstable_region(), log_norm, taylor)

    @property
    def mean(self):
        cut = self._cut_probs()
        mus = cut / (2.0 * cut - 1.0) + 1.0 / ((-cut).log1p() - cut.log())
        x = self.probs - 0.5
        taylor = 0.5 + (1.0 / 3.0 + 16.0 / 45.0 * x.pow(2)) * x
        return E.where(self._outside_unstable_region(), mus, taylor)

    @property
    def stddev(self):
        return self.variance.sqrt()

    @property
    def variance(self):
        cut = self._cut_probs()
        vs = cut * (cut - 1.0) / (1.0 - 2.0 * cut).pow(2) + \
            1.0 / ((-cut).log1p() - cut.log()).pow(2)
        x = (self.probs - 0.5).pow(2)
        taylor = 1.0 / 12.0 - (1.0 / 15.0 - 128.0 / 945.0 * x) * x
        return E.where(self._outside_unstable_region(), vs, taylor)

    def sample(self, sample_shape=()):
        u = C.rand(self._extended_shape(sample_shape), dtype=self.probs.dtype)
        with no_grad():
            return self.icdf(u)

    def rsample(self, sample_shape=()):
        return self.icdf(C.rand(self._extended_shape(sample_shape), dtype=self.probs.dtype))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        return -binary_cross_entropy_with_logits(logits, value, reduction="none") + \
            self._cont_bern_log_norm()

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        cut = self._cut_probs()
        cdfs = (cut.pow(value) * (1.0 - cut).pow(1.0 - value) + cut - 1.0) / (2.0 * cut - 1.0)
        unbounded = E.where(self._outside_unstable_region(), cdfs, value)
        return E.where(value <= 0.0, C.zeros_like(value),
                       E.where(value >= 1.0, C.ones_like(value), unbounded))

    def icdf(self, value):
        cut = self._cut_probs()
        return E.where(self._outside_unstable_region(),
                       ((-cut + value * (2.0 * cut - 1.0)).log1p() - (-cut).log1p()) /
                       (cut.log() - (-cut).log1p()), value)

    def entropy(self):
        log_p0, log_p1 = (-self.probs).log1p(), self.probs.log()
        return self.mean * (log_p0 - log_p1) - self._cont_bern_log_norm() - log_p0

    @property
    def _natural_params(self):
        return (self.logits,)

    def _log_normalizer(self, x):
        out = (x <= self._lims[0] - 0.5) | (x > self._lims[1] - 0.5)
        cut = E.where(out, x, (self._lims[0] - 0.5) * C.ones_like(x))
        log_norm = cut.expm1().abs().log() - cut.abs().log()
        taylor = 0.5 * x + x.pow(2) / 24.0 - x.pow(4) / 2880.0
        return E.where(out, log_norm, taylor)
