"""Loss functions as composites: classification (nll, cross entropy, binary cross entropy),
regression (mse, l1, smooth l1, huber), divergences and margin / embedding losses."""
from __future__ import annotations

import warnings

import numpy as np

from .. import dtypes as _dt, ops
from ..ops._registry import apply, autocast_policy, in_float32
from ..ops.softmax_fused import CrossEntropy, NllLoss
from ..ops.index import GetItem
from ..ops.composites import pdist  # noqa: F401 (F.pdist is torch.pdist)
from .._creation import tensor as _tensor, arange as _arange
from .._trace_hooks import untraceable
from .._dispatch import state as _state
from .._tensor_base import TensorBase as Tensor
from ..autograd.function import Function
from ..autograd.node import relabel
from ..errors import ShapeError, DTypeError, fmt_shape
from ._util import (legacy_reduction, reduce_loss, check_reduction, check_float,
                    check_tensor, is_half)
from .activation import log_softmax, _log_sigmoid

__all__ = [
    "nll_loss", "cross_entropy", "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss",
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_div", "cosine_similarity",
    "pairwise_distance", "cosine_embedding_loss", "margin_ranking_loss", "triplet_margin_loss",
    "hinge_embedding_loss", "soft_margin_loss", "poisson_nll_loss", "gaussian_nll_loss",
    "multilabel_soft_margin_loss", "multi_margin_loss", "multilabel_margin_loss",
    "triplet_margin_with_distance_loss", "ctc_loss", "pdist",
]


def _class_dim(input):
    return 0 if input.ndim == 1 else 1


def _check_nll(input, target, weight, op):
    check_float(input, op)
    check_tensor(target, op, "target")
    if target._data.dtype.kind not in "iu":
        raise DTypeError(f"{op}: expected target of integer class indices (int64), got "
                         f"{target.dtype.name}; for probabilities use a floating target with "
                         "input's shape")
    shape = tuple(input._data.shape)
    if not shape:
        raise ShapeError(f"{op}: expected input (C,), (N, C) or (N, C, d1, ...), got ()")
    cd = 0 if len(shape) == 1 else 1   # (_class_dim)
    expect = shape[:cd] + shape[cd + 1:]
    if tuple(target._data.shape) != expect:
        raise ShapeError(f"{op}: expected target.shape == {fmt_shape(expect)} for input "
                         f"{fmt_shape(shape)}, got {fmt_shape(target.shape)}")
    C = shape[cd]
    if weight is not None and tuple(weight.shape) != (C,):
        raise ShapeError(f"{op}: expected weight.shape == ({C},) (one weight per class), got "
                         f"{fmt_shape(weight.shape)}")
    return cd, C


def _check_values(t):
    """``t``'s values for a check that reads them in any order: inside vmap (a batched
    tensor: ``_all_samples``) those of every sample."""
    return t._all_samples() if hasattr(t, "_all_samples") else t._host()


_UNSIGNED = {np.dtype(f"i{n}"): np.dtype(f"u{n}") for n in (1, 2, 4, 8)}


def _check_targets(target, ignore_index, C, op):
    """Check that the class indices ``target`` are in [0, C) or ``ignore_index``. Returns True
    when the check showed that none equals ignore_index (every target counts), else False."""
    if getattr(target, "is_meta", False):
        return False   # a meta tensor has no values to check
    t = np.asarray(_check_values(target))
    kind = t.dtype.kind
    if t.size and kind in "iu":
        # the common case in one reduction: every index in range, so none is an ignore_index
        # outside [0, C) (the masked check below is for targets that may hold it). Read as
        # unsigned, a negative index is at least 2**(bits - 1) > C: one max checks both ends.
        u = _UNSIGNED.get(t.dtype) if kind == "i" else None
        if u is not None and C < 1 << (8 * u.itemsize - 1):   # (C <= the signed maximum)
            t_u = t.view(u)
        else:
            t_u = t if kind == "u" else None
        if (t.min() >= 0 and t.max() < C) if t_u is None else t_u.max() < C:
            return ignore_index is None or not 0 <= ignore_index < C
    valid = t[t != ignore_index]
    if valid.size and (valid.min() < 0 or valid.max() >= C):
        bad = valid.min() if valid.min() < 0 else valid.max()
        raise IndexError(f"{op}: expected class indices in [0, {C}) or ignore_index "
                         f"({ignore_index}), got target value {int(bad)}")
    return False


