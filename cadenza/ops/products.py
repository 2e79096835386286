"""Products beyond matmul (issue 10), composites over the linear-algebra and elementwise ops:
addbmm, addr, cross, kron, dist, and the Tensor methods (with their in-place forms) of the
``add*`` family."""
from __future__ import annotations

import numpy as np

from .._tensor_base import TensorBase as Tensor, _norm_dim
from .._creation import _wrap_np
from ..errors import ShapeError, fmt_shape
from .linalg import _scaled, addmm, addmv, baddbmm, bmm, vdot
from .index import index_select
from .views import broadcast_tensors
from .inplace import make_inplace

__all__ = ["addbmm", "addr", "cross", "kron", "dist"]


def addbmm(input, batch1, batch2, *, beta=1, alpha=1):
    """beta * input + alpha * sum_b batch1[b] @ batch2[b]."""
    return _scaled(input, bmm(batch1, batch2).sum(0), beta, alpha, blas=True)


def addr(input, vec1, vec2, *, beta=1, alpha=1):
    """beta * input + alpha * outer(vec1, vec2)."""
    if vec1.ndim != 1 or vec2.ndim != 1:
        raise RuntimeError(f"addr: Expected 1-D argument vec1 and vec2, but got "
                           f"{vec1.ndim}-D and {vec2.ndim}-D")
    if not input.is_floating_point() and (isinstance(alpha, float) or isinstance(beta, float)):
        raise RuntimeError("For integral input tensors, argument alpha must not be a floating "
                           "point number.")
    if input.dtype.name == "bool":
        return (input if beta else input & False) | (vec1.unsqueeze(1) & vec2.unsqueeze(0))
    return _scaled(input, vec1.unsqueeze(1) * vec2.unsqueeze(0), beta, alpha)


def cross(input, other, dim=None):
    """The cross product of 3-vectors along dim (the first dim of size 3 when None)."""
    a, b = broadcast_tensors(input, other)
    if dim is None:
        sizes = [i for i, s in enumerate(a.shape) if s == 3]
        if not sizes:
            raise RuntimeError(f"no dimension of size 3 in input {fmt_shape(input.shape)}")
        d = sizes[0]
    else:
        d = _norm_dim(dim, a.ndim, "cross")
    if a.shape[d] != 3:
        raise RuntimeError(f"linalg.cross: inputs dimension {d} must have length 3. Got "
                           f"{input.shape[d] if d < input.ndim else 1} and "
                           f"{other.shape[d] if d < other.ndim else 1}")
    i1, i2 = _wrap_np(np.array([1, 2, 0])), _wrap_np(np.array([2, 0, 1]))
    return index_select(a, d, i1) * index_select(b, d, i2) - \
        index_select(a, d, i2) * index_select(b, d, i1)


def kron(input, other):
    """The Kronecker product: out[i * m + k] = input[i] * other[k] per dim."""
    nd = max(input.ndim, other.ndim)
    a = input.reshape((1,) * (nd - input.ndim) + tuple(input.shape))
    b = other.reshape((1,) * (nd - other.ndim) + tuple(other.shape))
    inter_a, inter_b = [], []
    for sa, sb in zip(a.shape, b.shape):
        inter_a += [sa, 1]
        inter_b += [1, sb]
    out = a.reshape(tuple(inter_a)) * b.reshape(tuple(inter_b))
    return out.reshape(tuple(sa * sb for sa, sb in zip(a.shape, b.shape)))


def dist(input, other, p=2):
    """The p-norm of input - other."""
    if not isinstance(other, Tensor):
        raise TypeError(f"dist(): argument 'other' must be Tensor, not {type(other).__name__}")
    try:
        np.broadcast_shapes(tuple(input.shape), tuple(other.shape))
    except ValueError:
        raise ShapeError(f"dist: expected broadcastable shapes, got {fmt_shape(input.shape)} "
                         f"and {fmt_shape(other.shape)}") from None
    return (input - other).norm(p)


# ----------------------------------------------------------------------------- Tensor methods
class ProductMethods:
    """cadenza.Tensor's methods for this module's functions (``x.f(...)`` is ``f(x, ...)``,
    in-place ``x.f_(...)`` commits it into x); ``cadenza/_tensor.py`` composes them."""
    __slots__ = ()

    addbmm = addbmm
    addr = addr
    cross = cross
    kron = kron
    dist = dist
    vdot = vdot
    addmv = addmv
    addmm_ = make_inplace(addmm, "addmm_", True)
    addmv_ = make_inplace(addmv, "addmv_", True)
    addbmm_ = make_inplace(addbmm, "addbmm_", True)
    addr_ = make_inplace(addr, "addr_", True)
    baddbmm_ = make_inplace(baddbmm, "baddbmm_", True)
