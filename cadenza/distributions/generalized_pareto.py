"""``GeneralizedPareto(loc, scale, concentration)``: the peaks-over-threshold law (exponential
at concentration 0), reparameterised through its icdf."""
from __future__ import annotations

import math
from numbers import Number

from .. import _creation as C
from ..ops import elementwise as E
from . import constraints
from .distribution import Distribution
from .utils import broadcast_all

__all__ = ["GeneralizedPareto"]


class GeneralizedPareto(Distribution):
    arg_constraints = {"loc": constraints.real, "scale": constraints.positive,
                       "concentration": constraints.real}
    has_rsample = True

    def __init__(self, loc, scale, concentration, validate_args=None):
        self.loc, self.scale, self.concentration = broadcast_all(loc, scale, concentration)
        scalar = all(isinstance(v, Number) for v in (loc, scale, concentration))
        super().__init__(() if scalar else tuple(self.loc.shape), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(GeneralizedPareto, _instance)
        batch_shape = tuple(batch_shape)
        new.loc = self.loc.expand(batch_shape)
        new.scale = self.scale.expand(batch_shape)
        new.concentration = self.concentration.expand(batch_shape)
        Distribution.__init__(new, batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def rsample(self, sample_shape=()):
        return self.icdf(C.rand(self._extended_shape(sample_shape), dtype=self.loc.dtype))

    def _safe(self):
        """(concentration == 0 (isclose), concentration with its zeros replaced by 1)."""
        c = self.concentration
        eq_zero = c.abs() <= 1e-8
        return eq_zero, E.where(eq_zero, C.ones_like(c), c)

    def _z(self, x):
        return (x - self.loc) / self.scale

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        z = self._z(value)
        eq_zero, safe_conc = self._safe()
        y = 1 / safe_conc + C.ones_like(z)
        where_nonzero = E.where(y == 0, y, y * (safe_conc * z).log1p())
        return -self.scale.log() - E.where(eq_zero, z, where_nonzero)

    def log_survival_function(self, value):
        if self._validate_args:
            self._validate_sample(value)
        z = self._z(value)
        eq_zero, safe_conc = self._safe()
        return E.where(eq_zero, -z, -(safe_conc * z).log1p() / safe_conc)

    def log_cdf(self, value):
        return (-(self.log_survival_function(value).exp())).log1p()

    def cdf(self, value):
        return self.log_cdf(value).exp()

    def icdf(self, value):
        eq_zero, safe_conc = self._safe()
        logu = (-value).log1p()
        where_nonzero = self.loc + self.scale / safe_conc * (-safe_conc * logu).expm1()
        return E.where(eq_zero, self.loc - self.scale * logu, where_nonzero)

    @property
    def mean(self):
        c = self.concentration
        valid = c < 1
        safe = E.where(valid, c, 0.5)
        return E.where(valid, self.loc + self.scale / (1 - safe), math.nan)

    @property
    def variance(self):
        c = self.concentration
        valid = c < 0.5
        safe = E.where(valid, c, 0.25)
        return E.where(valid, self.scale ** 2 / ((1 - safe) ** 2 * (1 - 2 * safe)), math.nan)

    def entropy(self):
        return (self.scale.log() + self.concentration + 1).expand(self._batch_shape)

    @property
    def mode(self):
        return self.loc

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self):
        lower = self.loc
        upper = E.where(self.concentration < 0, lower - self.scale / self.concentration,
                        math.inf)
        return constraints.interval(lower, upper)
