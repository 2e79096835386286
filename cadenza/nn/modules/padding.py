"""Padding layers: reflection, replication, circular, constant and zero padding of the last 1,
2 or 3 dims (``torch.nn.modules.padding``)."""
from __future__ import annotations

from .. import functional as F
from .module import Module

__all__ = ["ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d", "ReplicationPad1d",
           "ReplicationPad2d", "ReplicationPad3d", "CircularPad1d", "CircularPad2d",
           "CircularPad3d", "ConstantPad1d", "ConstantPad2d", "ConstantPad3d", "ZeroPad1d",
           "ZeroPad2d", "ZeroPad3d"]


def _pads(padding, n):
    """An int pads every side; a tuple lists (left, right, top, bottom, front, back)."""
    if isinstance(padding, int):
        return (padding,) * (2 * n)
    padding = tuple(int(p) for p in padding)
    if len(padding) != 2 * n:
        raise ValueError(f"expected padding of {2 * n} ints or one int, got {padding}")
    return padding


class _PadNd(Module):
    _n = 1
    _mode = "constant"
    _dims = (2, 3)

    def __init__(self, padding):
        super().__init__()
        self.padding = _pads(padding, self._n)

    def forward(self, input):
        if input.ndim not in self._dims:
            want = " or ".join(f"{d}D" for d in self._dims)
            raise ValueError(f"{type(self).__name__}: expected {want} input (got "
                             f"{input.ndim}D input)")
        return F.pad(input, self.padding, self._mode)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ReflectionPad1d(_PadNd):
    """Pad (N, C, W) or (C, W) with the reflection of the input about its edges.

    >>> import cadenza as torch
    >>> torch.nn.ReflectionPad1d(2)(torch.arange(4.0).reshape(1, 1, 4))
    tensor([[[2., 1., 0., 1., 2., 3., 2., 1.]]])
    """
    _mode = "reflect"


class ReflectionPad2d(ReflectionPad1d):
    """Reflection padding of (N, C, H, W) or (C, H, W); padding (left, right, top, bottom)."""
    _n, _dims = 2, (3, 4)


class ReflectionPad3d(ReflectionPad1d):
    """Reflection padding of (N, C, D, H, W) or (C, D, H, W)."""
    _n, _dims = 3, (4, 5)


class ReplicationPad1d(_PadNd):
    """Pad (N, C, W) or (C, W) by repeating the edge values.

    >>> import cadenza as torch
    >>> torch.nn.ReplicationPad1d((1, 2))(torch.tensor([[[1.0, 2.0]]]))
    tensor([[[1., 1., 2., 2., 2.]]])
    """
    _mode = "replicate"


class ReplicationPad2d(ReplicationPad1d):
    """Edge-replication padding of (N, C, H, W) or (C, H, W)."""
    _n, _dims = 2, (3, 4)


class ReplicationPad3d(ReplicationPad1d):
    """Edge-replication padding of (N, C, D, H, W) or (C, D, H, W)."""
    _n, _dims = 3, (4, 5)


class CircularPad1d(_PadNd):
    """Pad (N, C, W) or (C, W) periodically (wrap around).

    >>> import cadenza as torch
    >>> torch.nn.CircularPad1d(1)(torch.tensor([[[1.0, 2.0, 3.0]]]))
    tensor([[[3., 1., 2., 3., 1.]]])
    """
    _mode = "circular"


class CircularPad2d(CircularPad1d):
    """Circular padding of (N, C, H, W) or (C, H, W)."""
    _n, _dims = 2, (3, 4)


class CircularPad3d(CircularPad1d):
    """Circular padding of (N, C, D, H, W) or (C, D, H, W)."""
    _n, _dims = 3, (4, 5)


class _ConstantPadNd(_PadNd):
    def __init__(self, padding, value: float):
        super().__init__(padding)
        self.value = value

    def forward(self, input):
        return F.pad(input, self.padding, "constant", self.value)

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class ConstantPad1d(_ConstantPadNd):
    """Pad the last dim with a constant ``value``.

    >>> import cadenza as torch
    >>> torch.nn.ConstantPad1d((1, 0), 9.0)(torch.tensor([[1.0, 2.0]]))
    tensor([[9., 1., 2.]])
    """


class ConstantPad2d(_ConstantPadNd):
    """Pad the last two dims with a constant ``value`` (left, right, top, bottom)."""
    _n = 2


class ConstantPad3d(_ConstantPadNd):
    """Pad the last three dims with a constant ``value``."""
    _n = 3


class ZeroPad1d(_ConstantPadNd):
    """Pad the last dim with zeros.

    >>> import cadenza as torch
    >>> torch.nn.ZeroPad1d(1)(torch.tensor([[1.0]]))
    tensor([[0., 1., 0.]])
    """

    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ZeroPad2d(ZeroPad1d):
    """Pad the last two dims with zeros (left, right, top, bottom)."""
    _n = 2


class ZeroPad3d(ZeroPad1d):
    """Pad the last three dims with zeros."""
    _n = 3
