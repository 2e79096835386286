"""Activation functions and softmax-like normalisations as composites over primitives.

Piecewise functions are written with ``where`` so that their gradients at the kinks match
PyTorch's conventions; branches that could overflow are clamped first, because ``where`` sends a
zero gradient into the unused branch and ``0 * inf`` would otherwise give NaN."""
from __future__ import annotations

import math
import warnings

import numpy as np

from .. import dtypes, ops
from .._creation import rand, writes_out, zeros_like
from ..ops._registry import apply, in_float32
from ..ops.activation import PreluKernel
from .._dispatch import state as _state
from ..ops.softmax_fused import Softmax, LogSoftmax
from .._tensor_base import TensorBase as Tensor, _norm_dim
from ..autograd.node import relabel
from ..errors import ShapeError, fmt_shape
from ._util import check_float, inplace_result, is_half

__all__ = [
    "relu", "relu_", "relu6", "leaky_relu", "leaky_relu_", "elu", "elu_", "selu", "selu_",
    "celu", "celu_", "gelu", "silu", "mish", "softplus", "softsign", "hardtanh", "hardtanh_",
    "hardsigmoid", "hardswish", "sigmoid", "tanh", "logsigmoid", "softmax", "log_softmax",
    "softmin", "glu", "normalize", "prelu", "threshold", "threshold_", "tanhshrink",
    "softshrink", "hardshrink", "rrelu", "rrelu_", "gumbel_softmax",
]


def _maybe_inplace(input, out, inplace, op):
    return inplace_result(input, out, op) if inplace else out


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """max(x, 0).

    >>> relu(cadenza.tensor([-1.0, 2.0]))
    tensor([0., 2.])
    """
    if inplace:
        return input.relu_()
    return ops.relu(input)


def relu_(input: Tensor) -> Tensor:
    return input.relu_()


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0,
             inplace: bool = False) -> Tensor:
    """x clamped to [min_val, max_val]; the gradient is 0 at and beyond the bounds (as torch).

    >>> hardtanh(cadenza.tensor([-2.0, 0.5, 3.0]))
    tensor([-1.0000,  0.5000,  1.0000])
    """
    if min_val > max_val:
        raise ValueError(f"hardtanh: expected min_val <= max_val, got {min_val} > {max_val}")
    if not input.is_floating_point():  # integers stay integers: limits truncated, as torch
        if input.dtype == dtypes.bool:
            raise RuntimeError("hardtanh: Bool inputs not supported for hardtanh")
        if input.dtype == dtypes.uint8 and min(int(min_val), int(max_val)) < 0:
            raise RuntimeError("hardtanh: cannot do hardtanh on an unsigned type with negative "
                               f"limits ({min_val}, {max_val})")
        return _maybe_inplace(input, ops.clamp(input, int(min_val), int(max_val)), inplace,
                              "hardtanh")
    out = ops.where(input <= min_val, min_val, ops.where(input >= max_val, max_val, input))
    return _maybe_inplace(input, out, inplace, "hardtanh")


def hardtanh_(input, min_val=-1.0, max_val=1.0):
    return hardtanh(input, min_val, max_val, inplace=True)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """min(max(x, 0), 6).

    >>> relu6(cadenza.tensor([-1.0, 7.0]))
    tensor([0., 6.])
    """
    return hardtanh(input, 0.0, 6.0, inplace)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """x for x > 0 else negative_slope * x.

    >>> leaky_relu(cadenza.tensor([-1.0, 2.0]), 0.1)
    tensor([-0.1000,  2.0000])
    """
    out = relabel(ops.where(input > 0, input, input * negative_slope), "LeakyReluBackward0",
                  (input,))
    return _maybe_inplace(input, out, inplace, "leaky_relu")


def leaky_relu_(input, negative_slope=0.01):
    return leaky_relu(input, negative_slope, inplace=True)


