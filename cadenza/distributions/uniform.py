"""``Uniform(low, high)``: reparameterised, support the dependent interval [low, high)."""
from __future__ import annotations

from .. import _creation as C
from ..ops import elementwise as E
from . import constraints
from .distribution import Distribution, params
from .kl import register_kl

__all__ = ["Uniform"]


class Uniform(Distribution):
    arg_constraints = {"low": constraints.dependent(is_discrete=False, event_dim=0),
                       "high": constraints.dependent(is_discrete=False, event_dim=0)}
    has_rsample = True

    def __init__(self, low, high, validate_args=None):
        self.low, self.high = params(low, high)
        if validate_args is not False and not bool((self.low < self.high).all()):
            raise ValueError("Expected parameter low of distribution Uniform to be less than "
                             f"high, got low={self.low} and high={self.high}")
        super().__init__(self.low.shape, validate_args=validate_args)

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self):
        return constraints.interval(self.low, self.high)

    def rsample(self, sample_shape=()):
        u = C.rand(self._extended_shape(sample_shape), dtype=self.low.dtype)
        return self.low + u * (self.high - self.low)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        inside = (value >= self.low) & (value < self.high)
        lp = -(self.high - self.low).log()
        return E.where(inside, lp, float("-inf"))

    def entropy(self):
        return (self.high - self.low).log()

    def cdf(self, value):
        return ((value - self.low) / (self.high - self.low)).clamp(0, 1)

    def icdf(self, value):
        return value * (self.high - self.low) + self.low

    @property
    def mean(self):
        return (self.low + self.high) / 2

    @property
    def mode(self):
        return self.low * float("nan")

    @property
    def stddev(self):
        return (self.high - self.low) / 12 ** 0.5

    @property
    def variance(self):
        return (self.high - self.low).pow(2) / 12


@register_kl(Uniform, Uniform)
def _kl_uniform_uniform(p, q):
    result = ((q.high - q.low) / (p.high - p.low)).log()
    return E.where((q.low > p.low) | (q.high < p.high), float("inf"), result)
