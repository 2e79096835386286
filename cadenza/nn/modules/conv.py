"""Conv1d/2d/3d and ConvTranspose1d/2d/3d (weights and init as PyTorch)."""
from __future__ import annotations

import math

from ... import _creation as C
from .. import functional as F, init
from ..parameter import Parameter, UninitializedParameter
from .lazy import LazyModuleMixin
from .module import Module

__all__ = ["Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d",
           "LazyConv1d", "LazyConv2d", "LazyConv3d", "LazyConvTranspose1d",
           "LazyConvTranspose2d", "LazyConvTranspose3d"]

_PAD_MODES = ("zeros", "reflect", "replicate", "circular")


def _ntuple(v, n):
    if isinstance(v, (list, tuple)):
        v = tuple(v)
        return v if len(v) == n else (v[0],) * n
    return (v,) * n


class _ConvNd(Module):
    _n = 2
    transposed = False

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, padding_mode="zeros", device=None,
                 dtype=None, output_padding=0):
        super().__init__()
        n = self._n
        if groups <= 0:
            raise ValueError("groups must be a positive integer")
        if in_channels % groups != 0:
            raise ValueError("in_channels must be divisible by groups")
        if out_channels % groups != 0:
            raise ValueError("out_channels must be divisible by groups")
        if padding_mode not in _PAD_MODES:
            raise ValueError(f"padding_mode must be one of {list(_PAD_MODES)}, but got "
                             f"padding_mode='{padding_mode}'")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = _ntuple(kernel_size, n)
        self.stride = _ntuple(stride, n)
        self.dilation = _ntuple(dilation, n)
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"Invalid padding string {padding!r}, should be one of "
                                 "{'valid', 'same'}")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError("padding='same' is not supported for strided convolutions")
            self.padding = padding
        else:
            self.padding = _ntuple(padding, n)
        self.output_padding = _ntuple(output_padding, n)
        self.groups = groups
        self.padding_mode = padding_mode
        # F.pad wants (last dim left, last dim right, ...), i.e. reversed and doubled
        if isinstance(self.padding, str):
            pads = []
            if self.padding == "same":
                for d, k in zip(reversed(self.dilation), reversed(self.kernel_size)):
                    total = d * (k - 1)
                    left = total // 2
                    pads += [left, total - left]
            else:
                pads = [0, 0] * n
            self._reversed_padding_repeated_twice = pads
        else:
            self._reversed_padding_repeated_twice = [p for p in reversed(self.padding)
                                                     for _ in range(2)]
        if self.transposed:
            wshape = (in_channels, out_channels // groups) + self.kernel_size
        else:
            wshape = (out_channels, in_channels // groups) + self.kernel_size
        self.weight = Parameter(C.empty(wshape, device=device, dtype=dtype))
        if bias:
            self.bias = Parameter(C.empty(out_channels, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            if fan_in != 0:
                bound = 1 / math.sqrt(fan_in)
                init.uniform_(self.bias, -bound, bound)

    def _conv(self, input, weight, bias):
        conv = (F.conv1d, F.conv2d, F.conv3d)[self._n - 1]
        if self.padding_mode != "zeros":
            return conv(F.pad(input, self._reversed_padding_repeated_twice,
                              mode=self.padding_mode), weight, bias, self.stride, 0,
                        self.dilation, self.groups)
        return conv(input, weight, bias, self.stride, self.padding, self.dilation, self.groups)

    def forward(self, input):
        return self._conv(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        n = self._n
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0,) * n:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * n:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * n:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class Conv1d(_ConvNd):
    """1-d convolution over (N, C_in, L) -> (N, C_out, L_out).

    >>> import cadenza as torch
    >>> torch.nn.Conv1d(3, 8, 5, padding='same')(torch.randn(2, 3, 20)).shape
    cadenza.Size([2, 8, 20])
    """
    _n = 1

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, padding_mode="zeros", device=None,
                 dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, device, dtype)


class Conv2d(_ConvNd):
    """2-d convolution over (N, C_in, H, W) -> (N, C_out, H_out, W_out).

    >>> import cadenza as torch
    >>> torch.nn.Conv2d(3, 8, 3, padding=1)(torch.randn(2, 3, 16, 16)).shape
    cadenza.Size([2, 8, 16, 16])
    """
    _n = 2

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, padding_mode="zeros", device=None,
                 dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, device, dtype)


class Conv3d(_ConvNd):
    """3-d convolution over (N, C_in, D, H, W) -> (N, C_out, D_out, H_out, W_out).

    >>> import cadenza as torch
    >>> torch.nn.Conv3d(2, 4, 3, padding=1)(torch.randn(1, 2, 4, 5, 6)).shape
    cadenza.Size([1, 4, 4, 5, 6])
    """
    _n = 3

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, padding_mode="zeros", device=None,
                 dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, device, dtype)


class _ConvTransposeNd(_ConvNd):
    transposed = True

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, groups=1, bias=True, dilation=1, padding_mode="zeros",
                 device=None, dtype=None):
        if padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for '
                             f"{type(self).__name__}")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, device, dtype, output_padding)

    def _output_padding(self, input, output_size):
        if output_size is None:
            return self.output_padding
        output_size = tuple(output_size)[-self._n:]
        pads = []
        for i in range(self._n):
            dim = input.shape[input.ndim - self._n + i]
            base = ((dim - 1) * self.stride[i] - 2 * self.padding[i]
                    + self.dilation[i] * (self.kernel_size[i] - 1) + 1)
            pads.append(output_size[i] - base)
        return tuple(pads)

    def forward(self, input, output_size=None):
        op = self._output_padding(input, output_size)
        fn = (F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d)[self._n - 1]
        return fn(input, self.weight, self.bias, self.stride, self.padding, op, self.groups,
                  self.dilation)