def _neg_expm1(x, scale=1.0):
    # expm1 of the non-positive part only: the positive branch is discarded by where, and an
    # overflowing exp there would turn its zero gradient into NaN.
    xn = ops.clamp(x, max=0.0)
    return (xn * scale).expm1() if scale != 1.0 else xn.expm1()


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x for x > 0 else alpha * (exp(x) - 1).

    >>> elu(cadenza.tensor([-1.0, 2.0]))
    tensor([-0.6321,  2.0000])
    """
    out = in_float32(lambda x: ops.where(x > 0, x, _neg_expm1(x) * alpha), input)
    return _maybe_inplace(input, out, inplace, "elu")


def elu_(input, alpha=1.0):
    return elu(input, alpha, inplace=True)


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """scale * elu(x, alpha) with the self-normalising constants of Klambauer et al. (2017).

    >>> selu(cadenza.tensor([1.0]))
    tensor([1.0507])
    """
    out = in_float32(lambda x: ops.where(x > 0, x * _SELU_SCALE,
                                         _neg_expm1(x) * (_SELU_ALPHA * _SELU_SCALE)), input)
    return _maybe_inplace(input, out, inplace, "selu")


def selu_(input):
    return selu(input, inplace=True)


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1)).

    >>> celu(cadenza.tensor([-1.0, 2.0]), alpha=2.0)
    tensor([-0.7869,  2.0000])
    """
    if alpha == 0:
        raise ValueError("celu: expected alpha != 0, got 0")
    out = in_float32(lambda x: ops.where(x > 0, x, _neg_expm1(x, 1.0 / alpha) * alpha), input)
    return _maybe_inplace(input, out, inplace, "celu")


def celu_(input, alpha=1.0):
    return celu(input, alpha, inplace=True)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)); 'tanh': 0.5 x (1 + tanh(sqrt(2/pi)(x + 0.044715
    x^3))).

    >>> gelu(cadenza.tensor([1.0]))
    tensor([0.8413])
    """
    return ops.gelu(input, approximate)  # a fused primitive (cadenza/ops/activation.py)


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """x * sigmoid(x) (also called swish).

    >>> silu(cadenza.tensor([1.0]))
    tensor([0.7311])
    """
    out = relabel(in_float32(lambda x: x * ops.sigmoid(x), input), "SiluBackward0", (input,))
    return _maybe_inplace(input, out, inplace, "silu")


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta x)) / beta, and x itself where beta x > threshold.

    >>> softplus(cadenza.tensor([0.0]))
    tensor([0.6931])
    """
    if is_half(input):  # exp(12) already overflows float16
        return softplus(input.float(), beta, threshold).to(input.dtype)
    z = input * beta if beta != 1 else input
    # exp of the clamped value: the linear branch takes over above the threshold
    soft = ops.clamp(z, max=threshold).exp().log1p()
    if beta != 1:
        soft = soft / beta
    return relabel(ops.where(z > threshold, input, soft), "SoftplusBackward0", (input,))


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """x * tanh(softplus(x)) (Misra, 2019).

    >>> mish(cadenza.tensor([1.0]))
    tensor([0.8651])
    """
    return _maybe_inplace(input, in_float32(lambda x: x * softplus(x).tanh(), input), inplace,
                          "mish")


def softsign(input: Tensor) -> Tensor:
    """x / (1 + |x|).

    >>> softsign(cadenza.tensor([1.0]))
    tensor([0.5000])
    """
    return input / (input.abs() + 1)


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """0 for x <= -3, 1 for x >= 3, x / 6 + 1/2 between (gradient 1/6 strictly inside).

    >>> hardsigmoid(cadenza.tensor([0.0, 4.0]))
    tensor([0.5000, 1.0000])
    """
    out = in_float32(lambda x: ops.where(x <= -3, 0.0, ops.where(x >= 3, 1.0, x / 6 + 0.5)),
                     input)
    return _maybe_inplace(input, out, inplace, "hardsigmoid")


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """x * relu6(x + 3) / 6 (Howard et al., 2019); torch's gradient convention at +-3.

    >>> hardswish(cadenza.tensor([1.0]))
    tensor([0.6667])
    """
    # x * 0 below -3: -inf gives NaN there, as x * relu6(x + 3) / 6 does in torch
    out = in_float32(lambda x: ops.where(x <= -3, x * 0.0, ops.where(x < 3, x * (x + 3) / 6, x)),
                     input)
    return _maybe_inplace(input, out, inplace, "hardswish")


def sigmoid(input: Tensor) -> Tensor:
    """1 / (1 + exp(-x)).

    >>> sigmoid(cadenza.tensor([0.0]))
    tensor([0.5000])
    """
    return ops.sigmoid(input)


def tanh(input: Tensor) -> Tensor:
    """Hyperbolic tangent.

    >>> tanh(cadenza.tensor([0.0]))
    tensor([0.])
    """
    return ops.tanh(input)


def _log_sigmoid(x):
    # log sigmoid(x) = min(x, 0) - log(1 + exp(-|x|)): exp never overflows. ``minimum`` splits
    # the tie at 0, which makes the gradient there exactly 1/2 = 1 - sigmoid(0).
    return ops.minimum(x, 0.0) - (-x.abs()).exp().log1p()


def logsigmoid(input: Tensor) -> Tensor:
    """log(sigmoid(x)), computed stably.

    >>> logsigmoid(cadenza.tensor([0.0]))
    tensor([-0.6931])
    """
    return in_float32(_log_sigmoid, input)


