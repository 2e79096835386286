"""Categorical, count and one-hot families: ``Categorical``, ``Poisson``, ``Binomial``,
``Geometric``, ``OneHotCategorical``. log_prob / entropy are differentiable in the parameters;
sampling uses Cadenza's generator."""
from __future__ import annotations

from .. import _creation as C
from ..ops import elementwise as E
from ..ops import reduce as R
from ..ops.index import gather
from ..random import _rng
from . import constraints
from .distribution import Distribution, finfo_eps, finfo_tiny, params
from .exp_family import ExponentialFamily
from .kl import register_kl

__all__ = ["Categorical", "Poisson", "Binomial", "Geometric", "OneHotCategorical"]


def _softplus(x):
    """log(1 + e^x), stable; its gradient at 0 is 1/2 (torch's clamp_by_zero)."""
    return (x.clamp(min=0) + x - x.clamp(max=0)) / 2 + (-(x.abs())).exp().log1p()


def _probs_logits(probs, logits):
    """(probs, logits) of a binary event from exactly one of them, as torch converts them."""
    if (probs is None) == (logits is None):
        raise ValueError("Either `probs` or `logits` must be specified, but not both.")
    if probs is not None:
        (probs,) = params(probs)
        eps = finfo_eps(probs.dtype)
        p = probs.clamp(eps, 1 - eps)
        return probs, p.log() - (-p).log1p()
    (logits,) = params(logits)
    return logits.sigmoid(), logits


class Categorical(Distribution):
    """A categorical over the last dim of ``probs`` (normalised) or ``logits``."""
    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}
    has_enumerate_support = True

    @constraints.dependent_property(is_discrete=True, event_dim=0)
    def support(self):
        return constraints.integer_interval(0, self._num_events - 1)

    def __init__(self, probs=None, logits=None, validate_args=None):
        if (probs is None) == (logits is None):
            raise ValueError("Either `probs` or `logits` must be specified, but not both.")
        given = probs if probs is not None else logits
        if given.ndim < 1:
            name = "probs" if probs is not None else "logits"
            raise ValueError(f"`{name}` parameter must be at least one-dimensional.")
        if probs is not None:
            self.probs = probs / probs.sum(-1, keepdim=True)
            self.logits = self.probs.clamp(min=1e-38 if probs.dtype.name != "float64"
                                           else 1e-300).log()
        else:
            self.logits = logits - R.logsumexp(logits, -1, keepdim=True)
            self.probs = self.logits.exp()
        self._num_events = self.probs.shape[-1]
        super().__init__(tuple(self.probs.shape[:-1]), validate_args=validate_args)

    @property
    def param_shape(self):
        return tuple(self.probs.shape)

    def _sample(self, sample_shape):
        p = self.probs.detach().reshape(-1, self._num_events)
        n = 1
        for s in sample_shape:
            n *= s
        idx = C.multinomial(p, n, replacement=True)  # (batch, n)
        return idx.t().reshape(tuple(sample_shape) + self._batch_shape)

    def enumerate_support(self, expand=True):
        return self._enumerate(C.arange(self._num_events), expand)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        value = value.long()
        logits = self.logits.expand(tuple(value.shape) + (self._num_events,)) \
            if value.ndim > len(self._batch_shape) else self.logits
        return gather(logits, -1, value.unsqueeze(-1)).squeeze(-1)

    def entropy(self):
        p_log_p = self.logits.clamp(min=-3.4e38) * self.probs
        return -p_log_p.sum(-1)

    @property
    def mean(self):
        return C.full(self._batch_shape, float("nan"), dtype=self.probs.dtype)

    @property
    def variance(self):
        return C.full(self._batch_shape, float("nan"), dtype=self.probs.dtype)

    @property
    def mode(self):
        return self.probs.argmax(-1)


class Poisson(ExponentialFamily):
    arg_constraints = {"rate": constraints.nonnegative}
    support = constraints.nonnegative_integer

    @property
    def _natural_params(self):
        return (self.rate.log(),)

    def _log_normalizer(self, x):
        return x.exp()

    def __init__(self, rate, validate_args=None):
        (self.rate,) = params(rate)
        super().__init__(self.rate.shape, validate_args=validate_args)

    @property
    def mean(self):
        return self.rate

    @property
    def mode(self):
        return self.rate.floor()

    @property
    def variance(self):
        return self.rate

    def _sample(self, sample_shape):
        r = self.rate.detach().numpy()
        return C.tensor(_rng(None).poisson(r, size=self._extended_shape(sample_shape))
                        .astype(r.dtype))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return value * self.rate.log() - self.rate - (value + 1).lgamma()


