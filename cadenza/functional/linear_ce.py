"""``linear_cross_entropy``: cross-entropy of a linear projection's logits, computed as the
reference composite (linear, then cross_entropy); ``LinearCrossEntropyOptions`` holds the
configuration of PyTorch's chunked variant, which computes the same values."""
from __future__ import annotations

from dataclasses import dataclass

from .. import ops
from .._tensor_base import TensorBase as Tensor
from ..errors import ShapeError, fmt_shape
from .loss import cross_entropy

__all__ = ["linear_cross_entropy"]

# torch's ignore_index=None ignores no target: an index no target can hold
_NO_IGNORE = -(2 ** 62)


@dataclass
class LinearCrossEntropyOptions:
    """Configuration of the chunked linear_cross_entropy (batch chunk size, accumulation
    policy): it bounds the logits PyTorch materializes at once; Cadenza computes the same
    loss with the reference composite for every configuration."""
    allow_retain_graph: bool = False
    batch_chunk_size: int | None = None
    chunking_method: str | None = "auto"
    acc_policy: str = "auto"
    acc_dtype: object = None


def linear_cross_entropy(input: Tensor, linear_weight: Tensor, target: Tensor, *,
                         linear_bias: Tensor | None = None, weight: Tensor | None = None,
                         reduction: str = "mean", ignore_index: int | None = None,
                         label_smoothing: float = 0.0, options=None) -> Tensor:
    """cross_entropy(linear(input, linear_weight, linear_bias), target, ...); linear_weight
    (C, in) or (C, d1, ..., dK, in) for K-dimensional targets (N, d1, ..., dK).

    >>> linear_cross_entropy(cadenza.ones(2, 3), cadenza.zeros(4, 3), cadenza.tensor([0, 3]))
    tensor(1.3863)
    """
    if linear_weight.ndim < 2 or input.shape[-1] != linear_weight.shape[-1]:
        raise ShapeError(f"linear_cross_entropy: expected input (..., in) and linear_weight "
                         f"(C, ..., in), got {fmt_shape(input.shape)} and "
                         f"{fmt_shape(linear_weight.shape)}")
    out_shape = tuple(linear_weight.shape[:-1])                     # (C, d1, ..., dK)
    w2 = linear_weight.reshape(-1, linear_weight.shape[-1])
    logits = ops.matmul(input, w2.transpose(0, 1))
    logits = logits.reshape(*input.shape[:-1], *out_shape)
    if linear_bias is not None:
        logits = logits + linear_bias
    return cross_entropy(logits, target, weight=weight, reduction=reduction,
                         ignore_index=_NO_IGNORE if ignore_index is None else ignore_index,
                         label_smoothing=label_smoothing)