def _softmax_dim(ndim, op):
    warnings.warn(f"Implicit dimension choice for {op} has been deprecated. Change the call to "
                  "include dim=X as an argument.", stacklevel=3)
    return 0 if ndim in (0, 1, 3) else 1


def _fusable(x):
    # the fused primitives (cadenza/ops/softmax_fused.py): float32/float64, and float16/bfloat16
    # (which they compute in float32, rounding once, as torch)
    dt = x._data.dtype
    return dt == np.float32 or dt == np.float64 or is_half(x)


def _prep_softmax(input, dim, dtype, op):
    if dtype is not None:
        input = input.to(dtype)
    check_float(input, op)
    shape = input._data.shape
    if dim is None:
        dim = _softmax_dim(len(shape), op)
    d = _norm_dim(dim, len(shape), op)
    # a 0-d tensor is one row of one element; an empty row has nothing to normalise
    return input, (d if shape and shape[d] else None)


def softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
            dtype=None) -> Tensor:
    """exp(x - m) / sum(exp(x - m)) along dim, with m = max(x) detached (it cancels exactly,
    so it needs no gradient) to keep exp from overflowing.

    >>> softmax(cadenza.tensor([1.0, 1.0]), dim=0)
    tensor([0.5000, 0.5000])
    """
    x, d = _prep_softmax(input, dim, dtype, "softmax")
    if d is None:
        return x * 0 + 1
    if _fusable(x):
        return apply(Softmax, x, dim=d)
    # no guard on m: a row holding +inf, or only -inf, is NaN throughout as in torch
    e = (x - x.detach().amax(d, keepdim=True)).exp()
    return e / e.sum(d, keepdim=True)


def log_softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
                dtype=None) -> Tensor:
    """x - m - log(sum(exp(x - m))) along dim, m = max(x) detached.

    >>> log_softmax(cadenza.tensor([0.0, 0.0]), dim=0)
    tensor([-0.6931, -0.6931])
    """
    x, d = _prep_softmax(input, dim, dtype, "log_softmax")
    if d is None:
        return x * 0
    if _fusable(x):
        return apply(LogSoftmax, x, dim=d)
    z = x - x.detach().amax(d, keepdim=True)   # rows with inf give NaN, as in softmax
    return z - z.exp().sum(d, keepdim=True).log()


def softmin(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
            dtype=None) -> Tensor:
    """softmax(-x).

    >>> softmin(cadenza.tensor([0.0, 0.0]), dim=0)
    tensor([0.5000, 0.5000])
    """
    if input.dtype == dtypes.bool:   # torch negates first: refused before any dtype= cast
        raise RuntimeError("softmin: Negation, the `-` operator, on a bool tensor is not "
                           "supported. If you are trying to invert a mask, use the `~` or "
                           "`logical_not()` operator instead.")
    neg = -input   # negated in the input's dtype first (an unsigned one wraps), as torch
    if dtype is not None:
        neg = neg.to(dtype)
    if dim is None:
        dim = _softmax_dim(input.ndim, "softmin")
    return softmax(neg, dim)


