"""``nn.utils.fusion``: fold an eval-mode batch norm into the convolution or linear layer before
it (inference graphs: one layer instead of two, the same outputs up to rounding).

With ``s = bn_weight / sqrt(running_var + eps)``: ``W' = W * s`` (per output channel; conv
transposes keep output channels on dim 1) and ``b' = (b - running_mean) * s + bn_bias``."""
from __future__ import annotations

import copy

from ... import _creation, ops
from ..parameter import Parameter

__all__ = ["fuse_conv_bn_eval", "fuse_conv_bn_weights", "fuse_linear_bn_eval",
           "fuse_linear_bn_weights"]


def _scale_and_bias(w, b, rm, rv, eps, bn_w, bn_b):
    if bn_w is None:
        bn_w = _creation.ones_like(rm)
    if bn_b is None:
        bn_b = _creation.zeros_like(rm)
    if b is None:
        b = _creation.zeros_like(rm)
    scale = bn_w * ops.rsqrt(rv + eps)
    return scale, ((b - rm) * scale + bn_b).to(w.dtype)


def fuse_conv_bn_weights(conv_w, conv_b, bn_rm, bn_rv, bn_eps, bn_w, bn_b, transpose=False):
    """(weight, bias) Parameters of the convolution that equals conv followed by batch norm."""
    scale, bias = _scale_and_bias(conv_w, conv_b, bn_rm, bn_rv, bn_eps, bn_w, bn_b)
    shape = [1] * conv_w.dim()
    shape[1 if transpose else 0] = -1
    weight = (conv_w * scale.reshape(shape)).to(conv_w.dtype)
    return (Parameter(weight.detach(), conv_w.requires_grad),
            Parameter(bias.detach(), conv_b.requires_grad if conv_b is not None else True))


def fuse_linear_bn_weights(linear_w, linear_b, bn_rm, bn_rv, bn_eps, bn_w, bn_b):
    """(weight, bias) Parameters of the linear layer that equals linear followed by batch
    norm (a batch norm of one feature scales every output)."""
    scale, bias = _scale_and_bias(linear_w, linear_b, bn_rm, bn_rv, bn_eps, bn_w, bn_b)
    weight = (linear_w * scale.unsqueeze(-1)).to(linear_w.dtype)
    return (Parameter(weight.detach(), linear_w.requires_grad),
            Parameter(bias.detach(), linear_b.requires_grad if linear_b is not None else True))


def _check_eval(fn, *modules):
    if any(m.training for m in modules):
        raise AssertionError(f"{fn}: Fusion only for eval! (call .eval() on both modules)")


def fuse_conv_bn_eval(conv, bn, transpose=False):
    """A copy of ``conv`` (eval mode) with ``bn`` (eval mode) folded into its weight and
    bias."""
    _check_eval("fuse_conv_bn_eval", conv, bn)
    fused = copy.deepcopy(conv)
    if bn.running_mean is None or bn.running_var is None:
        raise AssertionError("fuse_conv_bn_eval: the batch norm has no running statistics "
                             "(track_running_stats=False)")
    fused.weight, fused.bias = fuse_conv_bn_weights(
        fused.weight, fused.bias, bn.running_mean, bn.running_var, bn.eps, bn.weight, bn.bias,
        transpose)
    return fused


def fuse_linear_bn_eval(linear, bn):
    """A copy of ``linear`` (eval mode) with ``bn`` (eval mode, BatchNorm1d over its outputs)
    folded into its weight and bias."""
    _check_eval("fuse_linear_bn_eval", linear, bn)
    if linear.out_features != bn.num_features and bn.num_features != 1:
        raise AssertionError(f"fuse_linear_bn_eval: To fuse, linear.out_features "
                             f"({linear.out_features}) must equal bn.num_features "
                             f"({bn.num_features}) or bn.num_features must be 1")
    if bn.running_mean is None or bn.running_var is None:
        raise AssertionError("fuse_linear_bn_eval: the batch norm has no running statistics "
                             "(track_running_stats=False)")
    fused = copy.deepcopy(linear)
    fused.weight, fused.bias = fuse_linear_bn_weights(
        fused.weight, fused.bias, bn.running_mean, bn.running_var, bn.eps, bn.weight, bn.bias)
    return fused
