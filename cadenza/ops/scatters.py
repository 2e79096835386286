"""Scatters with a reduction and the functional scatters (issue 10): scatter_reduce (a primitive:
sum, prod, mean, amax, amin with PyTorch's gradients), index_reduce and put over it and over
index_put, the ``*_scatter`` forms (select, slice, diagonal, as_strided), as_strided itself,
diag_embed and fill_diagonal_."""
from __future__ import annotations

import builtins

import numpy as np

from ._registry import Op, register, apply
from .._tensor_base import TensorBase as Tensor, _norm_dim
from .. import dtypes as _dt
from .._creation import _wrap_np, full, zeros
from .._dispatch import state as _state
from ..errors import fmt_shape
from .elementwise import where
from .index import (IndexPut, GetItem, _check_gather, checked_index, _coords, _data_dependent,
                    _fill_tensor, _scatter,
                    _index_put, masked_fill)
from .unary import nonzero
from .join import cat
from .inplace import make_inplace
from ._registry import on_host

__all__ = ["scatter", "scatter_reduce", "index_reduce", "put", "select_scatter", "slice_scatter",
           "diagonal_scatter", "as_strided", "as_strided_scatter", "diag_embed", "diagflat",
           "nonzero_static"]

_REDUCES = ("sum", "prod", "mean", "amax", "amin")


def _identity(reduce, dtype):
    if reduce in ("sum", "mean"):
        return 0
    if reduce == "prod":
        return 1
    if dtype.kind == "b":   # (-inf would read as True)
        return reduce == "amin"
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return info.min if reduce == "amax" else info.max
    return -np.inf if reduce == "amax" else np.inf


