"""The rest of PyTorch's top-level functions: ``torch.conv2d``, ``torch.layer_norm``,
``torch.relu_`` ... are ATen's forms of ``torch.nn.functional`` and of Tensor methods, which real
programs call at the top level too. Each is a thin wrapper with ATen's signature (argument order,
``reduction`` as ATen's integer enum 0/1/2, ``stride=[]`` meaning the kernel size) over the one
implementation in ``cadenza.functional`` or on the Tensor, so there is still one op in one place.
``cadenza.functional`` loads on the first call (``import cadenza`` stays fast)."""
from __future__ import annotations

import builtins
import importlib
import math
import warnings

from . import _creation
from . import dtypes as _dt
from . import ops as _ops
from .backend import xp_of
from .device import get_default_device  # noqa: F401 (torch.get_default_device)
from .device import set_default_device as _set_default_device
from .backend import cuda as _cuda
from .device import device as _device
from ._tensor_base import TensorBase
from .ops.decomp import eig, symeig, solve, lstsq, matrix_rank  # noqa: F401 (torch's names)

__all__ = [
    "pi", "e", "inf", "nan",
    # nn.functional's ATen forms
    "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
    "layer_norm", "rms_norm", "batch_norm", "instance_norm", "group_norm", "embedding",
    "max_pool1d", "max_pool2d", "max_pool3d", "max_pool1d_with_indices", "avg_pool1d",
    "adaptive_avg_pool1d", "adaptive_max_pool1d", "constant_pad_nd",
    "alpha_dropout", "feature_alpha_dropout", "feature_dropout", "dropout_", "alpha_dropout_",
    "feature_alpha_dropout_", "feature_dropout_",
    "selu", "selu_", "celu", "celu_", "rrelu", "rrelu_", "relu_", "prelu", "hardshrink",
    "threshold", "threshold_", "pixel_shuffle", "pixel_unshuffle", "channel_shuffle",
    "native_channel_shuffle", "cosine_similarity", "pairwise_distance", "bilinear",
    "kl_div", "binary_cross_entropy_with_logits", "margin_ranking_loss", "hinge_embedding_loss",
    "cosine_embedding_loss", "triplet_margin_loss", "poisson_nll_loss", "ctc_loss",
    # tensor functions
    "norm_except_dim", "detach", "detach_", "clamp_min", "clamp_max", "rsub", "fill", "isin",
    "scalar_tensor", "column_stack", "row_stack", "dstack", "unravel_index", "is_same_size",
    "is_signed", "is_inference", "get_device", "adjoint", "typename", "cond",
    "set_flush_denormal", "set_warn_always", "is_warn_always_enabled",
    "get_default_device", "set_default_device", "set_default_tensor_type",
]

# Tensor methods torch also has as top-level functions (``torch.sigmoid_(x)`` is
# ``x.sigmoid_()``)
_METHOD_FUNCTIONS = (
    "abs_", "acos_", "acosh_", "addmv_", "arccos_", "arccosh_", "arcsin_", "arcsinh_",
    "arctan_", "arctanh_", "asin_", "asinh_", "atan_", "atanh_", "ceil_", "clamp_",
    "clamp_max_", "clamp_min_", "clip_", "cos_", "cosh_", "deg2rad_", "erf_", "erfc_", "exp2_",
    "exp_", "expm1_", "fill_", "fix_", "floor_", "frac_", "gcd_", "i0_", "index_put_", "lcm_",
    "ldexp_", "log10_", "log1p_", "log2_", "log_", "logit_", "nan_to_num_", "neg_", "negative_",
    "rad2deg_", "reciprocal_", "resize_as_", "round_", "rsqrt_", "sigmoid_", "sin_", "sinc_",
    "sinh_", "sqrt_", "square_", "tan_", "tanh_", "trunc_", "xlogy_", "zero_")
__all__ += list(_METHOD_FUNCTIONS)


def _method_function(name):
    def fn(input, *args, **kwargs):
        return getattr(input, name)(*args, **kwargs)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"``torch.{name}(input, ...)``: ``input.{name}(...)``."
    return fn


globals().update((_n, _method_function(_n)) for _n in _METHOD_FUNCTIONS)

