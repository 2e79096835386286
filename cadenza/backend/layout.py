"""Memory layouts of arrays: torch's memory formats on strided arrays.

A channels-last tensor is an N, H, W, C ordered array seen as N, C, H, W (a transposed view),
so every op that reads strides handles it already; these helpers make the layouts: copies in a
named format, ``preserve_format`` (torch's rule for ``clone``/``*_like``: a non-overlapping
and dense array's strides exactly, otherwise dense strides in the same order), the
channels-last check of ``is_contiguous`` and the format torch suggests for a conv's output.
Values never change, only strides. Arrays without NumPy strides (the meta device's) are
row-major here."""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

__all__ = ["format_name", "is_format_contiguous", "suggest_format", "copy_to_format",
           "empty_in_format", "same_layout_as"]

# format -> (the order of the dims in memory, its inverse: memory order back to logical)
ORDERS = {"channels_last": ((0, 2, 3, 1), (0, 3, 1, 2)),
          "channels_last_3d": ((0, 2, 3, 4, 1), (0, 4, 1, 2, 3))}
_RANK = {"channels_last": 4, "channels_last_3d": 5}
_NAMES = ("contiguous_format", "preserve_format", "channels_last", "channels_last_3d")


def format_name(memory_format, default="preserve_format") -> str:
    """The name of a ``cadenza.memory_format`` (None -> ``default``); anything else raises."""
    if memory_format is None:
        return default
    name = getattr(memory_format, "name", None)
    if name not in _NAMES or type(memory_format).__name__ != "memory_format":
        raise TypeError(f"memory_format: expected a cadenza.memory_format (contiguous_format, "
                        f"channels_last, channels_last_3d, preserve_format), got "
                        f"{memory_format!r}")
    return name


def check_rank(name, ndim, op) -> None:
    """torch's error for channels_last (channels_last_3d) on a tensor that is not 4-d (5-d)."""
    rank = _RANK.get(name)
    if rank is not None and ndim != rank:
        raise RuntimeError(f"{op}: required rank {rank} tensor to use {name} format, got a "
                           f"{ndim}-d tensor")


def is_format_contiguous(a, name) -> bool:
    """Whether ``a`` is contiguous in the format ``name`` (size-1 dims have any stride)."""
    if type(a) is not np.ndarray and not hasattr(a, "strides"):
        return name in ("contiguous_format", "preserve_format")
    order = ORDERS.get(name)
    if order is None:
        return bool(a.flags["C_CONTIGUOUS"])
    return a.ndim == len(order[0]) and bool(a.transpose(order[0]).flags["C_CONTIGUOUS"])


def _dense(a) -> bool:
    """Non-overlapping and dense with positive strides: the dims of size > 1, taken by growing
    stride, each step exactly the extent of the ones before (torch's definition)."""
    item = a.itemsize
    dims = sorted((s, n) for s, n in zip(a.strides, a.shape) if n != 1)
    expect = item
    for s, n in dims:
        if s != expect:
            return False
        expect *= n
    return True


def suggest_format(a) -> str:
    """The format torch's layout rules read off ``a``'s strides: channels_last when a 4-d
    (5-d) array is laid out with the channels innermost and not also row-major, else
    contiguous_format."""
    nd = a.ndim
    if nd not in (4, 5) or type(a) is not np.ndarray or a.flags["C_CONTIGUOUS"]:
        return "contiguous_format"
    name = "channels_last" if nd == 4 else "channels_last_3d"
    walk = ORDERS[name][0][::-1]        # C, then W, H (D), then N: innermost first
    floor = 0
    for d in walk:
        s, n = a.strides[d], a.shape[d]
        if s <= 0 and n != 1 or s < floor:
            return "contiguous_format"
        floor = s * n if n > 1 else s
    return name


def _in_format(shape, dtype, name, xp):
    order = ORDERS.get(name)
    if order is None:   # contiguous_format (and preserve_format on arrays without strides)
        return xp.empty(shape, dtype)
    return xp.empty(tuple(shape[d] for d in order[0]), dtype).transpose(order[1])


def empty_in_format(a, name, dtype=None, xp=np):
    """An uninitialised array of ``a``'s shape (``dtype``, default ``a``'s) laid out as
    ``name`` says; ``preserve_format`` follows ``a`` (see the module docstring)."""
    dtype = np.dtype(dtype if dtype is not None else a.dtype)
    shape = a.shape
    if name != "preserve_format" or type(a) is not np.ndarray:
        return _in_format(shape, dtype, name, xp)
    if a.flags["C_CONTIGUOUS"] or a.size == 0:
        return np.empty(shape, dtype)
    if _dense(a):   # the same strides exactly (size-1 dims' included), scaled to the dtype
        buf = np.empty(a.size, dtype)
        strides = tuple(s // a.itemsize * dtype.itemsize for s in a.strides)
        return as_strided(buf, shape, strides)
    if any(s <= 0 for s, n in zip(a.strides, shape) if n != 1):
        return np.empty(shape, dtype)    # broadcast or reversed: row-major, as torch
    # dense strides in the order of a's: the dims sorted outermost (largest stride) first
    perm = sorted(range(a.ndim), key=lambda d: -a.strides[d])
    inv = tuple(perm.index(d) for d in range(a.ndim))
    return np.empty(tuple(shape[d] for d in perm), dtype).transpose(inv)


def copy_to_format(a, name, xp=np):
    """A new array with ``a``'s values laid out as ``name`` says."""
    if name == "contiguous_format":
        return xp.array(a, order="C", copy=True)
    out = empty_in_format(a, name, xp=xp)
    out[...] = a
    return out


def same_layout_as(g, like):
    """``g`` (a new gradient) with the strides of ``like`` (its leaf) where ``like`` is
    non-overlapping and dense, else row-major: torch's layout contract for ``.grad``; ``g``
    itself when it already has them."""
    if type(like) is not np.ndarray or type(g) is not np.ndarray:
        return g
    if like.flags["C_CONTIGUOUS"] or not _dense(like):
        return g if g.flags["C_CONTIGUOUS"] else np.ascontiguousarray(g)
    if g.strides == like.strides:
        return g
    out = empty_in_format(like, "preserve_format", g.dtype)
    out[...] = g
    return out