@register
class ScatterReduce(Op):
    """out = x with src reduced into it at ``index`` (coordinates, as IndexPut's)."""
    name, kind, onnx, saves = "scatter_reduce", "index", None, "both"

    @staticmethod
    @on_host
    def forward(xp, x, src, index=(), reduce="sum", include_self=True):
        out = x.copy()
        if not include_self:
            out[index] = _identity(reduce, x.dtype)
        ufunc = {"sum": np.add, "mean": np.add, "prod": np.multiply, "amax": np.maximum,
                 "amin": np.minimum}[reduce]
        ufunc.at(out, index, src)
        if reduce == "mean":
            count = np.full(x.shape, 1 if include_self else 0, np.int64)
            np.add.at(count, index, 1)
            count = np.maximum(count, 1)
            out = (out // count if x.dtype.kind in "iu" else out / count).astype(x.dtype)
        return out

    @staticmethod
    def backward(c, g):
        x, src = c.saved
        index, reduce = c.attrs["index"], c.attrs["reduce"]
        include_self = c.attrs["include_self"]
        out = c.out

        def gather(t):
            return apply(GetItem, t, index=index)

        def scatter_add(base, t):
            return apply(IndexPut, base, t, index=index, accumulate=True)

        if reduce == "sum":
            gx, gs = g, gather(g)
        elif reduce == "mean":
            n = full(tuple(x.shape), 1.0 if include_self else 0.0, dtype=g.dtype)
            n = scatter_add(n, full(tuple(src.shape), 1.0, dtype=g.dtype))
            n = where(n == 0, 1.0, n)
            gx, gs = g / n, gather(g) / gather(n)
        elif reduce in ("amax", "amin"):
            value = gather(out)
            x_is = (x == out).to(g.dtype)
            s_is = (src == value).to(g.dtype)
            dist = g / scatter_add(x_is, s_is)
            gx, gs = x_is * dist, s_is * gather(dist)
        else:  # prod: the product of the others, exact where an element is zero
            attrs = dict(index=index, reduce="prod", include_self=include_self)
            masked_x = where(x == 0, 1.0, x)
            gx = g * apply(ScatterReduce, masked_x, src, **attrs) / masked_x
            s_zero = src == 0
            zeros_at = gather(scatter_add(full(tuple(x.shape), 0.0, dtype=g.dtype),
                                          s_zero.to(g.dtype)))
            single = s_zero & (zeros_at == 1)
            masked_src_out = apply(ScatterReduce, x, where(single, 1.0, src), **attrs)
            gs = where(single, gather(g * masked_src_out),
                       gather(g * out) / where(s_zero, 1.0, src))
        if not include_self:
            gx = apply(IndexPut, gx, 0.0, index=index, accumulate=False)
        return gx, gs


def scatter(input, dim, index, src=None, value=None, *, reduce=None):
    """out = input with out[i][index[i][j]] = src[i][j] (dim=1); ``reduce='add'`` or
    ``'multiply'`` accumulates instead (repeated indices all count; a number ``src`` is first
    converted to input's dtype, as torch)."""
    if src is None:
        src = value
    if reduce is None or reduce == "add":
        return _scatter(input, dim, index, src, reduce == "add", "scatter")
    if reduce != "multiply":
        raise RuntimeError(f"scatter(): reduce argument must be either add or multiply, got "
                           f"{reduce!r}")
    if not isinstance(src, Tensor):
        _check_gather("scatter", input, dim, index)
        src = _fill_tensor(src, input).expand(tuple(index.shape))
    return scatter_reduce(input, dim, index, src, "prod")


def scatter_reduce(input, dim, index, src, reduce, *, include_self=True):
    """out = input; out[..., index[i][j], ...] (reduce)= src[i][j] along dim."""
    if reduce not in _REDUCES:
        raise RuntimeError(f"reduce argument must be either sum, prod, mean, amax or amin, got "
                           f"{reduce}")
    _check_gather("scatter_reduce", input, dim, index)
    if not isinstance(src, Tensor):
        raise TypeError("scatter_reduce(): argument 'src' must be Tensor")
    if src.dtype is not input.dtype:
        raise RuntimeError(f"scatter_reduce(): Expected self.dtype to be equal to src.dtype, "
                           f"got {input.dtype.name} and {src.dtype.name}")
    d = _norm_dim(dim, input._data.ndim, "scatter_reduce")
    index = checked_index(index, "scatter_reduce", input.shape[d] if input._data.ndim else 1, d)
    if index._data.ndim == 0 or input._data.ndim == 0:
        out = scatter_reduce(input.reshape(-1), 0, index.reshape(-1), src.reshape(-1), reduce,
                             include_self=include_self)
        return out.reshape(tuple(input.shape))
    if tuple(src.shape) != tuple(index.shape):
        for i, (si, ss) in enumerate(zip(index.shape, src.shape)):
            if si > ss:
                raise RuntimeError(f"scatter_reduce: expected index {fmt_shape(index.shape)} to "
                                   f"be no larger than src {fmt_shape(src.shape)} in dim {i}")
        src = src[tuple(slice(0, s) for s in index.shape)]
    return apply(ScatterReduce, input, src, index=_coords(index, d), reduce=reduce,
                 include_self=include_self)


def index_reduce(input, dim, index, source, reduce, *, include_self=True):
    """out = input; out[..., index[i], ...] (reduce)= source[..., i, ...] along dim
    (reduce: prod, mean, amax, amin)."""
    if reduce not in ("prod", "mean", "amax", "amin"):
        raise RuntimeError(f"index_reduce(): Expected reduce to be one of prod, mean, amax or "
                           f"amin but got {reduce}.")
    d = _norm_dim(dim, input._data.ndim, "index_reduce")
    if index.ndim > 1:
        raise IndexError("index_reduce_(): Index is supposed to be a vector")
    if source.ndim != input.ndim or index.numel() != (source.shape[d] if source.ndim else 1):
        raise RuntimeError(f"index_reduce_(): source {fmt_shape(source.shape)} must match self "
                           f"{fmt_shape(input.shape)} except in dim {d}, where it has one "
                           f"slice per index ({index.numel()})")
    shape = [1] * source.ndim
    shape[d] = -1
    full_index = index.reshape(shape).expand(tuple(source.shape))
    return scatter_reduce(input, d, full_index, source, reduce, include_self=include_self)


def put(input, index, source, accumulate=False):
    """out = input with the flat positions ``index`` set to (or, with accumulate, incremented
    by) source."""
    n = input.numel()
    index = checked_index(index, "put", n, 0, low=-n)
    flat = input.reshape(-1)
    src = source.reshape(-1)
    if src.dtype is not input.dtype:
        src = src.to(input.dtype)
    return _index_put(flat, (index.reshape(-1),), src, accumulate).reshape(tuple(input.shape))


def _put_at(input, index, src, name):
    """index_put with a src matching the indexed region exactly (the scatter functions)."""
    if not isinstance(src, Tensor):
        raise TypeError(f"{name}(): argument 'src' must be Tensor")
    region = input[index]
    if tuple(region.shape) != tuple(src.shape):
        raise RuntimeError(f"{name}(): expected src to have a size equal to the slice of self. "
                           f"src size = {list(src.shape)}, slice size = {list(region.shape)}")
    return _index_put(input, index, src.to(input.dtype))


def select_scatter(input, src, dim, index):
    d = _norm_dim(dim, input._data.ndim, "select_scatter")
    n = input.shape[d]
    if not -n <= index < n:
        raise IndexError(f"select_scatter(): index {index} out of range for tensor of size "
                         f"{list(input.shape)} at dimension {d}")
    return _put_at(input, (slice(None),) * d + (int(index),), src, "select_scatter")


def slice_scatter(input, src, dim=0, start=None, end=None, step=1):
    d = _norm_dim(dim, input._data.ndim, "slice_scatter")
    return _put_at(input, (slice(None),) * d + (slice(start, end, step),), src, "slice_scatter")


def _diag_index(shape, offset, d1, d2):
    """The index of the diagonal (offset, d1, d2) after moving d1, d2 last."""
    r, c = shape[d1], shape[d2]
    rows = np.arange(builtins.max(0, -offset), builtins.max(0, builtins.min(r, c - offset)))
    return (Ellipsis, _wrap_np(rows), _wrap_np(rows + offset))


def diagonal_scatter(input, src, offset=0, dim1=0, dim2=1):
    nd = input._data.ndim
    d1, d2 = _norm_dim(dim1, nd, "diagonal_scatter"), _norm_dim(dim2, nd, "diagonal_scatter")
    x = input.movedim((d1, d2), (nd - 2, nd - 1))
    out = _put_at(x, _diag_index(input.shape, offset, d1, d2), src, "diagonal_scatter")
    return out.movedim((nd - 2, nd - 1), (d1, d2))


def diag_embed(input, offset=0, dim1=-2, dim2=-1):
    """Tensors whose (dim1, dim2) diagonals (offset) are input's last dim, zero elsewhere."""
    nd = input._data.ndim + 1
    d1, d2 = _norm_dim(dim1, nd, "diag_embed"), _norm_dim(dim2, nd, "diag_embed")
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    n = input.shape[-1] if input._data.ndim else 1
    m = n + builtins.abs(offset)
    z = zeros(tuple(input.shape[:-1]) + (m, m), dtype=input.dtype)
    out = _index_put(z, _diag_index((m, m), offset, 0, 1), input)
    return out.movedim((nd - 2, nd - 1), (d1, d2))


def diagflat(input, offset=0):
    return diag_embed(input.reshape(-1), offset)


def _element_offset(t):
    """t's first element's offset, in elements, within the buffer that owns its memory."""
    a = t._data
    root = a
    while getattr(root, "base", None) is not None and isinstance(root.base, type(a)):
        root = root.base
    if type(a) is not np.ndarray:
        return 0
    return (a.__array_interface__["data"][0] - root.__array_interface__["data"][0]) // \
        a.itemsize


def _strided_positions(size, stride, offset):
    pos = np.full(tuple(size), offset, np.int64)
    for i, (n, s) in enumerate(zip(size, stride)):
        shape = [1] * len(size)
        shape[i] = n
        pos = pos + (np.arange(n, dtype=np.int64) * s).reshape(shape)
    return pos


def _storage(input):
    """input's elements laid out as in memory, from its first element (its strides; a
    contiguous copy where they are negative)."""
    st = input.stride()
    if input.is_contiguous() or any(s < 0 for s in st):
        return input.contiguous().reshape(-1)
    pos = _strided_positions(tuple(input.shape), st, 0).reshape(-1)
    n = int(pos.max()) + 1 if pos.size else 0
    return _index_put(zeros(n, dtype=input.dtype), (_wrap_np(pos),), input.reshape(-1))


def _check_strided(size, stride, name):
    size, stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)
    if len(size) != len(stride):
        raise RuntimeError(f"{name}: mismatch in length of strides and shape")
    if any(s < 0 for s in stride):
        raise RuntimeError(f"{name}: Negative strides are not supported at the moment, got "
                           f"strides: {list(stride)}")
    return size, stride


