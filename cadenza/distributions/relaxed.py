"""Concrete / Gumbel-softmax relaxations, built as torch builds them:
``LogitRelaxedBernoulli`` (logistic, on the reals) under a SigmoidTransform is
``RelaxedBernoulli``; ``ExpRelaxedCategorical`` (log-simplex) under an ExpTransform is
``RelaxedOneHotCategorical``. All reparameterised (``rsample``)."""
from __future__ import annotations

from numbers import Number

from .. import _creation as C
from ..ops import reduce as R
from . import constraints
from .discrete import Categorical, _probs_logits, _softplus
from .distribution import Distribution, finfo_eps, finfo_tiny
from .transformed_distribution import TransformedDistribution
from .transforms import ExpTransform, SigmoidTransform
from .utils import clamp_probs

__all__ = ["LogitRelaxedBernoulli", "RelaxedBernoulli", "ExpRelaxedCategorical",
           "RelaxedOneHotCategorical"]


def _temperature(t, like):
    return t if not isinstance(t, Number) else C.tensor(float(t), dtype=like.dtype)


class _RelaxedOf(TransformedDistribution):
    """A relaxation read through its base: temperature, logits and probs."""

    @property
    def temperature(self):
        return self.base_dist.temperature

    @property
    def logits(self):
        return self.base_dist.logits

    @property
    def probs(self):
        return self.base_dist.probs


class LogitRelaxedBernoulli(Distribution):
    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.real

    def __init__(self, temperature, probs=None, logits=None, validate_args=None):
        scalar = isinstance(probs if probs is not None else logits, Number)
        self.probs, self.logits = _probs_logits(probs, logits)
        self.temperature = _temperature(temperature, self.probs)
        super().__init__(() if scalar else tuple(self.probs.shape),
                         validate_args=validate_args)

    @property
    def param_shape(self):
        return tuple(self.probs.shape)

    def expand(self, batch_shape, _instance=None):
        new = super().expand(batch_shape, _instance)
        new.temperature = self.temperature
        return new

    def _param_names(self):
        return ["probs", "logits"]

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        probs = clamp_probs(self.probs.expand(shape))
        u = clamp_probs(C.rand(shape, dtype=probs.dtype))
        return (u.log() - (-u).log1p() + probs.log() - (-probs).log1p()) / self.temperature

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        diff = self.logits - value * self.temperature
        return self.temperature.log() + diff - 2 * _softplus(diff)


class RelaxedBernoulli(_RelaxedOf):
    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.unit_interval
    has_rsample = True

    def __init__(self, temperature, probs=None, logits=None, validate_args=None):
        base_dist = LogitRelaxedBernoulli(temperature, probs, logits)
        super().__init__(base_dist, SigmoidTransform(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(RelaxedBernoulli, _instance)
        return super().expand(batch_shape, _instance=new)


class ExpRelaxedCategorical(Distribution):
    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}
    support = constraints.real_vector  # the true support is a submanifold of this
    has_rsample = True

    def __init__(self, temperature, probs=None, logits=None, validate_args=None):
        self._categorical = Categorical(probs, logits)
        self.temperature = _temperature(temperature, self._categorical.probs)
        super().__init__(self._categorical.batch_shape,
                         tuple(self._categorical.param_shape[-1:]),
                         validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(ExpRelaxedCategorical, _instance)
        batch_shape = tuple(batch_shape)
        new.temperature = self.temperature
        new._categorical = self._categorical.expand(batch_shape)
        Distribution.__init__(new, batch_shape, self._event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def param_shape(self):
        return self._categorical.param_shape

    @property
    def logits(self):
        return self._categorical.logits

    @property
    def probs(self):
        return self._categorical.probs

    def rsample(self, sample_shape=()):
        dt = self.logits.dtype
        u = C.rand(self._extended_shape(sample_shape), dtype=dt).clamp(finfo_tiny(dt),
                                                                       1 - finfo_eps(dt))
        scores = (self.logits - (-(u.log())).log()) / self.temperature
        return scores - R.logsumexp(scores, -1, keepdim=True)

    def log_prob(self, value):
        k = self._categorical._num_events
        if self._validate_args:
            self._validate_sample(value)
        log_scale = C.full_like(self.temperature, float(k)).lgamma() + \
            self.temperature.log() * (k - 1)
        score = self.logits - value * self.temperature
        score = (score - R.logsumexp(score, -1, keepdim=True)).sum(-1)
        return score + log_scale


class RelaxedOneHotCategorical(_RelaxedOf):
    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}
    support = constraints.simplex
    has_rsample = True

    def __init__(self, temperature, probs=None, logits=None, validate_args=None):
        base_dist = ExpRelaxedCategorical(temperature, probs, logits,
                                          validate_args=validate_args)
        super().__init__(base_dist, ExpTransform(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(RelaxedOneHotCategorical, _instance)
        return super().expand(batch_shape, _instance=new)
