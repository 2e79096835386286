"""``nn.Parameter`` (a Tensor that a Module registers as a learnable weight) and ``nn.Buffer``."""
from __future__ import annotations

import numpy as np

from .. import _creation as C, dtypes
from .._tensor import Tensor, _make

__all__ = ["Parameter", "Buffer", "UninitializedParameter", "UninitializedBuffer",
           "UninitializedTensorMixin"]


def _adopt(cls, data, requires_grad):
    """A ``cls`` instance sharing ``data``'s storage and version counter (no copy)."""
    if data is None:
        data = _make(np.empty((0,), dtype=dtypes.get_default_dtype().np))
    if not isinstance(data, Tensor):
        raise TypeError(f"{cls.__name__}: expected a Tensor as data, got "
                        f"{type(data).__name__}")
    t = object.__new__(cls)
    t._data = data._data
    t._requires_grad = False
    t.grad = None
    t.grad_fn = None
    t._vc = data._vc
    t._base = None
    t._accum = None
    t._retains_grad = False
    if requires_grad:
        t.requires_grad = True
    return t


class Parameter(Tensor):
    """A Tensor that is a module parameter: assigning it to a Module attribute registers it.

    >>> import cadenza as torch
    >>> w = torch.nn.Parameter(torch.zeros(2))
    >>> w.requires_grad
    True
    """

    def __new__(cls, data=None, requires_grad=True):
        return _adopt(cls, data, requires_grad)

    def __init__(self, data=None, requires_grad=True):
        pass  # all state is set in __new__

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    __str__ = __repr__

    def __deepcopy__(self, memo):
        # as PyTorch: a fresh Parameter with copied data; .grad is not copied
        if id(self) in memo:
            return memo[id(self)]
        new = type(self)(_make(self._data.copy()), self._requires_grad)
        memo[id(self)] = new
        return new

    def __reduce_ex__(self, protocol):
        return (Parameter, (_make(self._pickled()), self._requires_grad))


class Buffer(Tensor):
    """Marks a tensor as a module buffer: ``self.mean = nn.Buffer(torch.zeros(3))``.

    >>> import cadenza as torch
    >>> b = torch.nn.Buffer(torch.zeros(2), persistent=False)
    """

    def __new__(cls, data=None, *, persistent=True):
        t = _adopt(cls, data, False)
        t.persistent = persistent
        return t

    def __init__(self, data=None, *, persistent=True):
        pass


class UninitializedTensorMixin:
    """A lazy module's placeholder (an empty tensor of the final dtype and device) that
    ``materialize`` turns, in place, into a tensor of the given shape: the object stays the
    same, so an optimizer built before the first forward holds the real parameter."""
    __slots__ = ()
    cls_to_become: type = Tensor

    def materialize(self, shape, device=None, dtype=None) -> None:
        """Allocate uninitialised storage of ``shape`` and become ``cls_to_become``."""
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        new = C.empty(shape, dtype=dtype if dtype is not None else self.dtype,
                      device=device if device is not None else self.device)
        self._data = new._data
        self.__class__ = self.cls_to_become

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"

    __str__ = __repr__

    def __reduce_ex__(self, protocol):
        return (type(self), (self.requires_grad,))


def _placeholder(device, dtype):
    return C.empty(0, dtype=dtype, device=device)


class UninitializedParameter(UninitializedTensorMixin, Parameter):
    """A parameter whose shape is not known yet (lazy modules set it on the first forward).

    >>> import cadenza as torch
    >>> p = torch.nn.UninitializedParameter()
    >>> p.materialize((2, 3)); type(p).__name__, p.shape
    ('Parameter', cadenza.Size([2, 3]))
    """
    cls_to_become = Parameter

    def __new__(cls, requires_grad=True, device=None, dtype=None):
        return _adopt(cls, _placeholder(device, dtype), requires_grad)

    def __init__(self, requires_grad=True, device=None, dtype=None):
        pass

    def __deepcopy__(self, memo):
        if id(self) not in memo:
            memo[id(self)] = type(self)(self.requires_grad, self.device, self.dtype)
        return memo[id(self)]


class UninitializedBuffer(UninitializedTensorMixin, Tensor):
    """A buffer whose shape is not known yet (lazy modules set it on the first forward)."""
    __slots__ = ()
    cls_to_become = Tensor

    def __new__(cls, requires_grad=False, device=None, dtype=None):
        return _adopt(cls, _placeholder(device, dtype), requires_grad)

    def __init__(self, requires_grad=False, device=None, dtype=None):
        pass