# torch's ``*_copy`` forms of the view functions: the same values in a new contiguous tensor
# that does not alias the input (``torch.t_copy(x)`` is ``x.t()`` copied)
_COPY_FUNCTIONS = {
    "alias_copy": lambda input: input, "detach_copy": lambda input: input.detach(),
    "t_copy": lambda input: input.t(),
    "permute_copy": lambda input, dims: input.permute(dims),
    "transpose_copy": lambda input, dim0, dim1: input.transpose(dim0, dim1),
    "expand_copy": lambda input, size, *, implicit=False: input.expand(size),
    "diagonal_copy": lambda input, offset=0, dim1=0, dim2=1: input.diagonal(offset, dim1, dim2),
    "select_copy": lambda input, dim, index: input.select(dim, index),
    "slice_copy": lambda input, dim=0, start=None, end=None, step=1:
        input[(builtins.slice(None),) * (dim % builtins.max(input.ndim, 1))
              + (builtins.slice(start, end, step),)],
    "squeeze_copy": lambda input, dim=None: input.squeeze() if dim is None else
        input.squeeze(dim),
    "unsqueeze_copy": lambda input, dim: input.unsqueeze(dim),
    "unfold_copy": lambda input, dimension, size, step: input.unfold(dimension, size, step),
    "view_copy": lambda input, size: input.view(size),
    "as_strided_copy": lambda input, size, stride, storage_offset=None:
        input.as_strided(size, stride, storage_offset),
    "view_as_real_copy": lambda input: _ops.view_as_real(input),
    "view_as_complex_copy": lambda input: _ops.view_as_complex(input),
    "split_copy": lambda tensor, split_size, dim=0: tensor.split(split_size, dim),
    "split_with_sizes_copy": lambda input, split_sizes, dim=0: input.split(split_sizes, dim),
    "unbind_copy": lambda input, dim=0: input.unbind(dim),
}


def _copy_function(name, view):
    def fn(*args, **kwargs):
        out = view(*args, **kwargs)    # (torch's *_copy results are row-major)
        if isinstance(out, (tuple, list)):
            return tuple(o.clone(memory_format=_dt.contiguous_format) for o in out)
        return out.clone(memory_format=_dt.contiguous_format)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"``torch.{name}``: ``torch.{name[:-5]}``'s result, copied."
    return fn


globals().update((_n, _copy_function(_n, _v)) for _n, _v in _COPY_FUNCTIONS.items())
__all__ += list(_COPY_FUNCTIONS)

# functions torch removed in 1.9 and keeps as names that raise (ops/decomp.py)
__all__ += ["eig", "symeig", "solve", "lstsq", "matrix_rank"]
__all__ += ["empty_strided", "frobenius_norm", "nuclear_norm"]


def empty_strided(size, stride, *, dtype=None, layout=None, device=None, requires_grad=False,
                  pin_memory=False):
    """An uninitialised tensor of ``size`` with ``stride`` (a view of a buffer just large
    enough for it)."""
    size, stride = tuple(int(v) for v in size), tuple(int(v) for v in stride)
    if len(size) != len(stride):
        raise RuntimeError("mismatch in length of strides and shape")
    n = 0 if 0 in size else 1 + builtins.sum((a - 1) * b for a, b in zip(size, stride))
    out = _creation.empty(n, dtype=dtype, device=device).as_strided(size, stride)
    return out.requires_grad_() if requires_grad else out


def frobenius_norm(input, dim=(), keepdim=False):
    """ATen's Frobenius norm: the 2-norm over ``dim`` (all dims when empty); deprecated in
    torch, which warns."""
    warnings.warn("at::frobenius_norm is deprecated and it is just left for JIT compatibility. "
                  "It will be removed in a future PyTorch release. Please use "
                  "`linalg.vector_norm(A, 2., dim, keepdim)` instead", UserWarning, stacklevel=2)
    dims = tuple(dim) if isinstance(dim, (tuple, list)) else (dim,)
    return _linalg().vector_norm(input, 2, dims or None, keepdim)


def nuclear_norm(input, dim=None, keepdim=False):
    """The sum of singular values of the matrix in the last two dims (or ``dim``); deprecated
    in torch, which warns."""
    warnings.warn("at::nuclear_norm is deprecated and it is just left for JIT compatibility. It "
                  "will be removed in a future PyTorch release. Please use "
                  "`linalg.matrix_norm(A, 'nuc', dim, keepdim)` instead", UserWarning,
                  stacklevel=2)
    if isinstance(dim, builtins.bool):   # nuclear_norm(input, keepdim)
        dim, keepdim = None, dim
    return _linalg().matrix_norm(input, "nuc", (-2, -1) if dim is None else tuple(dim),
                                 keepdim)


