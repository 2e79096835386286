"""``cadenza.Tensor``, PyTorch's ``torch.Tensor``: the data model (``_tensor_base``) plus method
mixins, each declared once beside the functions it calls:

- each ops module's ``*Methods`` class: the methods of that module's functions, declared beside
  them (``x.exp()`` and ``x.exp_()`` in ``ops/unary.py``, ``x.view(2, 3)`` in ``ops/views.py``);
- ``_tensor_api.operators``: ``+ - * / // % ** @``, comparisons, ``& | ^ ~``, reflected forms;
- ``_tensor_api.inplace``: ``x += y``, ``fill_``/``copy_``, random fills (``x.normal_()``);
- ``_tensor_api.convert``: ``to``, ``cpu``/``cuda``, ``float()``, ``new_zeros``, ``softmax``;
- ``_tensor_api.autograd``: ``backward``, hooks, ``retain_grad``.
"""
from __future__ import annotations

import copy

import numpy as np

from ._tensor_api.autograd import AutogradMethods
from ._tensor_api.convert import ConvertMethods
from ._tensor_api.inplace import InplaceMethods
from ._tensor_api.operators import OperatorMethods
from .ops.binary import BinaryMethods
from .ops.elementwise import ElementwiseMethods
from .ops.index import IndexMethods
from .ops.join import JoinMethods
from .ops.linalg import LinalgMethods
from .ops.decomp import DecompMethods
from .ops.reduce import ReduceMethods
from .ops.shape import ShapeMethods
from .ops.sorting import SortingMethods
from .ops.unary import UnaryMethods
from .ops.views import ViewMethods
from ._tensor_base import TensorBase, Size, _make, _norm_dim, set_tensor_class  # noqa: F401 (_norm_dim: re-exported for the layers above)

__all__ = ["Tensor", "Size"]



class Tensor(TensorBase, OperatorMethods, UnaryMethods, BinaryMethods, ElementwiseMethods,
             ReduceMethods, SortingMethods, ViewMethods, JoinMethods, ShapeMethods, IndexMethods,
             LinalgMethods, DecompMethods, InplaceMethods, ConvertMethods, AutogradMethods):
    """A multi-dimensional array with autograd, PyTorch's ``torch.Tensor``.

    >>> import cadenza as torch
    >>> x = torch.tensor([1.0, 2.0], requires_grad=True)
    >>> (x * x).sum().backward(); x.grad
    tensor([2., 4.])
    """
    __slots__ = ()

    def __reduce_ex__(self, protocol):
        # For copy/deepcopy and multiprocessing; checkpoints never use pickle (see cadenza.io).
        return (_rebuild_tensor, (self.__class__, np.array(self._host()), self._requires_grad))

    def __deepcopy__(self, memo):
        if self.grad_fn is not None:
            raise RuntimeError("Only Tensors created explicitly by the user (graph leaves) "
                               "support the deepcopy protocol at the moment")
        if id(self) in memo:
            return memo[id(self)]
        new = _rebuild_tensor(self.__class__, self._data.copy(), self._requires_grad)
        if self.grad is not None:
            new.grad = copy.deepcopy(self.grad, memo)
        memo[id(self)] = new
        return new


set_tensor_class(Tensor)


def _rebuild_tensor(cls, arr, requires_grad):
    if cls is Tensor:
        t = _make(arr)
        t._requires_grad = requires_grad
        return t
    t = cls.__new__(cls, _make(arr), requires_grad)
    if not isinstance(t, cls) or getattr(t, "_data", None) is None:
        t = _make(arr)
    return t