def glu(input: Tensor, dim: int = -1) -> Tensor:
    """a * sigmoid(b) where (a, b) are the two halves of input along dim (Dauphin et al.).

    >>> glu(cadenza.tensor([1.0, 0.0]))
    tensor([0.5000])
    """
    if input.ndim == 0:
        raise ShapeError("glu: expected a tensor with at least 1 dimension, got ()")
    d = _norm_dim(dim, input.ndim, "glu")
    n = input.shape[d]
    if n % 2:
        raise ShapeError(f"glu: expected an even size along dim {dim}, got "
                         f"{fmt_shape(input.shape)}")
    a, b = input.narrow(d, 0, n // 2), input.narrow(d, n // 2, n // 2)
    return in_float32(lambda a, b: a * ops.sigmoid(b), a, b)


@writes_out
def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12,
              out=None) -> Tensor:
    """x / max(||x||_p, eps) along dim.

    >>> normalize(cadenza.tensor([[3.0, 4.0]]))
    tensor([[0.6000, 0.8000]])
    """
    d = _norm_dim(dim, input.ndim, "normalize") if input.ndim else None
    if is_half(input):
        # torch: the norm rounded to the narrow dtype, clamped by eps in that dtype (1e-12
        # rounds to 0: a zero slice gives NaN), then one rounded division
        norm = ops.norm(input, p, d, keepdim=True) if d is not None else \
            ops.norm(input, p).reshape(input.shape)
        return input / ops.clamp(norm, min=eps)
    if p == math.inf:
        norm = ops.clamp(input.abs().amax(d, keepdim=True), min=eps)
    elif p == -math.inf:
        norm = ops.clamp(input.abs().amin(d, keepdim=True), min=eps)
    elif p == 2:
        # sqrt(max(sum x^2, eps^2)) == max(||x||, eps), and the sqrt never sees 0 (its
        # gradient 1/(2 sqrt s) would give 0 * inf = NaN for an all-zero slice)
        norm = ops.clamp((input * input).sum(d, keepdim=True), min=eps * eps).sqrt()
    elif p == 1:
        norm = ops.clamp(input.abs().sum(d, keepdim=True), min=eps)
    else:
        s = (input.abs() ** p).sum(d, keepdim=True)
        norm = ops.clamp(s, min=eps ** p) ** (1.0 / p)
    return input / norm


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """x for x > 0 else weight * x, weight broadcast along the channel dim 1.

    >>> prelu(cadenza.tensor([[-1.0, 2.0]]), cadenza.tensor([0.25]))
    tensor([[-0.2500,  2.0000]])
    """
    n = weight.numel()
    if n != 1:
        if input.ndim < 1 or (input.shape[1] if input.ndim > 1 else input.shape[0]) != n:
            raise ShapeError(f"prelu: expected weight.numel() == 1 or == the number of channels "
                             f"(input.shape[1]), got weight {fmt_shape(weight.shape)} and input "
                             f"{fmt_shape(input.shape)}")
        if input.ndim >= 2:
            weight = weight.reshape((n,) + (1,) * (input.ndim - 2))
    elif weight.ndim:
        weight = weight.reshape(())
    x, w = input._data, weight._data
    if _state.tracer is None and type(x) is np.ndarray and type(w) is np.ndarray and \
            x.dtype == w.dtype and (x.dtype == np.float32 or x.dtype == np.float64):
        return apply(PreluKernel, input, weight)   # eager: one op (the composite's values)
    return ops.where(input > 0, input, weight * input)


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    """x where x > threshold, else value.

    >>> threshold(cadenza.tensor([0.5, 2.0]), 1.0, -1.0)
    tensor([-1.,  2.])
    """
    out = ops.where(input > threshold, input, value)
    return _maybe_inplace(input, out, inplace, "threshold")


def threshold_(input, threshold_value, value):
    return threshold(input, threshold_value, value, inplace=True)


def tanhshrink(input: Tensor) -> Tensor:
    """x - tanh(x).

    >>> tanhshrink(cadenza.tensor([0.0]))
    tensor([0.])
    """
    return input - input.tanh()


def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """x - lambd for x > lambd, x + lambd for x < -lambd, else 0.

    >>> softshrink(cadenza.tensor([1.0, 0.2]))
    tensor([0.5000, 0.0000])
    """
    inner = ops.where(input != input, input, 0.0)  # NaN stays NaN
    return ops.where(input > lambd, input - lambd, ops.where(input < -lambd, input + lambd, inner))


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """x where |x| > lambd, else 0.

    >>> hardshrink(cadenza.tensor([1.0, 0.2]))
    tensor([1., 0.])
    """
    return ops.where((input > lambd) | (input < -lambd) | (input != input), input, 0.0)


def rrelu(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False,
          inplace: bool = False) -> Tensor:
    """Randomized leaky ReLU: slope ~ U(lower, upper) per element when training, else the mean.

    >>> rrelu(cadenza.tensor([-3.0]))
    tensor([-0.6875])
    """
    if training:
        slope = rand(*input.shape, dtype=input.dtype) * (upper - lower) + lower
    else:
        slope = (lower + upper) / 2
    out = ops.where(input > 0, input, input * slope)
    return _maybe_inplace(input, out, inplace, "rrelu")


def rrelu_(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3,
           training: bool = False) -> Tensor:
    """In-place rrelu."""
    return rrelu(input, lower, upper, training, inplace=True)


def gumbel_softmax(logits: Tensor, tau: float = 1.0, hard: bool = False, eps: float = 1e-10,
                   dim: int = -1) -> Tensor:
    """softmax((logits + g) / tau) with Gumbel noise g; ``hard`` returns one-hot samples with the
    soft sample's gradient (straight-through estimator).

    >>> gumbel_softmax(cadenza.zeros(2, 3)).shape
    cadenza.Size([2, 3])
    """
    u = rand(*logits.shape, dtype=logits.dtype)
    g = -(-(u.clamp(min=eps)).log()).log()  # Gumbel(0, 1) = -log(-log U)
    y = softmax((logits + g) / tau, dim)
    if not hard:
        return y
    idx = y.detach().argmax(dim, keepdim=True)
    y_hard = zeros_like(y).scatter(dim, idx, 1.0)
    return y_hard - y.detach() + y