def _linalg():
    """cadenza.linalg, imported on first use."""
    return importlib.import_module("cadenza.linalg")

pi, e, inf, nan = math.pi, math.e, math.inf, math.nan


def _F():
    """cadenza.functional, imported on first use (it is not loaded by ``import cadenza``)."""
    return importlib.import_module("cadenza.functional")


# ATen's reduction enum. The top-level loss functions default to 0 (no reduction): that is
# what torch 2.x's Python bindings do, although ATen's schemas say 1 (mean)
_REDUCTIONS = {0: "none", 1: "mean", 2: "sum"}


def _reduction(op: str, reduction) -> str:
    """ATen's reduction enum (0 none, 1 mean, 2 sum) as nn.functional's string."""
    if isinstance(reduction, builtins.bool) or reduction not in _REDUCTIONS:
        raise TypeError(f"{op}(): argument 'reduction' must be 0 (none), 1 (mean) or 2 (sum), "
                        f"got {reduction!r}")
    return _REDUCTIONS[reduction]


def _kernel_stride(stride, kernel_size):
    """ATen's pooling default: an empty stride means the kernel size."""
    return kernel_size if stride is None or (isinstance(stride, (list, tuple)) and not stride) \
        else stride


# ----------------------------------------------------------- nn.functional, ATen signatures
def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return _F().conv1d(input, weight, bias, stride, padding, dilation, groups)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return _F().conv2d(input, weight, bias, stride, padding, dilation, groups)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return _F().conv3d(input, weight, bias, stride, padding, dilation, groups)


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    return _F().conv_transpose1d(input, weight, bias, stride, padding, output_padding, groups,
                                 dilation)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    return _F().conv_transpose2d(input, weight, bias, stride, padding, output_padding, groups,
                                 dilation)


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    return _F().conv_transpose3d(input, weight, bias, stride, padding, output_padding, groups,
                                 dilation)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5, cudnn_enable=True):
    return _F().layer_norm(input, normalized_shape, weight, bias, eps)


def rms_norm(input, normalized_shape, weight=None, eps=None):
    return _F().rms_norm(input, normalized_shape, weight, eps)


def batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps,
               cudnn_enabled):
    return _F().batch_norm(input, running_mean, running_var, weight, bias, training, momentum,
                           eps)


def instance_norm(input, weight, bias, running_mean, running_var, use_input_stats, momentum,
                  eps, cudnn_enabled):
    return _F().instance_norm(input, running_mean, running_var, weight, bias, use_input_stats,
                              momentum, eps)


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5, cudnn_enabled=True):
    return _F().group_norm(input, num_groups, weight, bias, eps)


def embedding(weight, indices, padding_idx=-1, scale_grad_by_freq=False, sparse=False):
    """ATen's order (weight first); a negative padding_idx means none, as in ATen (the
    functional form has already turned a negative index into a row number)."""
    return _F().embedding(indices, weight, padding_idx if padding_idx >= 0 else None,
                          scale_grad_by_freq=scale_grad_by_freq, sparse=sparse)


def max_pool1d(input, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False):
    return _F().max_pool1d(input, kernel_size, _kernel_stride(stride, kernel_size), padding,
                           dilation, ceil_mode)


def max_pool2d(input, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False):
    return _F().max_pool2d(input, kernel_size, _kernel_stride(stride, kernel_size), padding,
                           dilation, ceil_mode)


def max_pool3d(input, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False):
    return _F().max_pool3d(input, kernel_size, _kernel_stride(stride, kernel_size), padding,
                           dilation, ceil_mode)


def max_pool1d_with_indices(input, kernel_size, stride=(), padding=0, dilation=1,
                            ceil_mode=False):
    return _F().max_pool1d(input, kernel_size, _kernel_stride(stride, kernel_size), padding,
                           dilation, ceil_mode, return_indices=True)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    return _F().avg_pool1d(input, kernel_size, _kernel_stride(stride, kernel_size), padding,
                           ceil_mode, count_include_pad)


def adaptive_avg_pool1d(input, output_size):
    return _F().adaptive_avg_pool1d(input, output_size)


def adaptive_max_pool1d(input, output_size):
    """ATen's form returns (values, indices) always."""
    return _F().adaptive_max_pool1d(input, output_size, return_indices=True)


def constant_pad_nd(input, pad, value=0):
    return _F().pad(input, list(pad), "constant", value)