def _owner(a):
    """The array owning ``a``'s memory (its last array base)."""
    root = a
    while isinstance(getattr(root, "base", None), np.ndarray):
        root = root.base
    return root


@register
class AsStrided(Op):
    """A view of the memory under the input: ``size`` elements ``stride`` apart from
    ``storage_offset`` (all in elements of the buffer owning the input's memory), so writes
    into it reach the input. ``in_stride``/``in_offset`` are the input's own geometry in that
    buffer, for the gradient (torch's as_strided_backward: the output's gradient is added into
    the buffer's positions, the input reads its own, divided by how often an overlapping input
    reads each)."""
    name, kind, onnx, saves, view = "as_strided", "shape", None, "none", True

    @staticmethod
    def forward(xp, a, size=(), stride=(), storage_offset=0, in_stride=(), in_offset=0):
        isz = a.itemsize   # (the owner is row-major: as_strided checked; bounds too)
        return np.ndarray(tuple(size), a.dtype, buffer=_owner(a), offset=storage_offset * isz,
                          strides=tuple(st * isz for st in stride))

    @staticmethod
    def backward(c, g):
        at = c.attrs
        shape = tuple(c.shape(0))
        pos_out = _strided_positions(at["size"], at["stride"], at["storage_offset"]).reshape(-1)
        pos_in = _strided_positions(shape, at["in_stride"], at["in_offset"])
        n = int(builtins.max(pos_out.max(initial=-1), pos_in.max(initial=-1))) + 1
        mem = g.new_zeros(n).index_put((_wrap_np(pos_out),), g.reshape(-1), accumulate=True)
        gi = mem[_wrap_np(pos_in)]
        counts = np.bincount(pos_in.reshape(-1), minlength=n)
        if counts.size and counts.max() > 1:
            gi = gi / _wrap_np(counts[pos_in].astype(g._data.dtype))
        return (gi,)


