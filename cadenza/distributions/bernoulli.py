"""``Bernoulli(probs= | logits=)``: log_prob / entropy in the stable logits form."""
from __future__ import annotations

from .. import _creation as C
from ..ops import elementwise as E
from . import constraints
from .discrete import _probs_logits, _softplus
from .exp_family import ExponentialFamily
from .kl import register_kl

__all__ = ["Bernoulli"]


class Bernoulli(ExponentialFamily):
    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.boolean
    has_enumerate_support = True
    _mean_carrier_measure = 0

    @property
    def _natural_params(self):
        return (self.probs.log() - (-self.probs).log1p(),)

    def _log_normalizer(self, x):
        return x.exp().log1p()

    def __init__(self, probs=None, logits=None, validate_args=None):
        self.probs, self.logits = _probs_logits(probs, logits)
        super().__init__(self.probs.shape, validate_args=validate_args)

    def _sample(self, sample_shape):
        p = self.probs.detach().expand(self._extended_shape(sample_shape))
        return C.bernoulli(p)

    def enumerate_support(self, expand=True):
        return self._enumerate(C.tensor([0.0, 1.0], dtype=self.probs.dtype), expand)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        # -BCE with logits, written stably: v*l - softplus(l)
        return value * self.logits - _softplus(self.logits)

    def entropy(self):
        return _softplus(self.logits) - self.probs * self.logits

    @property
    def mean(self):
        return self.probs

    @property
    def mode(self):
        m = (self.probs >= 0.5).to(self.probs.dtype)
        return E.where(self.probs == 0.5, float("nan"), m)

    @property
    def variance(self):
        return self.probs * (1 - self.probs)


@register_kl(Bernoulli, Bernoulli)
def _kl_bernoulli_bernoulli(p, q):
    t1 = p.probs * (_softplus(-q.logits) - _softplus(-p.logits))
    t1 = E.where(p.probs == 0, 0.0, E.where(q.probs == 0, float("inf"), t1))
    t2 = (1 - p.probs) * (_softplus(q.logits) - _softplus(p.logits))
    t2 = E.where(p.probs == 1, 0.0, E.where(q.probs == 1, float("inf"), t2))
    return t1 + t2
