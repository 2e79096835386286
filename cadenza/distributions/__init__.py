"""cadenza.distributions: torch.distributions' families with PyTorch's names and semantics
(batch_shape / event_shape, arg_constraints and support from ``constraints``, validation,
``expand``). log_prob / entropy / cdf are differentiable composites; ``rsample`` is
reparameterised where torch's is (Normal, Uniform, Exponential, Laplace, LogNormal, Cauchy,
Gumbel, HalfNormal, MultivariateNormal, the relaxed families; Gamma, Beta, Dirichlet
implicitly). ``kl_divergence`` dispatches on registered (p, q) class pairs (``register_kl``)."""
from __future__ import annotations

import math

from .. import _creation as C
from ..ops import elementwise as E
from . import constraints
from .distribution import Distribution, LocScale, params
from .discrete import (_probs_logits, _softplus, Binomial, Categorical, Geometric,
                       OneHotCategorical, Poisson)
from .exponential import Exponential, Laplace
from .gamma import Beta, Chi2, Dirichlet, Gamma
from .independent import Independent
from .kl import kl_divergence, register_kl
from .location_scale import Cauchy, Gumbel, HalfNormal, LogNormal, StudentT
from .multivariate_normal import MultivariateNormal
from .relaxed import RelaxedBernoulli, RelaxedOneHotCategorical

__all__ = ["Distribution", "Categorical", "Normal", "Bernoulli", "Uniform", "Exponential",
           "Laplace", "Gamma", "Beta", "Dirichlet", "MultivariateNormal", "LogNormal", "StudentT",
           "Cauchy", "Gumbel", "Poisson", "Binomial", "Geometric", "OneHotCategorical",
           "Independent", "Chi2", "HalfNormal", "RelaxedBernoulli", "RelaxedOneHotCategorical",
           "constraints", "kl_divergence", "register_kl"]


class Normal(LocScale):
    @property
    def mean(self):
        return self.loc

    @property
    def stddev(self):
        return self.scale

    @property
    def variance(self):
        return self.scale * self.scale

    def rsample(self, sample_shape=()):
        eps = C.randn(self._extended_shape(sample_shape), dtype=self.loc.dtype)
        return self.loc + eps * self.scale

    def log_prob(self, value):
        var = self.scale * self.scale
        return -((value - self.loc) ** 2) / (2 * var) - self.scale.log() - \
            math.log(math.sqrt(2 * math.pi))

    def entropy(self):
        return 0.5 + 0.5 * math.log(2 * math.pi) + self.scale.log()

    def cdf(self, value):
        return 0.5 * (1 + E.erf((value - self.loc) / (self.scale * math.sqrt(2))))

    def icdf(self, value):
        return self.loc + self.scale * (2 * value - 1).erfinv() * math.sqrt(2)


class Bernoulli(Distribution):
    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.boolean
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args=None):
        self.probs, self.logits = _probs_logits(probs, logits)
        super().__init__(self.probs.shape, validate_args=validate_args)

    def _sample(self, sample_shape):
        p = self.probs.detach().expand(self._extended_shape(sample_shape))
        return C.bernoulli(p)

    def enumerate_support(self, expand=True):
        return self._enumerate(C.tensor([0.0, 1.0], dtype=self.probs.dtype), expand)

    def log_prob(self, value):
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


class Uniform(Distribution):
    arg_constraints = {"low": constraints.dependent, "high": constraints.dependent}
    has_rsample = True

    def __init__(self, low, high, validate_args=None):
        self.low, self.high = params(low, high)
        if validate_args is not False and not bool((self.low < self.high).all()):
            raise ValueError("Expected parameter low of distribution Uniform to be less than "
                             f"high, got low={self.low} and high={self.high}")
        super().__init__(self.low.shape, validate_args=validate_args)

    @property
    def support(self):
        return constraints.interval(self.low, self.high)

    def rsample(self, sample_shape=()):
        u = C.rand(self._extended_shape(sample_shape), dtype=self.low.dtype)
        return self.low + u * (self.high - self.low)

    def log_prob(self, value):
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


@register_kl(Normal, Normal)
def _kl_normal_normal(p, q):
    var_ratio = (p.scale / q.scale) ** 2
    t1 = ((p.loc - q.loc) / q.scale) ** 2
    return 0.5 * (var_ratio + t1 - 1 - var_ratio.log())


@register_kl(Categorical, Categorical)
def _kl_categorical_categorical(p, q):
    return (p.probs * (p.logits - q.logits)).sum(-1)


@register_kl(Bernoulli, Bernoulli)
def _kl_bernoulli_bernoulli(p, q):
    t1 = p.probs * (_softplus(-q.logits) - _softplus(-p.logits))
    t2 = (1 - p.probs) * (_softplus(q.logits) - _softplus(p.logits))
    return t1 + t2


@register_kl(Uniform, Uniform)
def _kl_uniform_uniform(p, q):
    result = ((q.high - q.low) / (p.high - p.low)).log()
    return E.where((q.low > p.low) | (q.high < p.high), float("inf"), result)
