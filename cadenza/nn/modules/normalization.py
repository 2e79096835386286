"""LayerNorm, RMSNorm, GroupNorm."""
from __future__ import annotations

import numbers

from ... import _creation as C
from ... import ops
from .. import functional as F, init
from ..parameter import Parameter
from .module import Module

__all__ = ["register_affine", "LayerNorm", "RMSNorm", "GroupNorm", "LocalResponseNorm",
           "CrossMapLRN2d"]


def register_affine(module, shape, affine: bool, bias: bool, device=None, dtype=None):
    """The scale (and shift, when ``bias``) parameters of a norm layer, or None entries."""
    if affine:
        module.weight = Parameter(C.empty(shape, device=device, dtype=dtype))
        if bias:
            module.bias = Parameter(C.empty(shape, device=device, dtype=dtype))
        else:
            module.register_parameter("bias", None)
    else:
        module.register_parameter("weight", None)
        module.register_parameter("bias", None)


def _shape(normalized_shape):
    if isinstance(normalized_shape, numbers.Integral):
        return (int(normalized_shape),)
    return tuple(int(s) for s in normalized_shape)


class LayerNorm(Module):
    """Normalise over the last ``len(normalized_shape)`` dims, then scale and shift.

    >>> import cadenza as torch
    >>> torch.nn.LayerNorm(8)(torch.randn(2, 8)).shape
    cadenza.Size([2, 8])
    """

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, device=None, dtype=None):
        super().__init__()
        self.normalized_shape = _shape(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        register_affine(self, self.normalized_shape, elementwise_affine, bias, device, dtype)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.elementwise_affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def forward(self, input):
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}")


class RMSNorm(Module):
    """``x / sqrt(mean(x^2) + eps) * weight`` over the last dims (Zhang & Sennrich, 2019);
    ``eps=None`` uses the dtype's machine epsilon, as PyTorch.

    >>> import cadenza as torch
    >>> torch.nn.RMSNorm(8)(torch.randn(2, 8)).shape
    cadenza.Size([2, 8])
    """

    def __init__(self, normalized_shape, eps=None, elementwise_affine: bool = True,
                 device=None, dtype=None):
        super().__init__()
        self.normalized_shape = _shape(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(C.empty(self.normalized_shape, device=device, dtype=dtype))
        else:
            self.register_parameter("weight", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.elementwise_affine:
            init.ones_(self.weight)

    def forward(self, input):
        return F.rms_norm(input, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")


class GroupNorm(Module):
    """Normalise each of ``num_groups`` channel groups of (N, C, *) (Wu & He, 2018).

    >>> import cadenza as torch
    >>> torch.nn.GroupNorm(2, 4)(torch.randn(3, 4, 5)).shape
    cadenza.Size([3, 4, 5])
    """

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5,
                 affine: bool = True, device=None, dtype=None, *, bias: bool = True):
        super().__init__()
        if num_channels % num_groups != 0:
            raise ValueError(f"num_channels ({num_channels}) must be divisible by num_groups "
                             f"({num_groups})")
        self.num_groups = num_groups
        self.num_channels = num_channels
        self.eps = eps
        self.affine = affine
        register_affine(self, num_channels, affine, bias, device, dtype)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def forward(self, input):
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
                f"bias={self.bias is not None}")


class LocalResponseNorm(Module):
    """x / (k + alpha / size * sum of x^2 over ``size`` neighbouring channels)^beta
    (AlexNet's normalisation) over (N, C, *).

    >>> import cadenza as torch
    >>> torch.nn.LocalResponseNorm(2)(torch.randn(2, 4, 3, 3)).shape
    cadenza.Size([2, 4, 3, 3])
    """

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0):
        super().__init__()
        self.size = size
        self.alpha = alpha
        self.beta = beta
        self.k = k

    def forward(self, input):
        return F.local_response_norm(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


class CrossMapLRN2d(LocalResponseNorm):
    """The legacy (Lua Torch) cross-channel LRN of (N, C, H, W): the same running-window
    recursion over the channels as torch's, k default 1.

    >>> import cadenza as torch
    >>> torch.nn.CrossMapLRN2d(3)(torch.randn(2, 4, 3, 3)).shape
    cadenza.Size([2, 4, 3, 3])
    """

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1):
        super().__init__(size, alpha, beta, k)

    def forward(self, input):
        if input.ndim != 4:
            raise ValueError(f"CrossMapLRN2d: Expected input to be 4D, got {input.ndim}D "
                             f"instead.")
        C = input.shape[1]
        sq = input * input
        pre = int((self.size - 1) / 2 + 1)
        scale = sq[:, 0]
        for c in range(1, min(pre, C)):
            scale = scale + sq[:, c]
        scales = [scale]
        for c in range(1, C):
            if c < C - pre + 1:
                scale = scale + sq[:, c + pre - 1]
            if c > pre:
                scale = scale - sq[:, c - pre]
            scales.append(scale)
        s = ops.stack(scales, 1) * (self.alpha / self.size) + self.k
        return input * s.pow(-self.beta)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"