def _strided_view_ok(input):
    a = input._data
    # (while compile traces: a gather, since a compiled graph's buffers live in its arena)
    if type(a) is not np.ndarray or _state.tracer is not None:
        return False
    root = _owner(a)
    return root.flags.c_contiguous and root.dtype == a.dtype


def as_strided(input, size, stride, storage_offset=None):
    """A view of ``size`` elements of input's memory, ``stride`` apart from
    ``storage_offset`` (default: input's own), as torch: writes into it reach input; gradients
    as torch's as_strided_backward. (A device array, or one whose memory owner is not
    row-major, or one in a compiled graph, gives a copy: a gather of those elements.)"""
    size, stride = _check_strided(size, stride, "as_strided")
    if _strided_view_ok(input):
        n = _owner(input._data).size
        off = _element_offset(input) if storage_offset is None else int(storage_offset)
        pos = _strided_positions(size, stride, off)
        if off < 0 or (pos.size and int(pos.max()) >= n):
            raise RuntimeError(f"setStorage: sizes {list(size)}, strides {list(stride)}, "
                               f"storage offset {off} out of bounds for storage of {n} "
                               "elements")
        return apply(AsStrided, input, size=size, stride=stride, storage_offset=off,
                     in_stride=tuple(input.stride()), in_offset=_element_offset(input))
    mem = _storage(input)
    base = _element_offset(input)
    off = 0 if storage_offset is None else int(storage_offset) - base
    pos = _strided_positions(size, stride, off)
    if pos.size and (int(pos.min()) < 0 or int(pos.max()) >= mem.shape[0]):
        raise RuntimeError(f"setStorage: sizes {list(size)}, strides {list(stride)}, storage "
                           f"offset {off + base} out of bounds for storage of "
                           f"{mem.shape[0] + base} elements")
    return mem[_wrap_np(pos)]


