"""``HalfCauchy(scale)``: |X| for X ~ Cauchy(0, scale), a TransformedDistribution through
AbsTransform (reparameterised)."""
from __future__ import annotations

import math

from .. import _creation as C
from .location_scale import Cauchy, _Folded

__all__ = ["HalfCauchy"]


class HalfCauchy(_Folded):
    _base = Cauchy

    @property
    def mean(self):
        return C.full(self._extended_shape(), math.inf, dtype=self.scale.dtype)

    @property
    def variance(self):
        return self.base_dist.variance
