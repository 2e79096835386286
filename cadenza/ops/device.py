"""Moving tensors between backends (CPU <-> CUDA) as a primitive, so the gradient moves back."""
from __future__ import annotations

from ..backend import backend_for_device, backend_of_array
from ..device import as_device
from ._registry import Op, register, apply

__all__ = ["to_device"]




@register
class ToDevice(Op):
    """Move between backends (CPU <-> CUDA); the gradient moves back."""
    name, kind, onnx, saves = "to_device", "library", None, "none"
    may_alias = True     # a move to the device an array is on hands it back

    @staticmethod
    def forward(xp, a, device=None, src=None):
        host = backend_of_array(a).to_numpy(a)
        dst = backend_for_device(device)
        return host if dst.name == "cpu" else dst.asarray(host, index=device.index)

    @staticmethod
    def backward(c, g):
        return (to_device(g, c.attrs["src"]),)


def to_device(t, device):
    """``t`` on ``device`` (itself when it is there already)."""
    dev = as_device(device)
    if dev == t.device or (dev.type == "cpu" and t.device.type == "cpu"):
        return t
    return apply(ToDevice, t, device=dev, src=t.device)