def as_strided_scatter(input, src, size, stride, storage_offset=None):
    """A copy of (contiguous) input with the elements ``as_strided(size, stride, offset)``
    reads set to src."""
    size, stride = _check_strided(size, stride, "as_strided_scatter")
    off = 0 if storage_offset is None else int(storage_offset)
    pos = _strided_positions(size, stride, off)
    if tuple(src.shape) != size:
        raise RuntimeError(f"expected src to have a size equal to the slice of self. src size = "
                           f"{list(src.shape)}, slice size = {list(size)}")
    if pos.size and int(pos.max()) >= input.numel():
        raise RuntimeError(f"as_strided_scatter: sizes {list(size)}, strides {list(stride)} "
                           f"out of bounds for a tensor of {input.numel()} elements")
    flat = _index_put(input.reshape(-1), (_wrap_np(pos.reshape(-1)),),
                     src.reshape(-1).to(input.dtype))
    return flat.reshape(tuple(input.shape))


def nonzero_static(input, *, size, fill_value=-1):
    """nonzero with exactly ``size`` rows: truncated, or padded with fill_value."""
    _data_dependent(input, "nonzero_static")
    nz = nonzero(input)
    k = nz.shape[0]
    if k >= size:
        return nz[:size]
    pad = full((size - k, nz.shape[1]), fill_value, dtype=_dt.int64)
    return cat([nz, pad], 0)


def _fill_diagonal(input, fill_value, wrap=False):
    if input.ndim < 2:
        raise RuntimeError("dimensions must larger than 1")
    if input.ndim > 2 and len(set(input.shape)) != 1:
        raise RuntimeError("all dimensions of input must be of equal length")
    mask = np.zeros(tuple(input.shape), bool)
    np.fill_diagonal(mask, True, wrap=wrap)
    return masked_fill(input, _wrap_np(mask), fill_value)


# ----------------------------------------------------------------------------- Tensor methods
class ScatterMethods:
    """cadenza.Tensor's methods for this module's functions (``x.f(...)`` is ``f(x, ...)``,
    in-place ``x.f_(...)`` commits it into x); ``cadenza/_tensor.py`` composes them."""
    __slots__ = ()

    scatter = scatter
    scatter_reduce = scatter_reduce
    index_reduce = index_reduce
    put = put
    select_scatter = select_scatter
    slice_scatter = slice_scatter
    diagonal_scatter = diagonal_scatter
    as_strided = as_strided
    as_strided_scatter = as_strided_scatter
    diag_embed = diag_embed
    diagflat = diagflat
    nonzero_static = nonzero_static
    scatter_ = make_inplace(scatter, "scatter_")
    scatter_reduce_ = make_inplace(scatter_reduce, "scatter_reduce_", True)
    index_reduce_ = make_inplace(index_reduce, "index_reduce_", True)
    put_ = make_inplace(put, "put_", True)
    fill_diagonal_ = make_inplace(_fill_diagonal, "fill_diagonal_", True)
