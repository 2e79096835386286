"""``NegativeBinomial(total_count, probs= | logits=)``: the number of successes before
``total_count`` failures; sampled as a Gamma-Poisson mixture on Cadenza's generator."""
from __future__ import annotations

from .. import _creation as C
from ..autograd.grad_mode import no_grad
from ..functional import logsigmoid
from ..ops import elementwise as E
from . import constraints
from .discrete import _probs_logits
from .distribution import Distribution
from .gamma import Gamma
from .utils import broadcast_all

__all__ = ["NegativeBinomial"]


class NegativeBinomial(Distribution):
    arg_constraints = {"total_count": constraints.greater_than_eq(0),
                       "probs": constraints.half_open_interval(0.0, 1.0),
                       "logits": constraints.real}
    support = constraints.nonnegative_integer

    def __init__(self, total_count, probs=None, logits=None, validate_args=None):
        probs, logits = _probs_logits(probs, logits)
        self.total_count, self.probs, self.logits = broadcast_all(total_count, probs, logits)
        self.total_count = self.total_count.to(self.probs.dtype)
        super().__init__(tuple(self.probs.shape), validate_args=validate_args)

    @property
    def param_shape(self):
        return tuple(self.probs.shape)

    @property
    def mean(self):
        return self.total_count * self.logits.exp()

    @property
    def mode(self):
        return ((self.total_count - 1) * self.logits.exp()).floor().clamp(min=0.0)

    @property
    def variance(self):
        return self.mean / (-self.logits).sigmoid()

    @property
    def _gamma(self):
        return Gamma(concentration=self.total_count, rate=(-self.logits).exp(),
                     validate_args=False)

    def sample(self, sample_shape=()):
        with no_grad():
            rate = self._gamma.sample(sample_shape)
            return C.poisson(rate)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        n = self.total_count
        log_unnormalized = n * logsigmoid(-self.logits) + value * logsigmoid(self.logits)
        log_norm = -(n + value).lgamma() + (1.0 + value).lgamma() + n.lgamma()
        log_norm = E.where(n + value == 0.0, 0.0, log_norm)
        return log_unnormalized - log_norm