@autocast_policy("fp32")
def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None,
             ignore_index: int = -100, reduce=None, reduction: str = "mean") -> Tensor:
    """Negative log likelihood: loss_i = -w[t_i] * input[i, t_i], skipping ignore_index.

    'mean' divides by the sum of the weights of the non-ignored targets (as torch).

    >>> nll_loss(cadenza.tensor([[-1.0, -2.0]]), cadenza.tensor([1]))
    tensor(2.)
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction(reduction, "nll_loss")
    cd, C = _check_nll(input, target, weight, "nll_loss")
    counts = _check_targets(target, ignore_index, C, "nll_loss")
    return _nll(input, target, weight, ignore_index, reduction, cd, counts)


def _nll(input, target, weight, ignore_index, reduction, cd, counts=False):
    x, t = input._data, target._data
    if weight is None and x.ndim <= 2 and _state.tracer is None and type(t) is np.ndarray \
            and type(x) is np.ndarray and (x.dtype == np.float32 or x.dtype == np.float64):
        # eager, no class weights: one primitive (torch's one node, NllLossBackward0, whose
        # next_functions list the input's alone); tracing records the composite below
        return relabel(apply(NllLoss, input, target, reduction=reduction,
                             ignore_index=int(ignore_index)), "NllLossBackward0", (input,))
    # (one node in torch: NllLossBackward0)
    return relabel(_nll_of(input, target, weight, ignore_index, reduction, cd, counts),
                   "NllLossBackward0", (input,))


def _nll_of(input, target, weight, ignore_index, reduction, cd, counts=False):
    """The NLL loss; ``counts``: _check_targets found that every target counts (none is
    ignore_index)."""
    t = target._data
    if weight is None and _state.tracer is None and type(t) is np.ndarray and \
            type(input._data) is np.ndarray and 0 < t.size < 1 << 24 and \
            (counts or not (t == ignore_index).any()):
        # no weights and no ignored target (eager; _check_targets has checked the range): the
        # ops below with w = 1 and total = the count, whose products and quotients by 1 drop
        # out: the same values and gradients in 2-3 ops instead of ~15
        if input._data.ndim == 2:   # input[n, t_n] (a copy of t: backward reads it)
            picked = apply(GetItem, input, index=(np.arange(t.shape[0]), t.copy()))
        else:
            picked = ops.gather(input, cd, target.unsqueeze(cd)).squeeze(cd)
        if reduction == "mean":
            # sum(-p) / n as sum(p) / -n: negation is exact and commutes with every rounding
            # step, so the same value and gradient (-1/n each) with one op fewer
            return picked.sum() / -float(t.size)
        loss = -picked
        return loss if reduction == "none" else loss.sum()
    keep = target != ignore_index
    safe = ops.where(keep, target, 0)
    # pick input[n, t_n, d...] by gathering along the class dim
    picked = ops.gather(input, cd, safe.unsqueeze(cd)).squeeze(cd)
    if weight is None:
        w = keep.to(input.dtype)
    else:
        w = weight.to(input.dtype)[safe] * keep
    loss = ops.where(keep, -picked * w, 0.0)  # an ignored NaN/inf input is not read (torch)
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    total = w.sum()
    # every target ignored: the mean is NaN (0/0) as in PyTorch, but its gradient is 0, not
    # the NaN that dividing by a zero total would send back (zero weights on kept targets do
    # give NaN gradients, in PyTorch too)
    empty = keep.sum() == 0  # (sum, not any: sum has an ONNX lowering)
    return ops.where(empty, float("nan"), loss.sum() / ops.where(empty, 1.0, total))


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                  size_average=None, ignore_index: int = -100, reduce=None,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Cross entropy of logits ``input`` (N, C, d1, ...) against class indices (N, d1, ...) or
    class probabilities (input's shape).

    With smoothing eps and C classes the target is (1 - eps) one_hot + eps / C, i.e.
    loss = (1 - eps) nll + eps / C * sum_c(-w_c log p_c), normalised as torch does.

    >>> cross_entropy(cadenza.zeros(2, 4), cadenza.tensor([0, 3]))
    tensor(1.3863)
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction(reduction, "cross_entropy")
    check_float(input, "cross_entropy")
    check_tensor(target, "cross_entropy", "target")
    if _state.autocast is not None and input._data.dtype.itemsize == 2:
        input = input.float()   # torch's autocast computes cross-entropy in float32
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: expected 0 <= label_smoothing <= 1, got "
                         f"{label_smoothing}")
    ndim = input._data.ndim
    if ndim == 0:
        raise ShapeError("cross_entropy: expected input (C,), (N, C) or (N, C, d1, ...), got ()")
    cd = 0 if ndim == 1 else 1   # (_class_dim)
    C = input._data.shape[cd]
    wshape = [1] * ndim
    wshape[cd] = C
    if target.is_floating_point():
        logp = log_softmax(input, cd)
        if tuple(target.shape) != tuple(input.shape):
            raise ShapeError(f"cross_entropy: expected probability target.shape == input.shape"
                             f" {fmt_shape(input.shape)}, got {fmt_shape(target.shape)}")
        if weight is not None and tuple(weight.shape) != (C,):
            raise ShapeError(f"cross_entropy: expected weight.shape == ({C},), got "
                             f"{fmt_shape(weight.shape)}")
        if ignore_index != -100:
            raise RuntimeError(f"cross_entropy: ignore_index is not supported for floating "
                               f"point (probability) target, got ignore_index={ignore_index}")
        if label_smoothing > 0:
            target = target * (1 - label_smoothing) + label_smoothing / max(C, 1)
        prod = logp * target
        if weight is not None:
            prod = prod * weight.reshape(wshape)
        loss = -prod.sum(cd)
        if reduction == "mean":
            # an empty batch is 0 / 0 = NaN, as torch
            return loss.sum() / (input.numel() // C if C else 0)
        return reduce_loss(loss, reduction, "cross_entropy")
    _check_nll(input, target, weight, "cross_entropy")
    counts = _check_targets(target, ignore_index, C, "cross_entropy")
    dt = input._data.dtype
    if ndim == 2 and weight is None and label_smoothing == 0 and (
            dt == np.float32 or dt == np.float64):
        # the common case as one fused primitive (cadenza/ops/softmax_fused.py)
        loss = apply(CrossEntropy, input, target, ignore_index=int(ignore_index))
        if reduction == "none":
            return relabel(loss, "NllLossBackward0", (input,))
        # shown as torch's NllLossBackward0(LogSoftmaxBackward0(input))
        relabel(loss, "LogSoftmaxBackward0", (input,))
        t = target._data
        if reduction == "sum":
            out = loss.sum()
        elif _state.tracer is None and type(t) is np.ndarray and 0 < t.size < 1 << 24 and \
                (counts or not (t == ignore_index).any()):
            out = loss.sum() / float(t.size)   # every target counts (eager): the same quotient
        else:
            out = loss.sum() / (target != ignore_index).sum().to(input.dtype)
        return relabel(out, "NllLossBackward0", (loss,))
    logp = log_softmax(input, cd)
    nll = _nll(logp, target, weight, ignore_index, reduction, cd, counts)
    if label_smoothing == 0:
        return nll
    keep = target != ignore_index
    if weight is not None:
        smooth = -(logp * weight.reshape(wshape)).sum(cd)
    else:
        smooth = -logp.sum(cd)
    smooth = ops.where(keep, smooth, 0.0)
    if reduction == "mean":
        if weight is not None:
            denom = (weight[ops.where(keep, target, 0)] * keep).sum()
        else:
            denom = keep.sum()
        smooth = smooth.sum() / denom
    elif reduction == "sum":
        smooth = smooth.sum()
    return nll * (1 - label_smoothing) + smooth * (label_smoothing / C)


def _check_pair(input, target, op, broadcast=True):
    check_tensor(input, op)
    check_tensor(target, op, "target")
    if tuple(input.shape) != tuple(target.shape):
        try:
            np.broadcast_shapes(tuple(input.shape), tuple(target.shape))
        except ValueError:
            raise ShapeError(f"{op}: expected target.shape == input.shape, got input "
                             f"{fmt_shape(input.shape)} and target {fmt_shape(target.shape)}"
                             ) from None
        if not broadcast:
            raise ShapeError(f"{op}: expected target.shape == input.shape, got input "
                             f"{fmt_shape(input.shape)} and target {fmt_shape(target.shape)}")
        warnings.warn(f"{op}: using a target size {fmt_shape(target.shape)} that is different "
                      f"to the input size {fmt_shape(input.shape)}; they will be broadcast",
                      stacklevel=3)


def _weighted(loss, weight, reduction, op, mean_by_weight=False):
    """Multiply by ``weight`` (input's shape for the regression losses, as torch requires; the
    binary cross entropies broadcast it) and reduce; mse and l1 divide
    a weighted 'mean' by sum(weight), huber by the element count (torch's conventions)."""
    if weight is None:
        return reduce_loss(loss, reduction, op)
    if op in ("mse_loss", "l1_loss", "huber_loss") and tuple(weight.shape) != tuple(loss.shape):
        raise ShapeError(f"{op}: expected weight.shape == input.shape {fmt_shape(loss.shape)}, "
                         f"got {fmt_shape(weight.shape)}")
    loss = loss * weight
    if reduction == "mean" and mean_by_weight:
        return loss.sum() / weight.sum()
    return reduce_loss(loss, reduction, op)


@autocast_policy("fp32")
def mse_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
             reduction: str = "mean", weight: Tensor | None = None) -> Tensor:
    """(input - target)^2, reduced.

    >>> mse_loss(cadenza.tensor([1.0, 2.0]), cadenza.tensor([0.0, 0.0]))
    tensor(2.5000)
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    _check_pair(input, target, "mse_loss")
    d = input - target
    return relabel(_weighted(d * d, weight, reduction, "mse_loss", True), "MseLossBackward0",
                   (input, target))


@autocast_policy("fp32")
def l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
            reduction: str = "mean", weight: Tensor | None = None) -> Tensor:
    """|input - target|, reduced.

    >>> l1_loss(cadenza.tensor([1.0, -2.0]), cadenza.tensor([0.0, 0.0]))
    tensor(1.5000)
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    _check_pair(input, target, "l1_loss")
    return _weighted((input - target).abs(), weight, reduction, "l1_loss", True)


