"""Location-scale families: ``LogNormal``, ``StudentT``, ``Cauchy``, ``Gumbel``. LogNormal,
Cauchy and Gumbel are reparameterised (``rsample``); StudentT samples by NumPy's standard_t on
Cadenza's generator."""
from __future__ import annotations

import math

from .. import _creation as C
from ..ops import elementwise as E
from ..random import _rng
from . import constraints
from .distribution import Distribution, LocScale, params

__all__ = ["HalfNormal", "LogNormal", "StudentT", "Cauchy", "Gumbel"]

_EULER = 0.57721566490153286060


class HalfNormal(Distribution):
    arg_constraints = {"scale": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True

    def __init__(self, scale, validate_args=None):
        (self.scale,) = params(scale)
        super().__init__(self.scale.shape, validate_args=validate_args)

    @property
    def mean(self):
        return self.scale * math.sqrt(2 / math.pi)

    @property
    def mode(self):
        return self.scale * 0

    @property
    def variance(self):
        return self.scale.pow(2) * (1 - 2 / math.pi)

    def rsample(self, sample_shape=()):
        eps = C.randn(self._extended_shape(sample_shape), dtype=self.scale.dtype)
        return (eps * self.scale).abs()

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        lp = -(value ** 2) / (2 * self.scale.pow(2)) - self.scale.log() + \
            0.5 * math.log(2 / math.pi)
        return E.where(value >= 0, lp, float("-inf"))

    def cdf(self, value):
        return E.erf(value / (self.scale * math.sqrt(2)))

    def icdf(self, prob):
        return prob.erfinv() * math.sqrt(2) * self.scale

    def entropy(self):
        return 0.5 * math.log(math.pi / 2) + 0.5 + self.scale.log()


class LogNormal(LocScale):
    support = constraints.positive

    @property
    def mean(self):
        return (self.loc + self.scale.pow(2) / 2).exp()

    @property
    def mode(self):
        return (self.loc - self.scale.pow(2)).exp()

    @property
    def variance(self):
        s2 = self.scale.pow(2)
        return s2.expm1() * (2 * self.loc + s2).exp()

    def rsample(self, sample_shape=()):
        eps = C.randn(self._extended_shape(sample_shape), dtype=self.loc.dtype)
        return (self.loc + eps * self.scale).exp()

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        y = value.log()
        return -((y - self.loc) ** 2) / (2 * self.scale.pow(2)) - self.scale.log() - \
            0.5 * math.log(2 * math.pi) - y

    def cdf(self, value):
        return 0.5 * (1 + E.erf((value.log() - self.loc) / (self.scale * math.sqrt(2))))

    def entropy(self):
        return 0.5 + 0.5 * math.log(2 * math.pi) + self.scale.log() + self.loc


class Cauchy(LocScale):
    @property
    def mean(self):
        return self.loc * float("nan")

    @property
    def variance(self):
        return self.loc * 0 + float("inf")

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return -math.log(math.pi) - self.scale.log() - \
            (((value - self.loc) / self.scale) ** 2).log1p()

    def cdf(self, value):
        return ((value - self.loc) / self.scale).atan() / math.pi + 0.5

    def icdf(self, value):
        return (math.pi * (value - 0.5)).tan() * self.scale + self.loc

    def entropy(self):
        return math.log(4 * math.pi) + self.scale.log()


class Gumbel(LocScale):
    @property
    def mean(self):
        return self.loc + self.scale * _EULER

    @property
    def variance(self):
        return self.scale.pow(2) * (math.pi ** 2 / 6)

    @property
    def stddev(self):
        return self.scale * (math.pi / math.sqrt(6))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        z = (value - self.loc) / self.scale
        return -(z + (-z).exp()) - self.scale.log()

    def cdf(self, value):
        return (-(-(value - self.loc) / self.scale).exp()).exp()

    def icdf(self, value):
        return self.loc - self.scale * (-(value.log())).log()

    def entropy(self):
        return self.scale.log() + (1 + _EULER)


class StudentT(Distribution):
    arg_constraints = {"df": constraints.positive, "loc": constraints.real,
                       "scale": constraints.positive}
    support = constraints.real

    def __init__(self, df, loc=0.0, scale=1.0, validate_args=None):
        self.df, self.loc, self.scale = params(df, loc, scale)
        super().__init__(self.df.shape, validate_args=validate_args)

    @property
    def mean(self):
        return E.where(self.df > 1, self.loc, float("nan"))

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        df = self.df
        v = self.scale.pow(2) * df / (df - 2)
        return E.where(df > 2, v, E.where(df > 1, float("inf"), float("nan")))

    def _sample(self, sample_shape):
        shape = self._extended_shape(sample_shape)
        df = self.df.detach().numpy()
        t = C.tensor(_rng(None).standard_t(df, size=shape).astype(df.dtype))
        return self.loc.detach() + self.scale.detach() * t

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        df = self.df
        y = (value - self.loc) / self.scale
        z = self.scale.log() + 0.5 * df.log() + 0.5 * math.log(math.pi) + \
            (0.5 * df).lgamma() - (0.5 * (df + 1)).lgamma()
        return -0.5 * (df + 1) * (y.pow(2) / df).log1p() - z

    def entropy(self):
        df = self.df
        lbeta = (0.5 * df).lgamma() + math.lgamma(0.5) - (0.5 * (df + 1)).lgamma()
        return self.scale.log() + 0.5 * (df + 1) * ((0.5 * (df + 1)).digamma() -
                                                    (0.5 * df).digamma()) + \
            0.5 * df.log() + lbeta
