"""``torch.distributions.constraints``: the named constraints distributions declare in
``arg_constraints`` / ``support``; ``check(value)`` returns a boolean Tensor."""
from __future__ import annotations

from .. import linalg

__all__ = ["Constraint", "real", "positive", "nonnegative", "unit_interval", "simplex", "boolean",
           "nonnegative_integer", "positive_integer", "lower_cholesky", "positive_definite",
           "real_vector", "interval", "greater_than", "greater_than_eq", "integer_interval",
           "dependent", "independent"]


class Constraint:
    is_discrete = False
    event_dim = 0

    def check(self, value):
        raise NotImplementedError(f"{type(self).__name__}.check")

    def __repr__(self):
        return type(self).__name__.lstrip("_") + "()"


class _Dependent(Constraint):
    def check(self, value):
        raise ValueError("Cannot determine validity of dependent constraint")


class _Real(Constraint):
    def check(self, value):
        return value == value


class _GreaterThan(Constraint):
    def __init__(self, lower_bound, strict=True):
        self.lower_bound, self.strict = lower_bound, strict

    def check(self, value):
        return value > self.lower_bound if self.strict else value >= self.lower_bound


class _GreaterThanEq(_GreaterThan):
    def __init__(self, lower_bound):
        super().__init__(lower_bound, strict=False)


class _Interval(Constraint):
    def __init__(self, lower_bound, upper_bound, discrete=False):
        self.lower_bound, self.upper_bound, self.is_discrete = lower_bound, upper_bound, discrete

    def check(self, value):
        ok = (value >= self.lower_bound) & (value <= self.upper_bound)
        return ok & (value % 1 == 0) if self.is_discrete else ok


class _NonNegInt(Constraint):
    is_discrete = True

    def __init__(self, lower_bound=0):
        self.lower_bound = lower_bound

    def check(self, value):
        return (value % 1 == 0) & (value >= self.lower_bound)


class _Boolean(Constraint):
    is_discrete = True

    def check(self, value):
        return (value == 0) | (value == 1)


class _Simplex(Constraint):
    event_dim = 1

    def check(self, value):
        return (value >= 0).all(-1) & ((value.sum(-1) - 1).abs() < 1e-6)


class _RealVector(Constraint):
    event_dim = 1

    def check(self, value):
        return (value == value).all(-1)


class _LowerCholesky(Constraint):
    event_dim = 2

    def check(self, value):
        low = (value.tril() == value).flatten(-2).all(-1)
        return low & (value.diagonal(dim1=-2, dim2=-1) > 0).all(-1)


class _PositiveDefinite(Constraint):
    event_dim = 2

    def check(self, value):
        sym = ((value - value.transpose(-1, -2)).abs() < 1e-6).flatten(-2).all(-1)
        return sym & (linalg.eigvalsh(value) > 0).all(-1)


class _Independent(Constraint):
    def __init__(self, base, reinterpreted_batch_ndims):
        self.base_constraint = base
        self.reinterpreted_batch_ndims = reinterpreted_batch_ndims
        self.event_dim = base.event_dim + reinterpreted_batch_ndims
        self.is_discrete = base.is_discrete

    def check(self, value):
        r = self.base_constraint.check(value)
        for _ in range(self.reinterpreted_batch_ndims):
            r = r.all(-1)
        return r


dependent = _Dependent()
real = _Real()
positive = _GreaterThan(0.0)
nonnegative = _GreaterThanEq(0.0)
unit_interval = _Interval(0.0, 1.0)
simplex = _Simplex()
boolean = _Boolean()
nonnegative_integer = _NonNegInt(0)
positive_integer = _NonNegInt(1)
lower_cholesky = _LowerCholesky()
positive_definite = _PositiveDefinite()
real_vector = _RealVector()
interval = _Interval
greater_than = _GreaterThan
greater_than_eq = _GreaterThanEq
independent = _Independent


def integer_interval(lower_bound, upper_bound):
    return _Interval(lower_bound, upper_bound, discrete=True)