@autocast_policy("fp32")
def smooth_l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
                   reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta (d = input - target).

    >>> smooth_l1_loss(cadenza.tensor([0.5, 3.0]), cadenza.tensor([0.0, 0.0]))
    tensor(1.3125)
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    _check_pair(input, target, "smooth_l1_loss")
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: expected beta >= 0, got {beta}")
    d = (input - target).abs()
    if beta == 0:
        return reduce_loss(d, reduction, "smooth_l1_loss")
    loss = ops.where(d < beta, d * d * (0.5 / beta), d - 0.5 * beta)
    return reduce_loss(loss, reduction, "smooth_l1_loss")


@autocast_policy("fp32")
def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0,
               weight: Tensor | None = None) -> Tensor:
    """0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta).

    >>> huber_loss(cadenza.tensor([0.5, 3.0]), cadenza.tensor([0.0, 0.0]))
    tensor(1.3125)
    """
    _check_pair(input, target, "huber_loss")
    if delta <= 0:
        raise ValueError(f"huber_loss: expected delta > 0, got {delta}")
    d = (input - target).abs()
    loss = ops.where(d < delta, d * d * 0.5, (d - 0.5 * delta) * delta)
    return _weighted(loss, weight, reduction, "huber_loss")


@autocast_policy("fp32")
class _RangeError(RuntimeError, ValueError):
    """An input value outside the op's domain: torch raises RuntimeError; ValueError kept."""