class ConvTranspose1d(_ConvTransposeNd):
    """Transposed 1-d convolution (the gradient of Conv1d w.r.t. its input)."""
    _n = 1


class ConvTranspose2d(_ConvTransposeNd):
    """Transposed 2-d convolution: (N, C_in, H, W) -> (N, C_out, H_out, W_out).

    >>> import cadenza as torch
    >>> torch.nn.ConvTranspose2d(4, 2, 2, stride=2)(torch.randn(1, 4, 5, 5)).shape
    cadenza.Size([1, 2, 10, 10])
    """
    _n = 2


class ConvTranspose3d(_ConvTransposeNd):
    """Transposed 3-d convolution: (N, C_in, D, H, W) -> (N, C_out, D_out, H_out, W_out).

    >>> import cadenza as torch
    >>> torch.nn.ConvTranspose3d(4, 2, 2, stride=2)(torch.randn(1, 4, 2, 3, 3)).shape
    cadenza.Size([1, 2, 4, 6, 6])
    """
    _n = 3


class _LazyConvMixin(LazyModuleMixin):
    """in_channels from the first input's channel dim (dim 1, or 0 when unbatched)."""

    def _lazy_init(self, out_channels, bias, device, dtype):
        self.weight = UninitializedParameter(device=device, dtype=dtype)
        self.out_channels = out_channels
        if bias:
            self.bias = UninitializedParameter(device=device, dtype=dtype)

    def reset_parameters(self) -> None:
        if not self.has_uninitialized_params() and self.in_channels != 0:
            super().reset_parameters()

    def initialize_parameters(self, input, *args, **kwargs) -> None:
        if not self.has_uninitialized_params():          # loaded from a state dict
            w = self.weight.shape
            self.in_channels = w[0] if self.transposed else w[1] * self.groups
            return
        n = self._n
        if input.ndim not in (n + 1, n + 2):
            raise RuntimeError(f"Expected {n + 1}D (unbatched) or {n + 2}D (batched) input to "
                               f"{self._get_name()}, but got input of size: "
                               f"{list(input.shape)}")
        self.in_channels = input.shape[1 if input.ndim == n + 2 else 0]
        if self.in_channels % self.groups != 0:
            raise ValueError("in_channels must be divisible by groups")
        g = self.groups
        if self.transposed:
            self.weight.materialize((self.in_channels, self.out_channels // g,
                                     *self.kernel_size))
        else:
            self.weight.materialize((self.out_channels, self.in_channels // g,
                                     *self.kernel_size))
        if self.bias is not None:
            self.bias.materialize((self.out_channels,))
        self.reset_parameters()


class _LazyConvNd(_LazyConvMixin, _ConvNd):
    def __init__(self, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__(0, 0, kernel_size, stride, padding, dilation, groups, False,
                         padding_mode, device, dtype)
        self._lazy_init(out_channels, bias, device, dtype)


class LazyConv1d(_LazyConvNd):
    """A Conv1d whose in_channels comes from the first input; becomes a Conv1d.

    >>> import cadenza as torch
    >>> torch.nn.LazyConv1d(4, 3)(torch.randn(2, 5, 8)).shape
    cadenza.Size([2, 4, 6])
    """
    _n = 1
    cls_to_become = Conv1d


class LazyConv2d(_LazyConvNd):
    """A Conv2d whose in_channels comes from the first input; becomes a Conv2d."""
    _n = 2
    cls_to_become = Conv2d


class LazyConv3d(_LazyConvNd):
    """A Conv3d whose in_channels comes from the first input; becomes a Conv3d."""
    _n = 3
    cls_to_become = Conv3d


class _LazyConvTransposeNd(_LazyConvMixin, _ConvTransposeNd):
    def __init__(self, out_channels, kernel_size, stride=1, padding=0, output_padding=0,
                 groups=1, bias=True, dilation=1, padding_mode="zeros", device=None,
                 dtype=None):
        super().__init__(0, 0, kernel_size, stride, padding, output_padding, groups, False,
                         dilation, padding_mode, device, dtype)
        self._lazy_init(out_channels, bias, device, dtype)


class LazyConvTranspose1d(_LazyConvTransposeNd):
    """A ConvTranspose1d whose in_channels comes from the first input."""
    _n = 1
    cls_to_become = ConvTranspose1d


class LazyConvTranspose2d(_LazyConvTransposeNd):
    """A ConvTranspose2d whose in_channels comes from the first input."""
    _n = 2
    cls_to_become = ConvTranspose2d


class LazyConvTranspose3d(_LazyConvTransposeNd):
    """A ConvTranspose3d whose in_channels comes from the first input."""
    _n = 3
    cls_to_become = ConvTranspose3d
