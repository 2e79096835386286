"""Concrete / Gumbel-softmax relaxations: ``RelaxedBernoulli(temperature, probs|logits)`` and
``RelaxedOneHotCategorical(temperature, probs|logits)``, reparameterised (``rsample``), with
torch's log densities (of the logistic / exp-relaxed base pushed through sigmoid / exp)."""
from __future__ import annotations

from .. import _creation as C
from ..ops import reduce as R
from . import constraints
from .discrete import Categorical, _probs_logits, _softplus
from .distribution import Distribution, finfo_eps, finfo_tiny, params

__all__ = ["RelaxedBernoulli", "RelaxedOneHotCategorical"]


class RelaxedBernoulli(Distribution):
    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.unit_interval
    has_rsample = True

    def __init__(self, temperature, probs=None, logits=None, validate_args=None):
        probs, logits = _probs_logits(probs, logits)
        self.temperature, self.probs, self.logits = params(temperature, probs, logits)
        super().__init__(self.probs.shape, validate_args=validate_args)

    def rsample(self, sample_shape=()):
        eps = finfo_eps(self.probs.dtype)
        u = C.rand(self._extended_shape(sample_shape), dtype=self.probs.dtype).clamp(
            eps, 1 - eps)
        x = (u.log() - (-u).log1p() + self.logits) / self.temperature
        return x.sigmoid().clamp(eps, 1 - eps)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        x = value.log() - (-value).log1p()
        diff = self.logits - x * self.temperature
        base = self.temperature.log() + diff - 2 * _softplus(diff)
        return base + _softplus(-x) + _softplus(x)


class RelaxedOneHotCategorical(Distribution):
    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}
    support = constraints.simplex
    has_rsample = True

    def __init__(self, temperature, probs=None, logits=None, validate_args=None):
        cat = Categorical(probs, logits)
        self.probs, self.logits = cat.probs, cat.logits
        (self.temperature,) = params(temperature)
        super().__init__(self.probs.shape[:-1], self.probs.shape[-1:], validate_args)

    def rsample(self, sample_shape=()):
        dt = self.logits.dtype
        u = C.rand(self._extended_shape(sample_shape), dtype=dt).clamp(finfo_tiny(dt),
                                                                       1 - finfo_eps(dt))
        scores = (self.logits - (-(u.log())).log()) / self.temperature
        return (scores - R.logsumexp(scores, -1, keepdim=True)).exp()

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        k = self._event_shape[0]
        x = value.log()
        log_scale = C.tensor(float(k), dtype=self.logits.dtype).lgamma() + \
            self.temperature.log() * (k - 1)
        score = self.logits - x * self.temperature
        score = (score - R.logsumexp(score, -1, keepdim=True)).sum(-1)
        return score + log_scale - x.sum(-1)
