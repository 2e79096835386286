"""Dropout (Srivastava et al., 2014) and its channel and alpha variants. Masks come from
cadenza's default generator, so ``cadenza.manual_seed`` makes them reproducible."""
from __future__ import annotations

import numpy as np

from .._dispatch import state as _state
from .._tensor_base import TensorBase as Tensor, _make
from .._creation import rand
from ..errors import ShapeError, fmt_shape
from ._util import inplace_result

__all__ = ["dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout",
           "feature_alpha_dropout"]


def _check_p(p, op):
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{op}: expected dropout probability in [0, 1], got {p}")


def _keep_mask(shape, p, like, scaled=True):
    """The keep mask: 1 (or 1 / (1 - p) when ``scaled``) where uniform u >= p (probability
    1 - p), else 0, in like's dtype. Outside compile, on the host, the comparison, cast and
    scaling are NumPy passes on the same draw (the same values, no dispatched ops); compile
    traces them as ops."""
    u = rand(tuple(shape), dtype=like.dtype, device=like.device)
    if _state.tracer is None and type(u._data) is np.ndarray:
        m = (u._data >= p).astype(u._data.dtype)
        if scaled:
            m *= 1.0 / (1.0 - p)
        return _make(m)
    m = (u >= p).to(like.dtype)
    return m * (1.0 / (1.0 - p)) if scaled else m


def dropout(input: Tensor, p: float = 0.5, training: bool = True,
            inplace: bool = False) -> Tensor:
    """Zero each element with probability p and scale the rest by 1 / (1 - p) (training only).

    >>> dropout(cadenza.ones(4), p=0.0)
    tensor([1., 1., 1., 1.])
    """
    _check_p(p, "dropout")
    if not training or p == 0.0:
        return input
    if p == 1.0:
        out = input * 0.0
    else:
        out = input * _keep_mask(input.shape, p, input)
    return inplace_result(input, out, "dropout") if inplace else out


def _feature_dropout(input, p, training, inplace, op, spatial):
    _check_p(p, op)
    if input.ndim not in (spatial + 1, spatial + 2):
        raise ShapeError(f"{op}: expected a {spatial + 1}-d (C, ...) or {spatial + 2}-d "
                         f"(N, C, ...) input, got {fmt_shape(input.shape)}")
    if not training or p == 0.0:
        return input
    lead = input.ndim - spatial  # the (N, C) or (C,) dims get one mask value per channel
    mshape = tuple(input.shape[:lead]) + (1,) * spatial
    if p == 1.0:
        out = input * 0.0
    else:
        out = input * _keep_mask(mshape, p, input)
    return inplace_result(input, out, op) if inplace else out


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Zero whole channels of (N, C, L) or (C, L) inputs.

    >>> dropout1d(cadenza.ones(2, 3, 4), training=False).shape
    cadenza.Size([2, 3, 4])
    """
    return _feature_dropout(input, p, training, inplace, "dropout1d", 1)


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Zero whole channels of (N, C, H, W) or (C, H, W) inputs.

    >>> dropout2d(cadenza.ones(2, 3, 4, 4), training=False).shape
    cadenza.Size([2, 3, 4, 4])
    """
    return _feature_dropout(input, p, training, inplace, "dropout2d", 2)


def dropout3d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Zero whole channels of (N, C, D, H, W) or (C, D, H, W) inputs.

    >>> dropout3d(cadenza.ones(1, 2, 2, 2, 2), training=False).shape
    cadenza.Size([1, 2, 2, 2, 2])
    """
    return _feature_dropout(input, p, training, inplace, "dropout3d", 3)


_ALPHA = 1.7580993408473766  # -SELU's negative saturation value, scale * alpha


def _alpha(input, p, mshape, op, inplace):
    # dropped units take SELU's saturation value -alpha; then a affine map a x + b restores
    # zero mean and unit variance: a = 1 / sqrt((alpha^2 p + 1)(1 - p)), b = a alpha p
    if p == 1.0:
        return input * 0.0
    a = 1.0 / ((_ALPHA * _ALPHA * p + 1) * (1 - p)) ** 0.5
    keep = _keep_mask(mshape, p, input, scaled=False)
    out = input * (keep * a) + ((keep - 1) * (_ALPHA * a) + _ALPHA * a * p)
    return inplace_result(input, out, op) if inplace else out


def alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False,
                  inplace: bool = False) -> Tensor:
    """Dropout that keeps SELU activations' mean and variance (Klambauer et al., 2017).

    >>> alpha_dropout(cadenza.ones(3), 0.5, training=False)
    tensor([1., 1., 1.])
    """
    _check_p(p, "alpha_dropout")
    if not training or p == 0.0:
        return input
    return _alpha(input, p, tuple(input.shape), "alpha_dropout", inplace)


def feature_alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False,
                          inplace: bool = False) -> Tensor:
    """alpha_dropout with one mask value per (sample, channel).

    >>> feature_alpha_dropout(cadenza.ones(1, 2, 3), training=False).shape
    cadenza.Size([1, 2, 3])
    """
    _check_p(p, "feature_alpha_dropout")
    if not training or p == 0.0:
        return input
    mshape = tuple(input.shape[:2]) + (1,) * (input.ndim - 2)
    return _alpha(input, p, mshape, "feature_alpha_dropout", inplace)
