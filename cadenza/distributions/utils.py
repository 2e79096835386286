"""``torch.distributions.utils``: parameter broadcasting, probs <-> logits conversions,
``lazy_property`` and the packing of a lower-triangular matrix into a vector and back (both
differentiable: gathers, not in-place writes)."""
from __future__ import annotations

import functools
from numbers import Number

from .. import _creation as C
from .._tensor import Tensor
from ..autograd.grad_mode import enable_grad
from ..functional import softmax
from ..ops.join import cat
from ..ops.shape import broadcast_tensors

__all__ = ["broadcast_all", "logits_to_probs", "clamp_probs", "probs_to_logits",
           "lazy_property", "tril_matrix_to_vec", "vec_to_tril_matrix", "is_tensor_like",
           "euler_constant"]

euler_constant = 0.57721566490153286060  # Euler-Mascheroni constant


def _t(x, like=None):
    if isinstance(x, Tensor):
        return x
    return C.tensor(float(x), dtype=like.dtype if like is not None else None)


def finfo_eps(dtype):
    """Machine epsilon of a float dtype (torch.finfo(dtype).eps), for clamping probabilities."""
    return 2.220446049250313e-16 if dtype.itemsize == 8 else 1.1920928955078125e-07


def finfo_tiny(dtype):
    """Smallest normal number of a float dtype (torch.finfo(dtype).tiny)."""
    return 2.2250738585072014e-308 if dtype.itemsize == 8 else 1.1754943508222875e-38


def params(*args):
    """Parameters as broadcast Tensors (Python numbers take the dtype of a Tensor argument)."""
    like = next((a for a in args if isinstance(a, Tensor)), None)
    return broadcast_tensors(*[_t(a, like) for a in args])


def is_tensor_like(value):
    return isinstance(value, Tensor)


def broadcast_all(*values):
    """Tensors and numbers broadcast to one shape; numbers take the dtype of the first Tensor
    (the default dtype when there is none)."""
    if not all(isinstance(v, (Tensor, Number)) for v in values):
        raise ValueError("Input arguments must all be instances of Number or cadenza.Tensor.")
    return params(*values)


def sum_rightmost(value, dim):
    """``value`` summed over its ``dim`` rightmost dims."""
    if dim == 0:
        return value
    return value.reshape(tuple(value.shape[:value.ndim - dim]) + (-1,)).sum(-1)


def logits_to_probs(logits, is_binary=False):
    return logits.sigmoid() if is_binary else softmax(logits, dim=-1)


def clamp_probs(probs):
    eps = finfo_eps(probs.dtype)
    return probs.clamp(min=eps, max=1 - eps)


def probs_to_logits(probs, is_binary=False):
    p = clamp_probs(probs)
    return p.log() - (-p).log1p() if is_binary else p.log()


class lazy_property:
    """A property computed once per instance (with grad enabled) and then stored on it."""

    def __init__(self, wrapped):
        self.wrapped = wrapped
        functools.update_wrapper(self, wrapped)

    def __get__(self, instance, obj_type=None):
        if instance is None:
            return _lazy_property_and_property(self.wrapped)
        with enable_grad():
            value = self.wrapped(instance)
        setattr(instance, self.wrapped.__name__, value)
        return value


class _lazy_property_and_property(lazy_property, property):
    def __init__(self, wrapped):
        property.__init__(self, wrapped)


def _tril_flat_index(n, diag):
    """Flat (row-major) positions of the entries with ``col < row + diag + 1``."""
    return [i * n + j for i in range(n) for j in range(n) if j < i + diag + 1]


def tril_matrix_to_vec(mat, diag=0):
    """The entries of the lower triangle (offset ``diag``) of the last two dims, row order."""
    n = mat.shape[-1]
    if diag < -n or diag >= n:
        raise ValueError(f"diag ({diag}) provided is outside [{-n}, {n - 1}].")
    idx = C.tensor(_tril_flat_index(n, diag), dtype="int64")
    return mat.flatten(-2).index_select(-1, idx)


def vec_to_tril_matrix(vec, diag=0):
    """The inverse of ``tril_matrix_to_vec``: a (..., n, n) matrix, zero above the diagonal
    ``diag``."""
    m = vec.shape[-1]
    b = 1 + 2 * diag
    n = (-b + (b * b + 8 * m + 4 * abs(diag) * (diag + 1)) ** 0.5) / 2
    if abs(round(n) - n) > finfo_eps(vec.dtype):
        raise ValueError(f"The size of last dimension is {m} which cannot be expressed as "
                         "the lower triangular part of a square D x D matrix.")
    n = round(n)
    pos = {p: k for k, p in enumerate(_tril_flat_index(n, diag))}
    idx = C.tensor([pos.get(p, m) for p in range(n * n)], dtype="int64")
    padded = cat([vec, vec.new_zeros(tuple(vec.shape[:-1]) + (1,))], -1)
    return padded.index_select(-1, idx).reshape(tuple(vec.shape[:-1]) + (n, n))

