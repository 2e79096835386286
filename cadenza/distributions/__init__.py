"""cadenza.distributions: the distributions small RL and VAE programs use (Categorical, Normal,
Bernoulli, Uniform), with PyTorch's names. log_prob / entropy are differentiable composites;
``rsample`` (Normal, Uniform) is reparameterised so gradients flow to the parameters."""
from __future__ import annotations

import math

from .. import _creation as C
from .._tensor import Tensor
from ..ops import elementwise as E
from ..ops.shape import broadcast_tensors
from . import constraints
from .distribution import Distribution, _t
from .discrete import _softplus, Binomial, Categorical, Geometric, OneHotCategorical, Poisson
from .exponential import Exponential, Laplace
from .gamma import Gamma, Beta, Dirichlet
from .independent import Independent
from .kl import kl_divergence, register_kl
from .location_scale import Cauchy, Gumbel, LogNormal, StudentT
from .multivariate_normal import MultivariateNormal

__all__ = ["Distribution", "Categorical", "Normal", "Bernoulli", "Uniform", "Exponential",
           "Laplace", "Gamma", "Beta", "Dirichlet", "MultivariateNormal", "LogNormal", "StudentT", "Cauchy", "Gumbel",
           "Poisson", "Binomial", "Geometric", "OneHotCategorical", "Independent",
           "constraints", "kl_divergence", "register_kl"]


class Normal(Distribution):
    has_rsample = True

    def __init__(self, loc, scale, validate_args=None):
        like = loc if isinstance(loc, Tensor) else scale if isinstance(scale, Tensor) else None
        loc, scale = _t(loc, like), _t(scale, like)
        self.loc, self.scale = broadcast_tensors(loc, scale)
        self._batch_shape = tuple(self.loc.shape)

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
        shape = tuple(sample_shape) + self._batch_shape
        eps = C.randn(shape, dtype=self.loc.dtype)
        return self.loc + eps * self.scale

    def log_prob(self, value):
        var = self.scale * self.scale
        return -((value - self.loc) ** 2) / (2 * var) - self.scale.log() - \
            math.log(math.sqrt(2 * math.pi))

    def entropy(self):
        return 0.5 + 0.5 * math.log(2 * math.pi) + self.scale.log()

    def cdf(self, value):
        return 0.5 * (1 + E.erf((value - self.loc) / (self.scale * math.sqrt(2))))


class Bernoulli(Distribution):
    def __init__(self, probs=None, logits=None, validate_args=None):
        if (probs is None) == (logits is None):
            raise ValueError("Either `probs` or `logits` must be specified, but not both.")
        if probs is not None:
            self.probs = _t(probs)
            eps = 1.1920928955078125e-07
            p = self.probs.clamp(eps, 1 - eps)
            self.logits = p.log() - (1 - p).log()
        else:
            self.logits = _t(logits)
            self.probs = self.logits.sigmoid()
        self._batch_shape = tuple(self.probs.shape)

    def _sample(self, sample_shape):
        p = self.probs.detach().expand(tuple(sample_shape) + self._batch_shape)
        return C.bernoulli(p)

    def log_prob(self, value):
        # -BCE with logits, written stably: v*l - softplus(l)
        return value * self.logits - _softplus(self.logits)

    def entropy(self):
        return _softplus(self.logits) - self.probs * self.logits

    @property
    def mean(self):
        return self.probs


class Uniform(Distribution):
    has_rsample = True

    def __init__(self, low, high, validate_args=None):
        self.low, self.high = broadcast_tensors(_t(low), _t(high))
        self._batch_shape = tuple(self.low.shape)

    def rsample(self, sample_shape=()):
        u = C.rand(tuple(sample_shape) + self._batch_shape, dtype=self.low.dtype)
        return self.low + u * (self.high - self.low)

    def log_prob(self, value):
        inside = (value >= self.low) & (value < self.high)
        lp = -(self.high - self.low).log()
        return E.where(inside, lp, float("-inf"))

    def entropy(self):
        return (self.high - self.low).log()

    @property
    def mean(self):
        return (self.low + self.high) / 2


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