def _dropout_fn(name):
    def fn(input, p, train):
        return getattr(_F(), name)(input, p, train)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"ATen's ``{name}(input, p, train)``: ``nn.functional.{name}``."
    return fn


alpha_dropout = _dropout_fn("alpha_dropout")
feature_alpha_dropout = _dropout_fn("feature_alpha_dropout")


def feature_dropout(input, p, train):
    """Zero whole channels (dim 1) of a batched input with probability p, scaling the rest by
    1/(1-p): ``nn.functional.dropout2d``'s rule for any number of spatial dims."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not train or p == 0.0:
        return input
    if input.dim() < 2:
        raise RuntimeError(f"feature_dropout: expected an input with a channel dimension "
                           f"(at least 2-d), got shape {tuple(input.shape)}")
    if p == 1.0:
        return input * 0.0
    keep = _creation.full(tuple(input.shape[:2]) + (1,) * (input.dim() - 2), 1.0 - p,
                          dtype=input.dtype, device=input.device)
    return input * (_creation.bernoulli(keep) / (1.0 - p))


def _inplace_of(fn, name):
    """ATen's in-place ``name_(input, ...)``: compute ``fn`` and write it into input (the
    in-place write bumps the version counter and re-bases autograd history, as torch does)."""
    def inplace(input, *args, **kwargs):
        return input.copy_(fn(input, *args, **kwargs))
    inplace.__name__ = inplace.__qualname__ = name
    inplace.__doc__ = f"In-place ``{name[:-1]}``: writes the result into ``input``."
    return inplace


def dropout_(input, p, train):
    return input.copy_(_F().dropout(input, p, train))


alpha_dropout_ = _inplace_of(alpha_dropout, "alpha_dropout_")
feature_alpha_dropout_ = _inplace_of(feature_alpha_dropout, "feature_alpha_dropout_")
feature_dropout_ = _inplace_of(feature_dropout, "feature_dropout_")


def selu(input):
    return _F().selu(input)


def selu_(input):
    return _F().selu_(input)


def celu(input, alpha=1.0):
    return _F().celu(input, alpha)


def celu_(input, alpha=1.0):
    return _F().celu_(input, alpha)


def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, generator=None):
    if generator is not None:
        raise NotImplementedError("rrelu: a generator argument is not supported; seed the "
                                  "global generator with manual_seed instead")
    return _F().rrelu(input, lower, upper, training)


def rrelu_(input, lower=1.0 / 8, upper=1.0 / 3, training=False, generator=None):
    return input.copy_(rrelu(input, lower, upper, training, generator))


def relu_(input):
    return _F().relu_(input)


def prelu(input, weight):
    return _F().prelu(input, weight)


def hardshrink(input, lambd=0.5):
    return _F().hardshrink(input, lambd)


def threshold(input, threshold, value):
    return _F().threshold(input, threshold, value)


def threshold_(input, threshold, value):
    return _F().threshold_(input, threshold, value)


def pixel_shuffle(input, upscale_factor):
    return _F().pixel_shuffle(input, upscale_factor)


def pixel_unshuffle(input, downscale_factor):
    return _F().pixel_unshuffle(input, downscale_factor)


def channel_shuffle(input, groups):
    return _F().channel_shuffle(input, groups)


def native_channel_shuffle(input, groups):
    return _F().native_channel_shuffle(input, groups)


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    return _F().cosine_similarity(x1, x2, dim, eps)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    return _F().pairwise_distance(x1, x2, p, eps, keepdim)


def bilinear(input1, input2, weight, bias=None):
    return _F().bilinear(input1, input2, weight, bias)


def kl_div(input, target, reduction=0, *, log_target=False):
    """ATen's kl_div: reduction 1 is the plain mean over every element (not 'batchmean')."""
    return _F().kl_div(input, target, reduction=_reduction("kl_div", reduction),
                       log_target=log_target)


def binary_cross_entropy_with_logits(input, target, weight=None, pos_weight=None, reduction=0):
    return _F().binary_cross_entropy_with_logits(
        input, target, weight, reduction=_reduction("binary_cross_entropy_with_logits",
                                                    reduction), pos_weight=pos_weight)


def margin_ranking_loss(input1, input2, target, margin=0.0, reduction=0):
    return _F().margin_ranking_loss(input1, input2, target, margin,
                                    reduction=_reduction("margin_ranking_loss", reduction))