class Binomial(Distribution):
    arg_constraints = {"total_count": constraints.nonnegative_integer,
                       "probs": constraints.unit_interval, "logits": constraints.real}
    has_enumerate_support = True

    def __init__(self, total_count=1, probs=None, logits=None, validate_args=None):
        probs, logits = _probs_logits(probs, logits)
        self.total_count, self.probs, self.logits = params(total_count, probs, logits)
        self.total_count = self.total_count.to(self.probs.dtype)
        super().__init__(self.probs.shape, validate_args=validate_args)

    @constraints.dependent_property(is_discrete=True, event_dim=0)
    def support(self):
        return constraints.integer_interval(0, self.total_count)

    @property
    def mean(self):
        return self.total_count * self.probs

    @property
    def mode(self):
        return ((self.total_count + 1) * self.probs).floor().clamp(max=self.total_count)

    @property
    def variance(self):
        return self.total_count * self.probs * (1 - self.probs)

    def _sample(self, sample_shape):
        n, p = self.total_count.detach().numpy(), self.probs.detach().numpy()
        shape = self._extended_shape(sample_shape)
        return C.tensor(_rng(None).binomial(n.astype("int64"), p, size=shape).astype(p.dtype))

    def enumerate_support(self, expand=True):
        n = self.total_count.detach()
        if not bool((n == n.max()).all()):
            raise NotImplementedError("Inhomogeneous total count not supported by "
                                      "`enumerate_support`.")
        k = int(n.max().item()) if n.numel() else 0
        return self._enumerate(C.arange(1 + k, dtype=self.probs.dtype), expand)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        n, lg = self.total_count, self.logits
        norm = n * _softplus(lg) - (n + 1).lgamma()
        return value * lg - (value + 1).lgamma() - (n - value + 1).lgamma() - norm


class Geometric(Distribution):
    """Number of failures before the first success (support 0, 1, 2, ...)."""
    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.nonnegative_integer

    def __init__(self, probs=None, logits=None, validate_args=None):
        self.probs, self.logits = _probs_logits(probs, logits)
        super().__init__(self.probs.shape, validate_args=validate_args)

    @property
    def mean(self):
        return 1.0 / self.probs - 1.0

    @property
    def mode(self):
        return self.probs * 0

    @property
    def variance(self):
        return (1.0 / self.probs - 1.0) / self.probs

    def _sample(self, sample_shape):
        tiny = finfo_tiny(self.probs.dtype)
        u = C.rand(self._extended_shape(sample_shape), dtype=self.probs.dtype).clamp(min=tiny)
        return (u.log() / (-self.probs.detach()).log1p()).floor()

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return value * (-self.probs).log1p() + self.probs.log()

    def entropy(self):
        return (_softplus(self.logits) - self.probs * self.logits) / self.probs


class OneHotCategorical(Distribution):
    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}
    support = constraints.one_hot
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args=None):
        self._categorical = Categorical(probs, logits)
        self.probs, self.logits = self._categorical.probs, self._categorical.logits
        super().__init__(self.probs.shape[:-1], self.probs.shape[-1:], validate_args)

    def _one_hot(self, idx):
        k = self._event_shape[0]
        return (idx.unsqueeze(-1) == C.arange(k)).to(self.probs.dtype)

    @property
    def mean(self):
        return self.probs

    @property
    def mode(self):
        return self._one_hot(self.probs.argmax(-1))

    @property
    def variance(self):
        return self.probs * (1 - self.probs)

    def _sample(self, sample_shape):
        return self._one_hot(self._categorical._sample(sample_shape))

    def enumerate_support(self, expand=True):
        k = self._event_shape[0]
        values = C.eye(k, dtype=self.probs.dtype).reshape((k,) + (1,) * len(self._batch_shape)
                                                          + (k,))
        return values.expand((k,) + self._batch_shape + (k,)) if expand else values

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return self._categorical.log_prob(value.argmax(-1))

    def entropy(self):
        return self._categorical.entropy()


@register_kl(Categorical, Categorical)
def _kl_categorical_categorical(p, q):
    t = p.probs * (p.logits - q.logits)
    t = E.where((q.probs == 0).expand(tuple(t.shape)), float("inf"), t)
    return E.where((p.probs == 0).expand(tuple(t.shape)), 0.0, t).sum(-1)
