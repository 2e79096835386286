"""Sorting and searching: argsort (the primitive), sort, topk, kthvalue, median,
searchsorted and bucketize."""
from __future__ import annotations

import numpy as np

from ._registry import apply
from .._creation import full, zeros
from .._tensor_base import TensorBase as Tensor, _norm_dim
from .. import dtypes as _dt
from ..backend import layout as _layout
from ..errors import fmt_shape
from .index import GetItem, _coords, _scalar_tensor, gather
from .elementwise import isnan, where
from .reduce import _nondiff, argmax, values_indices

__all__ = ["argsort", "sort", "topk", "kthvalue", "median", "searchsorted", "bucketize"]


def _argsort(xp, a, dim=-1, descending=False, stable=False, k=None):
    """Indices sorting ``a`` along ``dim`` (stable); ``k``: only the first k of them (topk)."""
    d = dim % a.ndim
    if k == 1 and xp is np and a.shape[d] and a.dtype.kind in "iuf" and (
            descending or a.dtype.kind != "f" or not np.isnan(a).any()):
        # the first of the sorted order in one pass: argmax/argmin give the first extreme on
        # ties, as the stable sort; argmax takes the first NaN, the largest as in the sort
        # (argmin would take a NaN too, but ascending order puts NaN last: the sort does that)
        fn = np.argmax if descending else np.argmin
        return fn(a, axis=d, keepdims=True).astype(np.int64, copy=False)
    if descending:
        # stable descending order by reversed ranks: an ascending stable sort of the flipped
        # keys, flipped back. (Sorting -a instead would keep NaN last where PyTorch puts it
        # first, as the largest, and would overflow -(-128) in int8.)
        rev = (slice(None),) * d + (slice(None, None, -1),)
        idx = xp.argsort(a[rev], axis=d, kind="stable")[rev]
        idx = a.shape[d] - 1 - idx
    else:
        idx = xp.argsort(a, axis=d, kind="stable")
    if k is not None and k != a.shape[d]:
        idx = idx[(slice(None),) * d + (slice(0, k),)]
    idx = idx.astype(np.int64)
    if xp is np and idx.ndim > 1:   # torch's layouts: sort keeps the input's, topk row-major
        if k is None and not a.flags.c_contiguous:
            idx = _layout.as_preserved(idx, a)   # (sort's values, gathered by it, follow)
        elif k is not None and not idx.flags.c_contiguous:
            idx = np.ascontiguousarray(idx)
    return idx


def _argsort_onnx(ctx, node, out):
    """argsort along dim as TopK with k = the dim's size: both put equal keys in index order
    (cadenza sorts stably; ONNX TopK breaks ties towards the lower index)."""
    x = node.inputs[0]
    d = int(node.attrs.get("dim", -1)) % len(x.shape)
    if ctx.dims is not None:
        ctx.dims.check_static_dim(x, d, "argsort")
    k = node.attrs.get("k")
    _, idx = ctx.node_n("TopK", [ctx.name(x), ctx.i64([x.shape[d] if k is None else k])], 2,
                        axis=d,
                        largest=int(bool(node.attrs.get("descending", False))), sorted=1)
    ctx.node("Identity", [idx], out)


# (contiguous_result: torch's sort keeps its input's layout)
Argsort = _nondiff("argsort", _argsort, _argsort_onnx, contiguous_result=False)


def argsort(input, dim=-1, descending=False, stable=False):
    d = _norm_dim(dim, input._data.ndim, "argsort")   # (a 0-d tensor takes 0 and -1)
    if input._data.ndim == 0:
        return zeros((), dtype=_dt.int64)
    return apply(Argsort, input, dim=d, descending=descending)


def sort(input, dim=-1, descending=False, stable=False):
    """(values, indices) sorted along dim; stable ordering of equal elements."""
    if input._data.ndim == 0:
        _norm_dim(dim, 0, "sort")   # only 0 and -1 name a 0-d tensor's dim
        return values_indices(input, zeros((), dtype=_dt.int64))
    idx = argsort(input, dim, descending)
    return values_indices(_take_sorted(input, dim, idx), idx)


