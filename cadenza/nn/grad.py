"""``torch.nn.grad``: the gradients of a convolution with respect to its input and its weight,
given the gradient of its output (computed by the autograd engine through the same conv)."""
from __future__ import annotations

from .. import _creation as C
from ..autograd.engine import grad as _grad
from ..autograd.grad_mode import enable_grad
from ..functional.conv import conv1d, conv2d, conv3d

__all__ = ["conv1d_input", "conv1d_weight", "conv2d_input", "conv2d_weight", "conv3d_input",
           "conv3d_weight"]

_CONV = {1: conv1d, 2: conv2d, 3: conv3d}


def _input_grad(nd, input_size, weight, grad_output, stride, padding, dilation, groups):
    with enable_grad():
        x = C.zeros(tuple(input_size), dtype=grad_output.dtype, device=grad_output.device,
                    requires_grad=True)
        out = _CONV[nd](x, weight.detach(), None, stride, padding, dilation, groups)
        return _grad(out, x, grad_output)[0]


def _weight_grad(nd, input, weight_size, grad_output, stride, padding, dilation, groups):
    with enable_grad():
        w = C.zeros(tuple(weight_size), dtype=grad_output.dtype, device=grad_output.device,
                    requires_grad=True)
        out = _CONV[nd](input.detach(), w, None, stride, padding, dilation, groups)
        return _grad(out, w, grad_output)[0]


def conv1d_input(input_size, weight, grad_output, stride=1, padding=0, dilation=1, groups=1):
    """Gradient of conv1d w.r.t. its input (of shape ``input_size``)."""
    return _input_grad(1, input_size, weight, grad_output, stride, padding, dilation, groups)


def conv1d_weight(input, weight_size, grad_output, stride=1, padding=0, dilation=1, groups=1):
    """Gradient of conv1d w.r.t. its weight (of shape ``weight_size``)."""
    return _weight_grad(1, input, weight_size, grad_output, stride, padding, dilation, groups)


def conv2d_input(input_size, weight, grad_output, stride=1, padding=0, dilation=1, groups=1):
    """Gradient of conv2d w.r.t. its input (of shape ``input_size``).

    >>> import cadenza as torch
    >>> torch.nn.grad.conv2d_input((1, 1, 3, 3), torch.ones(1, 1, 2, 2),
    ...                            torch.ones(1, 1, 2, 2))[0, 0]
    tensor([[1., 2., 1.],
            [2., 4., 2.],
            [1., 2., 1.]])
    """
    return _input_grad(2, input_size, weight, grad_output, stride, padding, dilation, groups)


def conv2d_weight(input, weight_size, grad_output, stride=1, padding=0, dilation=1, groups=1):
    """Gradient of conv2d w.r.t. its weight (of shape ``weight_size``)."""
    return _weight_grad(2, input, weight_size, grad_output, stride, padding, dilation, groups)


def conv3d_input(input_size, weight, grad_output, stride=1, padding=0, dilation=1, groups=1):
    """Gradient of conv3d w.r.t. its input (of shape ``input_size``)."""
    return _input_grad(3, input_size, weight, grad_output, stride, padding, dilation, groups)


def conv3d_weight(input, weight_size, grad_output, stride=1, padding=0, dilation=1, groups=1):
    """Gradient of conv3d w.r.t. its weight (of shape ``weight_size``)."""
    return _weight_grad(3, input, weight_size, grad_output, stride, padding, dilation, groups)