def hinge_embedding_loss(input, target, margin=1.0, reduction=0):
    return _F().hinge_embedding_loss(input, target, margin,
                                     reduction=_reduction("hinge_embedding_loss", reduction))


def cosine_embedding_loss(input1, input2, target, margin=0.0, reduction=0):
    return _F().cosine_embedding_loss(input1, input2, target, margin,
                                      reduction=_reduction("cosine_embedding_loss", reduction))


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2.0, eps=1e-6, swap=False,
                        reduction=0):
    return _F().triplet_margin_loss(anchor, positive, negative, margin, p, eps, swap,
                                    reduction=_reduction("triplet_margin_loss", reduction))


def poisson_nll_loss(input, target, log_input, full, eps, reduction):
    return _F().poisson_nll_loss(input, target, log_input, full, eps=eps,
                                 reduction=_reduction("poisson_nll_loss", reduction))


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction=0,
             zero_infinity=False):
    return _F().ctc_loss(log_probs, targets, input_lengths, target_lengths, blank,
                         _reduction("ctc_loss", reduction), zero_infinity)


# ------------------------------------------------------------------------ tensor functions
def norm_except_dim(v, pow=2, dim=0):  # noqa: A002  (torch's parameter name)
    """The p-norm of ``v`` over every dim but ``dim``, shaped to broadcast against ``v``
    (``dim=-1``: the norm of the whole tensor); weight normalisation's g."""
    if dim == -1:
        return v.norm(pow)
    if dim == 0:
        return v.reshape(v.shape[0], -1).norm(pow, 1).reshape((v.shape[0],) + (1,) * (v.dim() - 1))
    if dim == v.dim() - 1:
        return v.reshape(-1, v.shape[-1]).norm(pow, 0).reshape((1,) * (v.dim() - 1) +
                                                               (v.shape[-1],))
    return norm_except_dim(v.transpose(0, dim), pow, 0).transpose(0, dim)


def detach(input):
    return input.detach()


def detach_(input):
    return input.detach_()


def clamp_min(input, min):  # noqa: A002  (torch's parameter name)
    return _ops.clamp(input, min=min)


def clamp_max(input, max):  # noqa: A002
    return _ops.clamp(input, max=max)


def rsub(input, other, alpha=1):
    """``other - alpha * input`` (ATen's reversed subtraction)."""
    return _ops.sub(other, input, alpha=alpha)


def fill(input, value):
    """A new tensor of input's shape and dtype filled with ``value`` (a number or a 0-d
    tensor); gradient flows to a tensor value (summed) and none to input, as in torch."""
    if isinstance(value, TensorBase) and value.dim() != 0:
        raise RuntimeError(f"fill only supports 0-dimension value tensor but got tensor with "
                           f"{value.dim()} dimensions.")
    everywhere = _creation.ones(tuple(input.shape), dtype=_dt.bool, device=input.device)
    return _ops.where(everywhere, value, input).to(input.dtype)


def isin(elements, test_elements, *, assume_unique=False, invert=False):
    """Whether each element of ``elements`` occurs in ``test_elements`` (either may be a
    number); a bool tensor of ``elements``' shape."""
    def data(x):
        return x._data if isinstance(x, TensorBase) else x
    like = elements if isinstance(elements, TensorBase) else test_elements
    xp = xp_of(like._data)
    out = xp.isin(xp.asarray(data(elements)), xp.asarray(data(test_elements)),
                  assume_unique=assume_unique, invert=invert)
    return _creation.as_tensor(out, device=like.device)


def scalar_tensor(s, *, dtype=None, layout=None, device=None, pin_memory=None,
                  requires_grad=False):
    """A 0-d tensor of ``s`` in the default floating dtype unless ``dtype`` says otherwise."""
    return _creation.tensor(s, dtype=dtype or _dt.get_default_dtype(), device=device,
                            requires_grad=requires_grad)


def column_stack(tensors):
    """Stack 0-d and 1-d tensors as columns, higher ones as they are, along dim 1 (out=: the
    top level's, cadenza._out)."""
    return _ops.hstack([t.reshape(t.numel(), 1) if t.dim() <= 1 else t for t in tensors])


def row_stack(tensors):
    return _ops.vstack(tensors)


def dstack(tensors):
    """Concatenate along the third dim after making each tensor at least 3-d."""
    return _ops.cat([_ops.atleast_3d(t) for t in tensors], 2)


