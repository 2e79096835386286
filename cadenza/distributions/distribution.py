"""``torch.distributions.distribution.Distribution``: the base class (shapes, argument
validation, ``sample`` via ``rsample``, derived ``stddev``/``variance``, ``expand``)."""
from __future__ import annotations

import copy

from .. import _creation as C
from . import constraints
from .._tensor import Tensor
from .._tensor_base import Size
from ..autograd.grad_mode import no_grad
from .utils import finfo_eps, finfo_tiny, lazy_property, params

__all__ = ["Distribution", "params", "finfo_eps", "finfo_tiny"]


class Distribution:
    has_rsample = False
    has_enumerate_support = False
    arg_constraints: dict = {}
    support = None
    _batch_shape = ()
    _event_shape = ()

    _validate_default = True

    @staticmethod
    def set_default_validate_args(value):
        if value not in (True, False):
            raise ValueError(f"set_default_validate_args: expected True or False, got {value!r}")
        Distribution._validate_default = value

    def __init__(self, batch_shape=(), event_shape=(), validate_args=None):
        self._batch_shape = tuple(batch_shape)
        self._event_shape = tuple(event_shape)
        self._validate_args = validate_args if validate_args is not None else \
            Distribution._validate_default
        if self._validate_args:
            self._validate_params()

    def _validate_params(self):
        for name, con in self.arg_constraints.items():
            attr = getattr(type(self), name, None)
            # unset parameters, and lazy properties not computed yet, are not checked (torch)
            if name not in self.__dict__ and (not isinstance(attr, property) or
                                              isinstance(attr, lazy_property)):
                continue
            if getattr(con, "check", None) is None or constraints.is_dependent(con):
                continue
            v = getattr(self, name)
            if isinstance(v, Tensor) and not bool(con.check(v.detach()).all()):
                raise ValueError(
                    f"Expected parameter {name} ({type(v).__name__} of shape {tuple(v.shape)}) "
                    f"of distribution {type(self).__name__} to satisfy the constraint {con!r}, "
                    f"but found invalid values:\n{v}")

    def _validate_sample(self, value):
        """torch's check of a ``log_prob`` argument: a Tensor whose trailing dims are the
        event shape, broadcastable with the batch shape, inside ``support``."""
        if not isinstance(value, Tensor):
            raise ValueError("The value argument to log_prob must be a Tensor")
        n = len(self._event_shape)
        if tuple(value.shape[value.ndim - n:]) != self._event_shape or value.ndim < n:
            raise ValueError("The right-most size of value must match event_shape: "
                             f"{tuple(value.shape)} vs {self._event_shape}.")
        actual = tuple(value.shape[:value.ndim - n])
        expected = self._batch_shape
        for i, j in zip(reversed(actual), reversed(expected)):
            if i != 1 and j != 1 and i != j:
                raise ValueError(f"Value is not broadcastable with batch_shape+event_shape: "
                                 f"{tuple(value.shape)} vs {expected + self._event_shape}.")
        support = self.support
        if support is None or constraints.is_dependent(support):
            return
        if not bool(support.check(value.detach()).all()):
            raise ValueError(f"Expected value argument ({type(value).__name__} of shape "
                             f"{tuple(value.shape)}) to be within the support ({support!r}) "
                             f"of the distribution {self!r}, but found invalid values:\n"
                             f"{value}")

    def _get_checked_instance(self, cls, _instance=None):
        if _instance is None and type(self).__init__ != cls.__init__:
            raise NotImplementedError(f"Subclass {type(self).__name__} of {cls.__name__} "
                                      "that defines a custom __init__ method must also "
                                      "define a custom .expand() method.")
        return type(self).__new__(type(self)) if _instance is None else _instance

    @property
    def batch_shape(self):
        return Size(self._batch_shape)

    @property
    def event_shape(self):
        return Size(self._event_shape)

    def _extended_shape(self, sample_shape=()):
        return tuple(sample_shape) + self._batch_shape + self._event_shape

    def sample(self, sample_shape=()):
        with no_grad():
            return self.rsample(sample_shape) if self.has_rsample else self._sample(
                tuple(sample_shape))

    def _sample(self, sample_shape):
        """Draws without gradient; as torch, a family without its own sampler uses rsample."""
        return self.rsample(sample_shape)

    def sample_n(self, n):
        return self.sample((n,))

    @property
    def mean(self):
        raise NotImplementedError(f"{type(self)} does not implement mean")

    @property
    def mode(self):
        raise NotImplementedError(f"{type(self)} does not implement mode")

    @property
    def stddev(self):
        return self.variance.sqrt()

    @property
    def variance(self):
        raise NotImplementedError(f"{type(self)} does not implement variance")

    def log_prob(self, value):
        raise NotImplementedError(f"{type(self).__name__}.log_prob is not implemented")

    def entropy(self):
        raise NotImplementedError(f"{type(self).__name__}.entropy is not implemented")

    def cdf(self, value):
        raise NotImplementedError(f"{type(self).__name__}.cdf is not implemented")

    def icdf(self, value):
        raise NotImplementedError(f"{type(self).__name__}.icdf is not implemented")

    def rsample(self, sample_shape=()):
        raise NotImplementedError(f"{type(self).__name__} has no reparameterised rsample")

    def enumerate_support(self, expand=True):
        raise NotImplementedError(f"{type(self).__name__}.enumerate_support is not implemented")

    def _enumerate(self, values, expand):
        """``values`` (n,) shaped (n, 1, ..., 1) over the batch dims, or expanded over them."""
        values = values.reshape((-1,) + (1,) * len(self._batch_shape))
        return values.expand((values.shape[0],) + self._batch_shape) if expand else values

    def perplexity(self):
        return self.entropy().exp()

    def expand(self, batch_shape, _instance=None):
        """A copy whose parameters are broadcast (as views) to ``batch_shape``."""
        new = copy.copy(self)
        batch_shape = tuple(batch_shape)
        for name in self._param_names():
            v = getattr(self, name)
            ev = v.ndim - len(self._batch_shape)
            new.__dict__[name] = v.expand(batch_shape + tuple(v.shape[len(v.shape) - ev:]))
        new._batch_shape = batch_shape
        return new

    def _param_names(self):
        return [k for k, v in self.__dict__.items() if isinstance(v, Tensor)]

    @staticmethod
    def _param_repr(v):
        return v.size() if v.numel() > 1 else v

    def __repr__(self):
        args = ", ".join(f"{k}: {self._param_repr(getattr(self, k))}"
                         for k in self.arg_constraints if k in self.__dict__)
        return f"{type(self).__name__}({args})"


def uniform_open(shape, dtype):
    """Uniform draws in (tiny, 1 - eps), safe under log(-log(u))."""
    eps = finfo_eps(dtype)
    return C.rand(shape, dtype=dtype).clamp(eps, 1 - eps)


class LocScale(Distribution):
    """A distribution of real values with a ``loc`` and a positive ``scale`` (Normal, Laplace,
    Cauchy, Gumbel, LogNormal): their constructor, mode and, where a family has no sampler of
    its own, reparameterised sampling through ``icdf``."""
    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, loc, scale, validate_args=None):
        self.loc, self.scale = params(loc, scale)
        super().__init__(self.loc.shape, validate_args=validate_args)

    @property
    def mode(self):
        return self.loc

    def rsample(self, sample_shape=()):
        return self.icdf(uniform_open(self._extended_shape(sample_shape), self.loc.dtype))
