"""Tensor's Python operators (``x + y``, ``x @ w``, ``x == 0``, ``~mask``): the op-layer
functions with PyTorch's operand rules (Python and NumPy scalars, arrays, tensors)."""
from __future__ import annotations

import numpy as np

from .. import ops as O
from .._creation import as_tensor
from .._tensor_base import TensorBase
from .._dispatch import state as _state
from ..ops._registry import _run, number_dunder


def _coerce(other):
    """The right operand as something ops accept, or NotImplemented (Python then tries the
    reflected operator of ``other``)."""
    if isinstance(other, np.ndarray):  # memmap and other subclasses too, as tensor() takes them
        return as_tensor(other)
    if isinstance(other, np.generic):
        return other.item()
    if isinstance(other, (TensorBase, int, float, bool, complex)):
        return other
    return NotImplemented


def _binary(fn):
    """``self (op) other`` through ``fn``, with any operand PyTorch accepts."""
    def op(self, other):
        t = type(other)
        if t is not float and t is not int and not isinstance(other, TensorBase):
            other = _coerce(other)
            if other is NotImplemented:
                return other
        return fn(self, other)
    op.__name__ = fn.__name__
    return op


def _reflected(fn):
    """``other (op) self`` for the reflected dunders (``2 - x`` is ``x.__rsub__(2)``)."""
    def op(self, other):
        other = _coerce(other)
        if other is NotImplemented:
            return other
        return fn(other, self)
    op.__name__ = "r" + fn.__name__
    return op


def _reciprocal_times(self, other):
    """``other / self`` for a number ``other``: ``self.reciprocal() * other``, torch's own
    definition of the reflected division (two roundings: ``0.7 / x`` differs in the last bit
    from ``torch.div(0.7, x)`` for a quarter of float32 values, and programs see torch's)."""
    other = _coerce(other)
    if other is NotImplemented:
        return other
    return O.mul(O.reciprocal(self), other)


def _direct(op_cls):
    """A dunder that goes straight to ``apply`` for tensor / Python-number operands (W5's hot
    path: one call less than through the op function), and past it to the dispatch itself
    while none of apply's hooks is on (one more call less); a Python number then takes
    ``number_dunder``'s inline path (ops with ``array_scalars``)."""
    apply = O.apply

    def general(self, other):
        t = type(other)
        if t is float or t is int or isinstance(other, TensorBase):
            if _state.plain:
                return _run(op_cls, (self, other), {})
            return apply(op_cls, self, other)
        other = _coerce(other)
        if other is NotImplemented:
            return other
        return apply(op_cls, self, other)
    return number_dunder(op_cls, general)


def _logical_or_bitwise(logical, bitwise):
    """``&``, ``|``, ``^``: logical on two bool operands, else bitwise with promotion (a bool
    tensor ``& 1`` or ``& tensor(4, dtype=int16)`` is an integer, as in torch)."""
    def op(self, other):
        if self._data.dtype == np.bool_ and (type(other) is bool or (
                isinstance(other, TensorBase) and other._data.dtype == np.bool_)):
            return logical(self, other)
        return bitwise(self, other)
    return op


and_ = _logical_or_bitwise(O.logical_and, O.bitwise_and)
or_ = _logical_or_bitwise(O.logical_or, O.bitwise_or)
xor_ = _logical_or_bitwise(O.logical_xor, O.bitwise_xor)
_eq = _binary(O.eq)
_ne = _binary(O.ne)


class OperatorMethods:
    __slots__ = ()

    # --- issue 10: the remaining Python protocols torch.Tensor has
    def __contains__(self, element):
        """``v in t``: whether any element equals v (a number or a tensor)."""
        if not isinstance(element, (TensorBase, int, float, bool)):
            raise RuntimeError(f"Tensor.__contains__ only supports Tensor or scalar, but you "
                               f"passed in a {type(element)}.")
        return bool((self == element).any())

    def __reversed__(self):
        return self if self._data.ndim == 0 else O.flip(self, 0)

    def __nonzero__(self):
        return self.__bool__()

    def __long__(self):
        return self.__int__()
    # --- end issue 10

    __add__ = __radd__ = _direct(O.Add)
    __mul__ = __rmul__ = _direct(O.Mul)
    __truediv__ = _direct(O.Div)
    __sub__ = _binary(O.sub)
    __floordiv__ = _binary(O.floor_divide)
    __mod__ = _binary(O.remainder)
    __pow__ = _binary(O.pow)
    __lt__ = _binary(O.lt)
    __le__ = _binary(O.le)
    __gt__ = _binary(O.gt)
    __ge__ = _binary(O.ge)
    __and__ = __rand__ = _binary(and_)
    __or__ = __ror__ = _binary(or_)
    __xor__ = __rxor__ = _binary(xor_)
    __rsub__ = _reflected(O.sub)
    __rtruediv__ = _reciprocal_times
    __rfloordiv__ = _reflected(O.floor_divide)
    __rmod__ = _reflected(O.remainder)
    __rpow__ = _reflected(O.pow)
    __div__ = __truediv__                     # (issue 10: Python 2 names torch keeps)
    __rdiv__ = __rtruediv__

    def __eq__(self, other):
        if other is None:
            return False
        return _eq(self, other)

    def __ne__(self, other):
        if other is None:
            return True
        return _ne(self, other)

    def __hash__(self):
        return id(self)

    def __matmul__(self, other):
        return O.matmul(self, other)

    def __rmatmul__(self, other):
        return O.matmul(other, self)

    __neg__ = O.neg
    __abs__ = O.abs

    def __pos__(self):
        return self

    def __invert__(self):
        return O.logical_not(self) if self._data.dtype == np.bool_ else O.bitwise_not(self)
