"""Identity, Linear, Bilinear, Flatten, Unflatten."""
from __future__ import annotations

import math

from ... import _creation as C, ops
from ...errors import ShapeError, fmt_shape
from .. import functional as F, init
from ..parameter import Parameter, UninitializedParameter
from .lazy import LazyModuleMixin
from .module import Module

__all__ = ["Identity", "Linear", "LazyLinear", "Bilinear", "NonDynamicallyQuantizableLinear"]


def _empty(*shape, device=None, dtype=None):
    return C.empty(*shape, device=device, dtype=dtype)


class Identity(Module):
    """Returns its input unchanged (any constructor arguments are ignored)."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        return input


class Linear(Module):
    """``y = x @ weight.T + bias`` with weight (out_features, in_features), initialised like
    PyTorch (Kaiming-uniform with a = sqrt(5); bias U(-1/sqrt(in), 1/sqrt(in))).

    >>> import cadenza as torch
    >>> torch.nn.Linear(784, 10)(torch.randn(32, 784)).shape
    cadenza.Size([32, 10])
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device=None,
                 dtype=None):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weight = Parameter(_empty(out_features, in_features, device=device, dtype=dtype))
        if bias:
            self.bias = Parameter(_empty(out_features, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.in_features
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input):
        w = self.weight
        d, wd = input._data, w._data
        if d.ndim and d.shape[-1] == self.in_features == wd.shape[-1] and wd.ndim == 2 and \
                d.dtype == wd.dtype:  # what F.linear checks: straight to the primitive
            return ops.linear(input, w, self.bias)
        shape = input.shape
        if not shape or shape[-1] != self.in_features:
            raise ShapeError(f"Linear(in_features={self.in_features}, out_features="
                             f"{self.out_features}): expected input.shape[-1] == "
                             f"{self.in_features}, got {fmt_shape(shape)}")
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class NonDynamicallyQuantizableLinear(Linear):
    """A Linear (the name PyTorch gives MultiheadAttention.out_proj, kept for equal reprs)."""


class LazyLinear(LazyModuleMixin, Linear):
    """A Linear whose ``in_features`` is the last dim of the first input; becomes a Linear.

    >>> import cadenza as torch
    >>> torch.nn.LazyLinear(3)(torch.randn(2, 5)).shape
    cadenza.Size([2, 3])
    """
    cls_to_become = Linear

    def __init__(self, out_features: int, bias: bool = True, device=None, dtype=None):
        super().__init__(0, 0, False)
        self.weight = UninitializedParameter(device=device, dtype=dtype)
        self.out_features = out_features
        if bias:
            self.bias = UninitializedParameter(device=device, dtype=dtype)

    def reset_parameters(self) -> None:
        if not self.has_uninitialized_params() and self.in_features != 0:
            super().reset_parameters()

    def initialize_parameters(self, input, *args, **kwargs) -> None:
        if not self.has_uninitialized_params():          # loaded from a state dict
            self.in_features = self.weight.shape[1]
        else:
            self.in_features = input.shape[-1]
            self.weight.materialize((self.out_features, self.in_features))
            if self.bias is not None:
                self.bias.materialize((self.out_features,))
            self.reset_parameters()


class Bilinear(Module):
    """``y = x1^T A x2 + b`` with weight (out_features, in1_features, in2_features)."""

    def __init__(self, in1_features: int, in2_features: int, out_features: int,
                 bias: bool = True, device=None, dtype=None):
        super().__init__()
        self.in1_features = in1_features
        self.in2_features = in2_features
        self.out_features = out_features
        self.weight = Parameter(_empty(out_features, in1_features, in2_features,
                                       device=device, dtype=dtype))
        if bias:
            self.bias = Parameter(_empty(out_features, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1 / math.sqrt(self.weight.shape[1])
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1, input2):
        if input1.shape[-1] != self.in1_features or input2.shape[-1] != self.in2_features:
            raise ShapeError(f"Bilinear(in1_features={self.in1_features}, in2_features="
                             f"{self.in2_features}): expected input1.shape[-1] == "
                             f"{self.in1_features} and input2.shape[-1] == {self.in2_features},"
                             f" got {fmt_shape(input1.shape)} and {fmt_shape(input2.shape)}")
        return F.bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")