def _take_sorted(input, dim, idx):
    """gather(input, dim, idx) for ``idx`` made by argsort of ``input`` along ``dim`` (narrowed
    or not): every value is a valid position, so the range check (a min/max pass and a copy of
    the index, ~40% of a small sort) is left out."""
    return apply(GetItem, input, index=_coords(idx, _norm_dim(dim, input._data.ndim, "gather")))


def topk(input, k, dim=-1, largest=True, sorted=True):
    """The k largest (or smallest) elements along dim, as (values, indices)."""
    a = input._data
    d = _norm_dim(dim, a.ndim, "topk")
    if a.dtype.kind == "b":
        raise RuntimeError("topk does not support bool dtypes on CPU")
    n = a.shape[d] if a.ndim else 1
    if k < 0 or k > n:
        raise RuntimeError(f"topk: selected index k out of range (k={k}, size of dim {d} is {n})")
    if a.ndim == 0:   # torch hands back the element itself (for k = 0 too)
        return values_indices(input * 1, zeros((), dtype=_dt.int64))
    # the first k of the sorted order as one primitive (argmax/argmin when k = 1)
    idx = apply(Argsort, input, dim=d, descending=bool(largest), k=int(k))
    return values_indices(_take_sorted(input, d, idx), idx)


def kthvalue(input, k, dim=-1, keepdim=False):
    d = _norm_dim(dim, input._data.ndim, "kthvalue")
    n = input.shape[d] if input._data.ndim else 1
    if n == 0:
        raise IndexError(f"kthvalue(): Expected reduction dim {d} to have non-zero size.")
    if input._data.ndim == 0 and k == 1:
        return values_indices(input * 1, zeros((), dtype=_dt.int64))
    if not 1 <= k <= n:  # k = 0 would narrow from -1: the largest, not an error
        raise RuntimeError(f"kthvalue(): selected number k={k} out of range for dimension {d} "
                           f"of size {n}")
    return _select(input, argsort(input, d).narrow(d, k - 1, 1), d, keepdim)


def _select(input, idx, d, keepdim):
    v = gather(input, d, idx)
    if not keepdim:
        v, idx = v.squeeze(d), idx.squeeze(d)
    return values_indices(v, idx)


def empty_median(input):
    """median()/nanmedian() of an empty tensor, as PyTorch gives it: NaN, converted to the
    dtype on integer tensors the way x86 converts it (int32/int64: the minimum, narrower
    integers 0, bool True)."""
    dt = input._data.dtype
    if dt.kind in "fc":
        value = float("nan")
    elif dt.kind == "b":
        value = True
    else:
        value = int(np.iinfo(dt).min) if dt.itemsize >= 4 else 0
    return full((), value, dtype=input.dtype, device=input.device)


def _no_bool_median(input, dim=None):
    if input._data.dtype != np.bool_:
        return
    if dim is not None and input._data.ndim and input._data.size == 0:
        # an empty bool passes only where the reduced dim itself is empty (that error first)
        d = _norm_dim(dim, input._data.ndim, "median")
        if input.shape[d] == 0:
            return
    elif not input._data.size:   # (torch: an empty bool passes without a dim)
        return
    raise NotImplementedError(f"\"median_{'cpu' if dim is None else 'out'}\" not implemented "
                              f"for 'Bool'")