def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                         size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """-(t log x + (1 - t) log(1 - x)) with each log clamped to >= -100 (as torch).

    >>> binary_cross_entropy(cadenza.tensor([0.5]), cadenza.tensor([1.0]))
    tensor(0.6931)
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_float(input, "binary_cross_entropy")
    check_tensor(target, "binary_cross_entropy", "target")
    if tuple(target.shape) != tuple(input.shape):
        raise ShapeError(f"binary_cross_entropy: expected target.shape == input.shape, got "
                         f"input {fmt_shape(input.shape)} and target {fmt_shape(target.shape)}")
    x = input._data if input.is_meta else _check_values(input)   # (meta: nothing to check)
    if x.size and not input.is_meta and not ((x >= 0) & (x <= 1)).all():  # NaN too, as torch
        raise _RangeError("binary_cross_entropy: expected all elements of input in [0, 1], got "
                         f"values in [{float(np.nanmin(x))}, {float(np.nanmax(x))}]")
    loss = _BinaryCrossEntropy.apply(input, target)
    return relabel(_weighted(loss, weight, reduction, "binary_cross_entropy"),
                   "BinaryCrossEntropyBackward0",
                   (input, target) if weight is None else (input, target, weight))


_BCE_EPS = float(np.float32(1e-12))  # torch's EPS: a float32 constant, also in float64


class _BinaryCrossEntropy(Function):
    """Elementwise BCE with torch's gradients: (x - t) / max(x (1 - x), eps) for the input
    (eps = 1e-12 rounded to float32, as torch's kernel, in every dtype),
    finite where x is exactly 0 or 1 (a saturated sigmoid: the clamped logs' chain rule gives
    0 * inf = NaN there), and log(1 - x) - log x (not clamped) for the target. The backward is
    written in recorded ops, so double backward works."""

    @staticmethod
    def forward(ctx, x, t):
        ctx.save_for_backward(x, t)
        log_x = ops.clamp(x.log(), min=-100.0)      # each log clamped to >= -100, as torch
        log_1mx = ops.clamp((1 - x).log(), min=-100.0)
        return -(t * log_x + (1 - t) * log_1mx)

    @staticmethod
    def backward(ctx, g):
        x, t = ctx.saved_tensors
        gx = gt = None
        if ctx.needs_input_grad[0]:
            gx = in_float32(lambda g, x, t: g * (x - t) / ops.clamp((1 - x) * x, min=_BCE_EPS),
                            g, x, t)
        if ctx.needs_input_grad[1]:      # unclamped, as torch: +-inf where x is 0 or 1
            gt = in_float32(lambda g, x: -(g * (x.log() - (1 - x).log())), g, x)
        return gx, gt


@autocast_policy("fp32")
def binary_cross_entropy_with_logits(input: Tensor, target: Tensor,
                                     weight: Tensor | None = None, size_average=None,
                                     reduce=None, reduction: str = "mean",
                                     pos_weight: Tensor | None = None) -> Tensor:
    """BCE of sigmoid(x) computed from logits without overflow:
    (1 - t) x + (1 + (pw - 1) t) softplus(-x), softplus(-x) = -log sigmoid(x).

    >>> binary_cross_entropy_with_logits(cadenza.tensor([0.0]), cadenza.tensor([1.0]))
    tensor(0.6931)
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_float(input, "binary_cross_entropy_with_logits")
    check_tensor(target, "binary_cross_entropy_with_logits", "target")
    if tuple(target.shape) != tuple(input.shape):
        raise ShapeError(f"binary_cross_entropy_with_logits: expected target.shape == "
                         f"input.shape, got input {fmt_shape(input.shape)} and target "
                         f"{fmt_shape(target.shape)}")
    sp = -_log_sigmoid(input)
    if pos_weight is not None:
        sp = sp * ((pos_weight - 1) * target + 1)
    loss = (1 - target) * input + sp
    return _weighted(loss, weight, reduction, "binary_cross_entropy_with_logits")


def _xlogy(x, y):
    # x log y with 0 where x == 0 (and y is then never logged, so no 0 * -inf)
    zero = x == 0
    return ops.where(zero, 0.0, x * ops.where(zero, 1.0, y).log())


class _KlDivPointwise(Function):
    """t log t - t x with torch's gradients: -t for x, log t + 1 - x for t, and NaN at t == 0
    (torch's xlogy(t, t) contributes t / t there; the masked log alone would give 1 - x)."""

    @staticmethod
    def forward(ctx, x, t):
        ctx.save_for_backward(x, t)
        return _xlogy(t, t) - t * x

    @staticmethod
    def backward(ctx, g):
        x, t = ctx.saved_tensors
        gx = -g * t if ctx.needs_input_grad[0] else None
        gt = None
        if ctx.needs_input_grad[1]:
            gt = g * (ops.where(t == 0, float("nan"), t.log()) + 1 - x)
        return gx, gt


@autocast_policy("fp32")
def kl_div(input: Tensor, target: Tensor, size_average=None, reduce=None,
           reduction: str = "mean", log_target: bool = False) -> Tensor:
    """KL(target || exp(input)) pointwise: t (log t - x), or exp(t) (t - x) with log_target.
    'batchmean' divides the sum by the batch size (the mathematically correct KL).

    >>> kl_div(cadenza.tensor([0.0]), cadenza.tensor([1.0]), reduction='sum')
    tensor(0.)
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction(reduction, "kl_div", ("batchmean",))
    _check_pair(input, target, "kl_div")
    if log_target:
        loss = target.exp() * (target - input)
    else:
        loss = relabel(_KlDivPointwise.apply(input, target), "SubBackward0", (input, target))
    if reduction == "batchmean":
        return loss.sum() / (input.shape[0] if input.ndim else 1)
    return reduce_loss(loss, reduction, "kl_div")


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """x1 . x2 / (max(||x1||, eps) max(||x2||, eps)) along dim (inputs broadcast).

    >>> cosine_similarity(cadenza.tensor([[1.0, 0.0]]), cadenza.tensor([[1.0, 1.0]]))
    tensor([0.7071])
    """
    try:
        shape = np.broadcast_shapes(tuple(x1.shape), tuple(x2.shape))
    except ValueError:
        raise ShapeError(f"cosine_similarity: expected broadcastable shapes, got "
                         f"{fmt_shape(x1.shape)} and {fmt_shape(x2.shape)}") from None
    if x1._data.shape != shape:
        x1 = x1.expand(shape)
    if x2._data.shape != shape:
        x2 = x2.expand(shape)
    if is_half(x1) or is_half(x2):
        dt = _dt.result_type(x1, x2)
        return cosine_similarity(x1.float(), x2.float(), dim, eps).to(dt)
    # torch clamps the norms in place under no_grad: the value is max(||x||, eps), the
    # gradient the norm's own (also where the clamp holds)
    n1, n2 = ops.norm(x1, 2, dim=dim, keepdim=True), ops.norm(x2, 2, dim=dim, keepdim=True)
    return ((x1 / _clamped_norm(n1, eps)) * (x2 / _clamped_norm(n2, eps))).sum(dim)


def _clamped_norm(n: Tensor, eps: float) -> Tensor:
    """max(n, eps) with the gradient of n itself (torch clamps under no_grad); n as it is
    where no element is below eps (n + 0: the same values, three ops fewer in eager mode)."""
    d = n._data
    if _state.tracer is None and type(d) is np.ndarray and (d >= eps).all():
        return n
    return n + (ops.clamp(n, min=eps) - n).detach()


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6,
                      keepdim: bool = False) -> Tensor:
    """||x1 - x2 + eps||_p over the last dim.

    >>> pairwise_distance(cadenza.tensor([[3.0, 0.0]]), cadenza.tensor([[0.0, 4.0]]), eps=0)
    tensor([5.])
    """
    d = x1 - x2 + eps
    dim = -1 if d.ndim else None
    return ops.norm(d, p, dim=dim, keepdim=keepdim)


@autocast_policy("fp32")
def cosine_embedding_loss(input1: Tensor, input2: Tensor, target: Tensor,
                          margin: float = 0.0, size_average=None, reduce=None,
                          reduction: str = "mean") -> Tensor:
    """1 - cos(x1, x2) for y = 1, max(0, cos(x1, x2) - margin) for y = -1.

    torch computes cos as x1.x2 / sqrt((|x1|^2 + eps)(|x2|^2 + eps)), eps = 1e-12.

    >>> cosine_embedding_loss(cadenza.ones(1, 2), cadenza.ones(1, 2), cadenza.tensor([1]))
    tensor(0.)
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    d = input1.ndim - 1
    eps = 1e-12
    prod = (input1 * input2).sum(d)
    m1 = (input1 * input1).sum(d) + eps
    m2 = (input2 * input2).sum(d) + eps
    cos = prod / (m1 * m2).sqrt()
    loss = ops.where(target == 1, 1 - cos,
                     ops.where(target == -1, ops.clamp(cos - margin, min=0.0), 0.0))
    return reduce_loss(loss, reduction, "cosine_embedding_loss")


@autocast_policy("fp32")
def margin_ranking_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0,
                        size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """max(0, -y (x1 - x2) + margin).

    >>> margin_ranking_loss(cadenza.tensor([1.0]), cadenza.tensor([2.0]), cadenza.tensor([1.0]))
    tensor(1.)
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    loss = ops.clamp(-target * (input1 - input2) + margin, min=0.0)
    return reduce_loss(loss, reduction, "margin_ranking_loss")


@autocast_policy("fp32")
def triplet_margin_loss(anchor: Tensor, positive: Tensor, negative: Tensor,
                        margin: float = 1.0, p: float = 2, eps: float = 1e-6, swap: bool = False,
                        size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """max(d(a, p) - d(a, n) + margin, 0) with d the pairwise p-distance.

    >>> triplet_margin_loss(cadenza.zeros(1, 2), cadenza.zeros(1, 2), cadenza.ones(1, 2))
    tensor(0.)
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = ops.minimum(d_neg, pairwise_distance(positive, negative, p, eps))
    loss = ops.clamp(d_pos - d_neg + margin, min=0.0)
    return reduce_loss(loss, reduction, "triplet_margin_loss")


@autocast_policy("fp32")
def hinge_embedding_loss(input: Tensor, target: Tensor, margin: float = 1.0, size_average=None,
                         reduce=None, reduction: str = "mean") -> Tensor:
    """x where y = 1, max(0, margin - x) where y = -1.

    >>> hinge_embedding_loss(cadenza.tensor([0.3]), cadenza.tensor([-1.0]))
    tensor(0.7000)
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    margin_part = ops.where(target == -1, ops.clamp(margin - input, min=0.0), 0.0)
    self_part = ops.where(target == 1, input, 0.0)
    return reduce_loss(margin_part + self_part, reduction, "hinge_embedding_loss")


@autocast_policy("fp32")
def soft_margin_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
                     reduction: str = "mean") -> Tensor:
    """log(1 + exp(-y x)) = -log sigmoid(y x).

    >>> soft_margin_loss(cadenza.tensor([0.0]), cadenza.tensor([1.0]))
    tensor(0.6931)
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    return reduce_loss(-_log_sigmoid(input * target), reduction, "soft_margin_loss")


@autocast_policy("fp32")
def multilabel_soft_margin_loss(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                size_average=None, reduce=None,
                                reduction: str = "mean") -> Tensor:
    """-mean_c(y_c log sigmoid(x_c) + (1 - y_c) log sigmoid(-x_c)) per sample.

    >>> multilabel_soft_margin_loss(cadenza.zeros(1, 2), cadenza.ones(1, 2))
    tensor(0.6931)
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    loss = -(target * _log_sigmoid(input) + (1 - target) * _log_sigmoid(-input))
    if weight is not None:
        loss = loss * weight
    loss = loss.mean(input.ndim - 1)
    return reduce_loss(loss, reduction, "multilabel_soft_margin_loss")


@autocast_policy("fp32")
def poisson_nll_loss(input: Tensor, target: Tensor, log_input: bool = True, full: bool = False,
                     size_average=None, eps: float = 1e-8, reduce=None,
                     reduction: str = "mean") -> Tensor:
    """exp(x) - t x (log_input) or x - t log(x + eps), plus Stirling's term when ``full``.

    >>> poisson_nll_loss(cadenza.tensor([0.0]), cadenza.tensor([1.0]))
    tensor(1.)
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    if log_input:
        loss = input.exp() - target * input
    else:
        loss = input - target * (input + eps).log()
    if full:
        # t log t - t + 0.5 log(2 pi t), only where t > 1
        t1 = ops.where(target > 1, target, 1.0)
        stirling = t1 * t1.log() - t1 + 0.5 * (t1 * (2 * np.pi)).log()
        loss = loss + ops.where(target > 1, stirling, 0.0)
    return reduce_loss(loss, reduction, "poisson_nll_loss")


def gaussian_nll_loss(input: Tensor, target: Tensor, var: Tensor, full: bool = False,
                      eps: float = 1e-6, reduction: str = "mean") -> Tensor:
    """0.5 (log(max(var, eps)) + (x - t)^2 / max(var, eps)) (+ 0.5 log 2 pi when ``full``).

    >>> gaussian_nll_loss(cadenza.tensor([0.0]), cadenza.tensor([0.0]), cadenza.tensor([1.0]))
    tensor(0.)
    """
    if not isinstance(var, Tensor):
        var = input.detach() * 0 + float(var)
    if var.ndim == input.ndim - 1 and tuple(var.shape) == tuple(input.shape[:-1]):
        var = var.unsqueeze(-1)
    v = _clamp_nograd(var, eps)
    d = input - target
    loss = 0.5 * (v.log() + d * d / v)
    if full:
        loss = loss + 0.5 * float(np.log(2 * np.pi))
    return reduce_loss(loss, reduction, "gaussian_nll_loss")


def _clamp_nograd(var, eps):
    # torch clamps var under no_grad: values below eps are raised to eps, but the gradient
    # still flows to var as if unclamped
    return var + (ops.clamp(var.detach(), min=eps) - var.detach())


def _as_rows(input, target, op):
    """(C,) / () or (N, C) / (N,) as (N, C) / (N,) and whether the input was 1-d."""
    if input.ndim not in (1, 2) or input.shape[-1] == 0:
        raise ShapeError(f"{op}: expected a non-empty 1-d (C,) or 2-d (N, C) input, got "
                         f"{fmt_shape(input.shape)}")
    one = input.ndim == 1
    return (input.unsqueeze(0) if one else input), one


@autocast_policy("fp32")
def multi_margin_loss(input: Tensor, target: Tensor, p: int = 1, margin: float = 1.0,
                      weight: Tensor | None = None, size_average=None, reduce=None,
                      reduction: str = "mean") -> Tensor:
    """Multi-class hinge loss: sum over i != y of max(0, margin - x[y] + x[i])^p (times
    weight[y]), divided by C.

    >>> multi_margin_loss(cadenza.tensor([[0.1, 0.2, 0.4, 0.8]]), cadenza.tensor([3]))
    tensor(0.3250)
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    if p not in (1, 2):
        raise ValueError("only p == 1 and p == 2 supported")
    x, one = _as_rows(input, target, "multi_margin_loss")
    N, C = x.shape
    t = target.reshape(-1)
    if t.shape[0] != N:
        raise ShapeError(f"multi_margin_loss: expected target of {N} class indices, got "
                         f"{fmt_shape(target.shape)}")
    _check_targets(t, None, C, "multi_margin_loss")
    xy = ops.gather(x, 1, t.reshape(N, 1))                    # (N, 1)
    z = ops.clamp(margin - xy + x, min=0.0)
    if p == 2:
        z = z * z
    if weight is not None:
        z = z * weight.index_select(0, t).reshape(N, 1)
    is_y = _arange(C, device=x.device).reshape(1, C) == t.reshape(N, 1)
    loss = ops.where(is_y, 0.0, z).sum(1) / C
    if one:
        loss = loss.squeeze(0)
    return reduce_loss(loss, reduction, "multi_margin_loss")


@autocast_policy("fp32")
def multilabel_margin_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
                           reduction: str = "mean") -> Tensor:
    """Multi-label hinge loss: target lists each sample's classes (ended by the first -1);
    sum over target classes j and non-target classes i of max(0, 1 - (x[j] - x[i])), / C.

    >>> multilabel_margin_loss(cadenza.tensor([[0.1, 0.2, 0.4, 0.8]]),
    ...                        cadenza.tensor([[3, 0, -1, 1]]))
    tensor(0.8500)
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    x, one = _as_rows(input, target, "multilabel_margin_loss")
    N, C = x.shape
    if tuple(target.shape) != tuple(input.shape):
        raise ShapeError(f"multilabel_margin_loss: expected target of the input's shape "
                         f"{fmt_shape(input.shape)}, got {fmt_shape(target.shape)}")
    t = target.reshape(N, C).long()
    th = np.asarray(t._host())                      # validation only (the values stay traced)
    if np.any((th < -1) | (th >= C)):
        raise IndexError(f"multilabel_margin_loss: expected targets in [-1, {C - 1}], got "
                         f"values {th.min()}..{th.max()}")
    # before the first -1: no -1 at or before k (a prefix count as a product with a triangle)
    upto = _tensor(np.triu(np.ones((C, C), dtype=x._data.dtype)))
    valid = ops.matmul((t == -1).to(x.dtype), upto) == 0
    tc = ops.where(valid, t, 0)
    onehot = tc.unsqueeze(2) == _arange(C, device=x.device).reshape(1, 1, C)   # (N, k, C)
    is_target = (onehot & valid.unsqueeze(2)).long().sum(1) > 0   # (N, C)
    xj = ops.gather(x, 1, tc)                               # (N, k): x at target k
    hinge = ops.clamp(1.0 - (xj.unsqueeze(2) - x.unsqueeze(1)), min=0.0)  # (N, k, i)
    mask = valid.unsqueeze(2) & ~is_target.unsqueeze(1)
    loss = ops.where(mask, hinge, 0.0).sum((1, 2)) / C
    if one:
        loss = loss.squeeze(0)
    return reduce_loss(loss, reduction, "multilabel_margin_loss")


def triplet_margin_with_distance_loss(anchor: Tensor, positive: Tensor, negative: Tensor, *,
                                      distance_function=None, margin: float = 1.0,
                                      swap: bool = False, reduction: str = "mean") -> Tensor:
    """max(d(a, p) - d(a, n) + margin, 0) with any distance function (default: the pairwise
    2-norm distance).

    >>> triplet_margin_with_distance_loss(cadenza.zeros(1, 2), cadenza.zeros(1, 2),
    ...                                   cadenza.ones(1, 2))
    tensor(0.)
    """
    check_reduction(reduction, "triplet_margin_with_distance_loss")
    if margin <= 0:
        raise ValueError(f"TripletMarginWithDistanceLoss: expected margin to be greater than "
                         f"0, got {margin} instead")
    dist = pairwise_distance if distance_function is None else distance_function
    d_pos = dist(anchor, positive)
    d_neg = dist(anchor, negative)
    if swap:
        d_neg = ops.minimum(d_neg, dist(positive, negative))
    loss = ops.clamp(d_pos - d_neg + margin, min=0.0)
    return reduce_loss(loss, reduction, "triplet_margin_with_distance_loss")


# a finite stand-in for log(0) in the CTC recursion (so no inf - inf reaches a gradient)
_CTC_NEG = -1e30


def _ctc_targets(targets, target_lengths, N):
    """Each sample's label sequence from padded (N, S) or concatenated 1-d targets."""
    t = targets.detach().numpy().astype(np.int64)
    tl = [int(v) for v in target_lengths]
    if t.ndim == 2:
        return [t[n, :tl[n]] for n in range(N)]
    offs = np.concatenate([[0], np.cumsum(tl)])
    return [t[offs[n]:offs[n + 1]] for n in range(N)]


@autocast_policy("fp32")
def ctc_loss(log_probs: Tensor, targets: Tensor, input_lengths, target_lengths, blank: int = 0,
             reduction: str = "mean", zero_infinity: bool = False) -> Tensor:
    """Connectionist temporal classification (Graves et al., 2006): -log of the total
    probability of every alignment of the target to the input steps, by the forward
    (alpha) recursion over the blank-extended target, in log space; log_probs (T, N, C) or
    (T, C). 'mean' divides each loss by its target length, then averages.

    >>> lp = cadenza.full((2, 1, 2), 0.5).log()
    >>> ctc_loss(lp, cadenza.tensor([[1]]), [2], [1], reduction='sum')
    tensor(0.2877)
    """
    check_reduction(reduction, "ctc_loss")
    untraceable("ctc_loss", "the recursion's length and the label layout come from the "
                "targets and lengths; call it outside the compiled function", targets,
                *[v for v in (input_lengths, target_lengths) if isinstance(v, Tensor)])
    unbatched = log_probs.ndim == 2
    lp = log_probs.unsqueeze(1) if unbatched else log_probs
    if lp.ndim != 3:
        raise ShapeError(f"ctc_loss: expected log_probs (T, N, C) or (T, C), got "
                         f"{fmt_shape(log_probs.shape)}")
    if unbatched:
        targets = targets.unsqueeze(0)
    T, N, Cn = lp.shape
    as_list = (lambda v: [int(a) for a in (v.reshape(-1).tolist() if isinstance(v, Tensor)
                                            else np.reshape(v, -1))])
    il, tl = as_list(input_lengths), as_list(target_lengths)
    if len(il) != N or len(tl) != N:
        raise RuntimeError(f"ctc_loss: expected {N} input and target lengths, got {len(il)} "
                           f"and {len(tl)}")
    if any(v > T or v < 0 for v in il):
        raise RuntimeError(f"ctc_loss: expected input_lengths in [0, {T}], got {il}")
    labels = _ctc_targets(targets, tl, N)
    S = 2 * max(tl) + 1
    ext = np.full((N, S), blank, dtype=np.int64)               # blank, l1, blank, l2, ...
    skip = np.zeros((N, S), dtype=bool)                         # s-2 -> s allowed
    for n, lab in enumerate(labels):
        ext[n, 1:2 * len(lab):2] = lab
        for s in range(3, 2 * len(lab), 2):
            skip[n, s] = ext[n, s] != ext[n, s - 2]
    dt = lp._data.dtype
    neg = _tensor(np.array(_CTC_NEG, dtype=dt))
    # emissions: (T, N, S) log-probabilities of each extended label
    emit = ops.gather(lp, 2, _tensor(np.broadcast_to(ext, (T, N, S)).copy()))
    init = np.full((N, S), _CTC_NEG, dtype=dt)
    init[:, 0] = 0.0
    init[:, 1] = np.where(np.array(tl) > 0, 0.0, _CTC_NEG)
    alpha = _tensor(init) + emit[0]
    alphas = [alpha]
    skip_t = _tensor(skip)
    for t in range(1, T):
        a1 = ops.cat([neg.expand(N, 1), alpha[:, :-1]], 1)
        a2 = ops.where(skip_t, ops.cat([neg.expand(N, 2), alpha[:, :-2]], 1), neg)
        alpha = ops.stack([alpha, a1, a2], 0).logsumexp(0) + emit[t]
        alphas.append(alpha)
    # log p = logsumexp(alpha_{T_n - 1} at the last label and the blank after it)
    stacked = ops.stack(alphas, 0)                              # (T, N, S)
    tpos = np.maximum(np.array(il) - 1, 0)
    ends = np.stack([2 * np.array(tl), np.maximum(2 * np.array(tl) - 1, 0)], 1)  # (N, 2)
    last = stacked[_tensor(tpos), _tensor(np.arange(N))]       # (N, S)
    fin = ops.gather(last, 1, _tensor(ends))
    same = _tensor(np.array(tl) == 0)
    fin = ops.where(same.reshape(N, 1) & _tensor(np.array([False, True])), neg, fin)
    logp = fin.logsumexp(1)
    impossible = (logp.detach() < _CTC_NEG / 2) | _tensor(np.array(il) == 0)
    # torch's gradient with respect to log_probs is exp(log_probs) minus the alignment
    # posteriors (the gradient with respect to the logits, assuming log_probs came from a
    # log_softmax, whose backward removes the exp term again): the same gradient reaches the
    # logits, and a leaf log_probs gets torch's values. The term is zero in the forward.
    steps = _tensor((np.arange(T)[:, None] < np.array(il)[None, :])[..., None])  # (T, N, 1)
    tie = ops.where(steps, lp.exp(), 0.0).sum((0, 2))   # d tie / d log_probs = exp(log_probs)
    loss = ops.where(impossible, 0.0 if zero_infinity else float("inf"),
                     -logp + (tie - tie.detach()))
    if reduction == "mean":
        denom = _tensor(np.maximum(np.array(tl), 1).astype(dt))
        return (loss / denom).mean()
    if reduction == "sum":
        return loss.sum()
    return loss.squeeze(0) if unbatched else loss
