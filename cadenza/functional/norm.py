"""Normalisation layers as composites: layer_norm, rms_norm, batch_norm (with running-stat
updates), group_norm, instance_norm and local_response_norm."""
from __future__ import annotations

import numpy as np

from .. import ops
from .._tensor_base import TensorBase as Tensor
from ..autograd.grad_mode import no_grad
from ..ops._registry import apply
from ..ops import batchnorm as _bn
from ..ops.normalization import LayerNorm, RmsNorm
from ..errors import ShapeError, fmt_shape
from ._util import check_float, is_half, keeps_channels_last

_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)

__all__ = ["layer_norm", "rms_norm", "batch_norm", "group_norm", "instance_norm",
           "local_response_norm"]


def _norm_shape(normalized_shape):
    if isinstance(normalized_shape, int):
        return (normalized_shape,)
    return tuple(int(s) for s in normalized_shape)


def _check_normalized(input, shape, weight, bias, op):
    check_float(input, op)
    k = len(shape)
    if k == 0 or input.ndim < k or tuple(input.shape[input.ndim - k:]) != shape:
        raise ShapeError(f"{op}: expected input.shape[-{k}:] == {fmt_shape(shape)} "
                         f"(normalized_shape), got {fmt_shape(input.shape)}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != shape:
            raise ShapeError(f"{op}: expected {name}.shape == {fmt_shape(shape)}, got "
                             f"{fmt_shape(t.shape)}")
    return tuple(range(input.ndim - k, input.ndim))


def _fusable(input, weight, bias):
    """The fused primitives (cadenza/ops/normalization.py) take floating operands of one dtype
    (float16/bfloat16 they compute in float32 and round once, as torch); mixed dtypes keep the
    composite."""
    dt = input._data.dtype
    if dt != np.float32 and dt != np.float64 and not is_half(input):
        return False
    return all(t is None or t._data.dtype == dt for t in (weight, bias))


def _in_float32(norm, input, *params):
    """``norm(input, *params)`` of a float16/bfloat16 input as torch's norm kernels compute
    it (also with float32 parameters): input and parameters in float32, the result rounded
    to the input's dtype once."""
    return norm(input.float(), *[None if p is None else p.float() for p in params]).to(
        input.dtype)


def layer_norm(input: Tensor, normalized_shape, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """(x - mean) / sqrt(var + eps) * weight + bias over the trailing ``normalized_shape`` dims,
    var biased (divides by n), as in Ba et al. (2016).

    >>> layer_norm(cadenza.tensor([[1.0, 3.0]]), (2,))
    tensor([[-1.0000,  1.0000]])
    """
    if type(normalized_shape) is tuple and isinstance(input, Tensor):
        # nn.LayerNorm's call (a tuple of ints; float32/float64 operands of one dtype whose
        # shapes fit): what the checks below pass, tested in a few comparisons
        d = input._data
        k, dt = len(normalized_shape), d.dtype
        if k and d.shape[-k:] == normalized_shape and (dt is _F32 or dt is _F64) and (
                weight is None or (weight._data.dtype is dt and
                                   weight._data.shape == normalized_shape)) and (
                bias is None or (bias._data.dtype is dt and bias._data.shape == normalized_shape)):
            return apply(LayerNorm, input, weight, bias, k=k, eps=float(eps))
    shape = _norm_shape(normalized_shape)
    dims = _check_normalized(input, shape, weight, bias, "layer_norm")
    if is_half(input) and not _fusable(input, weight, bias):
        # float16/bfloat16 input with float32 parameters (an autocast region, a half model
        # with float norms): torch's mixed-dtype kernel computes in float32 and gives the
        # input's dtype
        return _in_float32(lambda x, w, b: layer_norm(x, normalized_shape, w, b, eps),
                           input, weight, bias)
    if _fusable(input, weight, bias):
        return apply(LayerNorm, input, weight, bias, k=len(shape), eps=float(eps))
    mu = input.mean(dims, keepdim=True)
    d = input - mu
    var = (d * d).mean(dims, keepdim=True)
    out = d * (var + eps).rsqrt()
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


def rms_norm(input: Tensor, normalized_shape, weight: Tensor | None = None,
             eps: float | None = None) -> Tensor:
    """x / sqrt(mean(x^2) + eps) * weight over the trailing dims (Zhang & Sennrich, 2019);
    eps defaults to the machine epsilon of input's dtype, as torch.

    >>> rms_norm(cadenza.tensor([[1.0, 1.0]]), (2,))
    tensor([[1.0000, 1.0000]])
    """
    shape = _norm_shape(normalized_shape)
    dims = _check_normalized(input, shape, weight, None, "rms_norm")
    if eps is None:   # the machine epsilon of the dtype it computes in (float32 for half)
        eps = float(np.finfo(np.float32 if is_half(input) else input._data.dtype).eps)
    if is_half(input):
        return _in_float32(lambda x, w: rms_norm(x, normalized_shape, w, eps), input, weight)
    if _fusable(input, weight, None):
        return apply(RmsNorm, input, weight, k=len(shape), eps=float(eps))
    out = input * ((input * input).mean(dims, keepdim=True) + eps).rsqrt()
    if weight is not None:
        out = out * weight
    return out


def _channel_shape(input):
    return (1, input.shape[1]) + (1,) * (input.ndim - 2)


@keeps_channels_last()
def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None,
               training: bool = False, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalise each channel (dim 1) over the batch and spatial dims (Ioffe & Szegedy, 2015).

    Training uses the batch statistics (biased variance) and updates the running stats in
    place: r <- (1 - momentum) r + momentum * stat, with the unbiased variance n / (n - 1) var.
    Evaluation uses the running statistics.

    >>> x = cadenza.tensor([[1.0], [3.0]])
    >>> batch_norm(x, None, None, training=True)
    tensor([[-1.0000],
            [ 1.0000]])
    """
    check_float(input, "batch_norm")
    if input.ndim < 2:
        raise ShapeError(f"batch_norm: expected input (N, C, ...) with at least 2 dims, got "
                         f"{fmt_shape(input.shape)}")
    C = input.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        if t is not None and t.numel() != C:
            raise ShapeError(f"batch_norm: expected {name} with {C} elements (input.shape[1]), "
                             f"got {fmt_shape(t.shape)}")
    if training:
        n = input.numel() // C if C else 0
        if n == 0:   # an empty batch: torch returns the empty input, statistics untouched
            return input * 1.0 if weight is None else input * weight.reshape(
                _channel_shape(input)) + (0.0 if bias is None else bias.reshape(
                    _channel_shape(input)))
        if n == 1:
            raise ValueError(f"batch_norm: expected more than 1 value per channel when "
                             f"training, got input size {fmt_shape(input.shape)}")
        stats = _bn.batch_norm_stats(input)      # (2, C): mean, biased variance
        with no_grad():
            if running_mean is not None:
                running_mean.copy_(running_mean * (1 - momentum) +
                                   stats[0].to(running_mean.dtype) * momentum)
            if running_var is not None:
                unbiased = stats[1].to(running_var.dtype) * (n / (n - 1))
                running_var.copy_(running_var * (1 - momentum) + unbiased * momentum)
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm: expected running_mean and running_var when "
                             "training=False, got None")
        stats = ops.stack([running_mean.reshape(C), running_var.reshape(C)]).to(input.dtype)
    return _bn.batch_norm(input, stats, weight, bias, eps, training)


@keeps_channels_last()
def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalise over groups of channels and all spatial positions (Wu & He, 2018), then an
    affine per channel.

    >>> group_norm(cadenza.tensor([[1.0, 3.0]]), 1)
    tensor([[-1.0000,  1.0000]])
    """
    check_float(input, "group_norm")
    if input.ndim < 2:
        raise ShapeError(f"group_norm: expected input (N, C, ...), got {fmt_shape(input.shape)}")
    N, C = input.shape[0], input.shape[1]
    if num_groups <= 0 or C % num_groups:
        raise ShapeError(f"group_norm: expected num_channels ({C}) divisible by num_groups, "
                         f"got num_groups={num_groups}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.numel() != C:
            raise ShapeError(f"group_norm: expected {name} with {C} elements, got "
                             f"{fmt_shape(t.shape)}")
    per_group = N * (C // num_groups)
    for d in input.shape[2:]:
        per_group *= d
    if per_group == 1:   # torch's check (values per group summed over the batch)
        raise ValueError(f"group_norm: expected more than 1 value per channel when training, "
                         f"got input size {fmt_shape(input.shape)}")
    if is_half(input):   # torch's kernel: float32 statistics and affine, rounded once
        return _in_float32(lambda x, w, b: group_norm(x, num_groups, w, b, eps),
                           input, weight, bias)
    x = input.reshape(N, num_groups, -1)  # (N, G, C/G * spatial)
    mu = x.mean(2, keepdim=True)
    d = x - mu
    var = (d * d).mean(2, keepdim=True)
    out = (d * (var + eps).rsqrt()).reshape(input.shape)
    cshape = _channel_shape(input)
    if weight is not None:
        out = out * weight.reshape(cshape)
    if bias is not None:
        out = out + bias.reshape(cshape)
    return out


def instance_norm(input: Tensor, running_mean: Tensor | None = None,
                  running_var: Tensor | None = None, weight: Tensor | None = None,
                  bias: Tensor | None = None, use_input_stats: bool = True,
                  momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalise each (sample, channel) over its spatial positions (Ulyanov et al., 2016).

    >>> instance_norm(cadenza.tensor([[[1.0, 3.0]]])).shape
    cadenza.Size([1, 1, 2])
    """
    check_float(input, "instance_norm")
    if input.ndim < 3:
        raise ShapeError(f"instance_norm: expected input (N, C, L, ...) with a spatial dim, got "
                         f"{fmt_shape(input.shape)}")
    cshape = _channel_shape(input)
    if not use_input_stats:
        return batch_norm(input, running_mean, running_var, weight, bias, False, momentum, eps)
    dims = tuple(range(2, input.ndim))
    input = input.contiguous()   # torch normalises a row-major copy: a row-major result
    n = 1
    for i in dims:
        n *= input.shape[i]
    mu = input.mean(dims, keepdim=True)
    d = input - mu
    var = (d * d).mean(dims, keepdim=True)
    with no_grad():
        # running stats average the per-instance statistics over the batch
        if running_mean is not None:
            m = mu.detach().mean(0).reshape(running_mean.shape).to(running_mean.dtype)
            running_mean.copy_(running_mean * (1 - momentum) + m * momentum)
        if running_var is not None:
            v = var.detach().mean(0).reshape(running_var.shape).to(running_var.dtype)
            v = v * (n / (n - 1)) if n > 1 else v
            running_var.copy_(running_var * (1 - momentum) + v * momentum)
    out = d * (var + eps).rsqrt()
    if weight is not None:
        out = out * weight.reshape(cshape)
    if bias is not None:
        out = out + bias.reshape(cshape)
    return out


def local_response_norm(input: Tensor, size: int, alpha: float = 1e-4, beta: float = 0.75,
                        k: float = 1.0) -> Tensor:
    """x / (k + alpha / size * sum of x^2 over ``size`` neighbouring channels)^beta.

    >>> local_response_norm(cadenza.ones(1, 3, 2), 2).shape
    cadenza.Size([1, 3, 2])
    """
    if input.ndim < 3:
        raise ShapeError(f"local_response_norm: expected input (N, C, L, ...), got "
                         f"{fmt_shape(input.shape)}")
    sq = input * input
    # average over a channel window [c - size//2, c + (size-1)//2], zero padded
    C = input.shape[1]
    padded = ops.pad(sq.movedim(1, -1), (size // 2, (size - 1) // 2))
    acc = padded.narrow(-1, 0, C)
    for i in range(1, size):
        acc = acc + padded.narrow(-1, i, C)
    div = (acc.movedim(-1, 1) * (alpha / size) + k) ** beta
    return input / div