def median(input, dim=None, keepdim=False):
    """Lower median (as torch): the element at rank (n-1)//2; NaN (the first one) where the
    slice holds a NaN, as in PyTorch (nanmedian would skip them)."""
    _no_bool_median(input, dim)
    if dim is None:
        if input._data.size == 0:
            return empty_median(input)
        return median(input.reshape(-1), 0).values
    d = _norm_dim(dim, input._data.ndim, "median")
    if input._data.ndim == 0:
        r = median(input.reshape(1), 0)
        return values_indices(r.values.reshape(()), r.indices.reshape(()))
    n = input.shape[d] if input._data.ndim else 1
    if n == 0:
        raise IndexError(f"median(): Expected reduction dim {d} to have non-zero size.")
    if not input.is_floating_point():
        return kthvalue(input, (n - 1) // 2 + 1, d, keepdim)
    idx = argsort(input, d).narrow(d, (n - 1) // 2, 1)
    # counted with sum, not any: sum has an ONNX lowering
    nan = isnan(input).to(input.dtype)
    idx = where(nan.sum(d, keepdim=True) > 0, argmax(nan, d, keepdim=True), idx)
    return _select(input, idx, d, keepdim)


def searchsorted(sorted_sequence, values, *, out_int32=False, right=False, side=None,
                 sorter=None):
    """Indices (int64, the shape of ``values``) at which ``values`` would be inserted into the
    sorted last dim of ``sorted_sequence`` to keep it sorted.

    torch's binary search step for step (``start = mid + 1`` unless ``seq[mid] >= v``, or
    ``> v`` for "right"), so NaN lands where torch puts it: a NaN value past the end, a NaN
    in the sequence read as smaller than any value it is compared with. Written with recorded
    ops (n.bit_length() rounds of gather/compare/where) so compiled graphs recompute it.

    ``sorter``: indices that sort an unsorted ``sorted_sequence`` along its last dim (as
    argsort gives them); ``out_int32``: int32 indices instead of int64.

    >>> cadenza.searchsorted(cadenza.tensor([1., 3.]), cadenza.tensor([2., 3.]))
    tensor([1, 1])
    """
    if side is not None and side not in ("left", "right"):
        raise RuntimeError(f"searchsorted: side can only be 'left' or 'right' but got {side!r}")
    if side == "left" and right:
        raise RuntimeError("searchsorted: side and right can't be set to opposites, got side "
                           "of left while right was True")
    side = side or ("right" if right else "left")
    s = sorted_sequence
    if sorter is not None:
        if tuple(sorter.shape) != tuple(s.shape):
            raise RuntimeError(f"searchsorted: boundaries and sorter must have the same size, "
                               f"got {fmt_shape(s.shape)} and {fmt_shape(sorter.shape)}")
        if sorter.dtype != _dt.int64:
            raise RuntimeError(f"searchsorted: sorter must be a tensor of long dtype, got "
                               f"{sorter.dtype}")
        s = gather(s, -1, sorter)
    found = _search(s, values, side)
    return found.to(_dt.int32) if out_int32 else found


def _search(s, values, side):
    v = values if isinstance(values, Tensor) else _scalar_tensor(values, s)
    dt = _dt.result_type(s, v)
    s, v = s.to(dt), v.to(dt)
    out_shape = tuple(v.shape)
    if s.ndim <= 1:
        n, m = s.numel(), v.numel()
        s, v = s.reshape(1, n).expand(m, n), v.reshape(m, 1)
    elif s.ndim != v.ndim or tuple(s.shape[:-1]) != tuple(v.shape[:-1]):
        raise RuntimeError(f"searchsorted: expected boundaries and input to have the same "
                           f"leading dims, got {fmt_shape(s.shape)} and {fmt_shape(v.shape)}")
    n = s.shape[-1]
    start = zeros(tuple(v.shape), dtype=_dt.int64)
    if n == 0:
        return start.reshape(out_shape)
    end = full(tuple(v.shape), n, dtype=_dt.int64)
    for _ in range(n.bit_length()):
        # (start + end) // 2 through float64 (exact below 2**53): integer floor division
        # has no ONNX lowering
        mid = ((start + end).to(_dt.float64) * 0.5).floor().to(_dt.int64)
        at = gather(s, -1, mid.clamp(max=n - 1))
        go_right = ~(at >= v) if side == "left" else ~(at > v)
        active = start < end
        start = where(active & go_right, mid + 1, start)
        end = where(active & ~go_right, mid, end)
    return start.reshape(out_shape)


def bucketize(input, boundaries, *, out_int32=False, right=False):
    """Index of the bucket (of the sorted 1-d ``boundaries``) each element of ``input``
    falls in (a number: a 0-d result, as torch); ``right``: buckets closed on the left."""
    if boundaries.ndim != 1:
        raise RuntimeError(f"bucketize: boundaries tensor must be 1 dimension, but got dim("
                           f"{boundaries.ndim})")
    return searchsorted(boundaries, input, out_int32=out_int32,
                        side="left" if not right else "right")


# ----------------------------------------------------------------------------- Tensor methods
class SortingMethods:
    """cadenza.Tensor's methods for this module's functions (``x.f(...)`` is ``f(x, ...)``,
    in-place ``x.f_(...)`` commits it into x); ``cadenza/_tensor.py`` composes them."""
    __slots__ = ()

    argsort = argsort
    sort = sort
    topk = topk
    kthvalue = kthvalue
    median = median