def unravel_index(indices, shape):
    """Flat indices -> a tuple of coordinate tensors for ``shape`` (C order). As in torch,
    indices outside the shape wrap around rather than raise."""
    if not isinstance(indices, TensorBase):
        indices = _creation.as_tensor(indices)
    if indices.is_floating_point() or indices.is_complex() or indices.dtype is _dt.bool:
        raise TypeError(f"expected 'indices' to be integer dtype, but got {indices.dtype}")
    dims = [shape] if isinstance(shape, builtins.int) else list(shape)
    if any(not isinstance(d, builtins.int) or d < 0 for d in dims):
        raise ValueError(f"'shape' must only contain non-negative integers, got {shape}")
    flat = indices.to(_dt.int64)
    coords = []
    for d in reversed(dims):
        coords.append(_ops.remainder(flat, d) if d else flat * 0)
        flat = _ops.floor_divide(flat, d) if d else flat * 0
    return tuple(reversed(coords))


def is_same_size(input, other) -> builtins.bool:
    return tuple(input.shape) == tuple(other.shape)


def is_signed(input) -> builtins.bool:
    return input.is_signed()


def is_inference(input) -> builtins.bool:
    return input.is_inference()


def get_device(input) -> builtins.int:
    return input.get_device()


def adjoint(input):
    return input.adjoint()


def typename(obj) -> str:
    """``torch.typename``: 'torch.FloatTensor' for a tensor, else 'module.QualName'."""
    if isinstance(obj, TensorBase):
        return obj.type()
    module = getattr(obj, "__module__", "") or ""
    if hasattr(obj, "__qualname__"):
        qualname = obj.__qualname__
    elif hasattr(obj, "__name__"):
        qualname = obj.__name__
    else:
        module = obj.__class__.__module__ or ""
        qualname = obj.__class__.__qualname__
    if module.startswith("cadenza"):       # the user's program thinks it imported torch
        module = "torch" + module[len("cadenza"):]
    return qualname if module in ("", "builtins") else f"{module}.{qualname}"


def cond(pred, true_fn, false_fn, operands=()):
    """``torch.cond`` run eagerly: ``true_fn(*operands)`` if ``pred`` else
    ``false_fn(*operands)``; ``pred`` is a bool, a number or a one-element tensor."""
    if isinstance(pred, TensorBase):
        if pred.numel() != 1:
            raise RuntimeError(f"cond: expected pred to be a bool or a tensor with a single "
                               f"element, got a tensor of shape {tuple(pred.shape)}")
        pred = pred.item()
    if not isinstance(operands, (tuple, list)):
        raise RuntimeError(f"cond: expected operands to be a tuple or list, got "
                           f"{type(operands).__name__}")
    if not (callable(true_fn) and callable(false_fn)):
        raise RuntimeError("cond: expected true_fn and false_fn to be callable")
    return (true_fn if pred else false_fn)(*operands)


# ------------------------------------------------------------------------ process switches
_warn_always = [False]


def set_warn_always(b: builtins.bool) -> None:
    _warn_always[0] = builtins.bool(b)


def is_warn_always_enabled() -> builtins.bool:
    return _warn_always[0]


def set_flush_denormal(mode: builtins.bool) -> builtins.bool:
    """Cadenza's kernels never flush denormals to zero: turning it off succeeds (True),
    turning it on is not supported (False), as torch reports on CPUs without the feature."""
    return not mode


def set_default_device(device) -> None:
    """torch.set_default_device: the device factory functions create tensors on when given
    none ('cpu', 'meta', 'cuda' where CUDA is available; None restores the CPU)."""
    d = None if device is None else _device(device)
    if d is not None and d.type == "cuda":
        if not _cuda.is_available():
            raise RuntimeError(f"set_default_device: CUDA is not available, {d} cannot be "
                               "the default device")
    _set_default_device(d)


def set_default_tensor_type(t) -> None:
    """Deprecated torch API: ``torch.FloatTensor``/``'torch.DoubleTensor'`` ... set the default
    floating dtype."""
    name = t if isinstance(t, str) else getattr(t, "__name__", str(t))
    name = name.split(".")[-1]
    table = {"FloatTensor": _dt.float32, "DoubleTensor": _dt.float64,
             "HalfTensor": _dt.float16, "BFloat16Tensor": "bfloat16"}
    if name not in table:
        raise TypeError(f"set_default_tensor_type: only floating-point types are supported "
                        f"as the default type, got {t!r}")
    d = table[name]
    _dt.set_default_dtype(_dt.to_dtype(d) if isinstance(d, str) else d)
