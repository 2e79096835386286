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
           "empty_in_format", "same_layout_as", "elementwise_strides", "as_elementwise_result",
           "as_preserved", "has_format_strides"]

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
    if a.size == 0 or a.flags["C_CONTIGUOUS"] and (1 not in shape or standard_c(a)):
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


def _standard(shape, perm) -> list:
    """Element strides of a dense array of ``shape`` whose dims, innermost first, are
    ``perm`` (a size-1 dim gets the extent of the dims inside it, as torch's allocation)."""
    strides, acc = [0] * len(shape), 1
    for d in perm:
        strides[d] = acc
        acc *= shape[d]
    return strides


def _contiguous_in(shape, strides, walk) -> bool:
    """torch's ``is_contiguous``: dense in the order ``walk`` (innermost first), size-1 dims
    (and empty arrays) with any strides."""
    if 0 in shape:
        return True
    acc = 1
    for d in walk:
        if shape[d] != 1:
            if strides[d] != acc:
                return False
            acc *= shape[d]
    return True


def _dense_strides_ok(shape, strides) -> bool:
    """Non-overlapping and dense (element strides): torch's ``is_non_overlapping_and_dense``."""
    if 0 in shape:
        return True
    acc = 1
    for s, n in sorted((s, n) for s, n in zip(strides, shape) if n != 1):
        if s != acc:
            return False
        acc *= n
    return True


def elementwise_strides(shape, operands) -> "list | None":
    """The element strides torch gives the result of an elementwise op of ``shape`` over
    ``operands`` (each a (shape, element strides) pair in the op's argument order; a Python
    number counts as a 0-d operand where torch wraps it in a tensor); None for row-major.

    torch's rule (learnt by running it over many layouts, tests/ops/test_elementwise_layout.py):
    operands of the result's shape that are all contiguous give a contiguous result, all
    channels-last (3-d) a channels-last one, all non-overlapping and dense with one set of
    strides those strides. Otherwise the dims are ordered, innermost first, by the operands'
    strides: for two dims the first operand whose strides for both are non-zero (a
    broadcast dim has stride 0) decides, the smaller stride inside; equal strides put the
    larger dim outside, else the next operand decides; an undecided pair keeps its row-major
    order. The result is dense in that order."""
    nd = len(shape)
    if nd < 2:
        return None
    shape = tuple(shape)
    if all(tuple(s) == shape for s, _ in operands):
        rev = range(nd - 1, -1, -1)
        if all(_contiguous_in(shape, st, rev) for _, st in operands):
            return None
        order = ORDERS.get({4: "channels_last", 5: "channels_last_3d"}.get(nd))
        if order is not None:
            walk = order[0][::-1]
            if all(_contiguous_in(shape, st, walk) for _, st in operands):
                return _standard(shape, walk)
        first = tuple(operands[0][1])
        if all(tuple(st) == first for _, st in operands) and _dense_strides_ok(shape, first):
            return list(first)
    table = []
    for s, st in operands:
        pad = nd - len(s)
        table.append([0] * pad + [0 if n == 1 and shape[pad + i] != 1 else st[i]
                                  for i, n in enumerate(s)])

    def swap(d0, d1) -> int:
        for st in table:
            a, b = st[d0], st[d1]
            if a == 0 or b == 0:
                continue
            if a != b:
                return 1 if a > b else -1
            if shape[d0] > shape[d1]:
                return 1
        return 0

    perm = list(range(nd - 1, -1, -1))
    for i in range(1, nd):
        j = i
        for k in range(i - 1, -1, -1):
            c = swap(perm[k], perm[j])
            if c > 0:
                perm[k], perm[j] = perm[j], perm[k]
                j = k
            elif c < 0:
                break
    if perm == list(range(nd - 1, -1, -1)):
        return None
    return _standard(shape, perm)


def as_elementwise_result(out, operands):
    """``out``, an elementwise result, laid out as torch lays it out (``elementwise_strides``)
    given its ``operands`` (arrays, None for a number torch wraps as a 0-d operand): ``out``
    itself when its strides are those already, else a copy (same values). Operands with
    strides torch has no counterpart of (negative, not a multiple of the item size) leave
    ``out`` as it is."""
    if out.size == 0:
        return out
    ops = []
    for a in operands:
        if a is None:
            ops.append(((), ()))
            continue
        if type(a) is not np.ndarray and not isinstance(a, np.ndarray):
            return out
        item = a.itemsize
        st = a.strides
        for s in st:
            if s < 0 or s % item:
                return out
        ops.append((a.shape, tuple(s // item for s in st)))
    want = elementwise_strides(out.shape, ops)
    item = out.itemsize
    if want is None:
        if out.flags.c_contiguous and standard_c(out):
            return out
        return np.ascontiguousarray(out)
    byte = tuple(s * item for s in want)
    if out.strides == byte:
        return out
    res = as_strided(np.empty(out.size, out.dtype), out.shape, byte)
    res[...] = out
    return res


def standard_c(a) -> bool:
    """Row-major strides including the size-1 dims' (NumPy's C-contiguous flag ignores them,
    torch's reported strides do not)."""
    acc = a.itemsize
    for s, n in zip(reversed(a.strides), reversed(a.shape)):
        if s != acc:
            return False
        acc *= n
    return True


def as_preserved(out, like):
    """``out`` (a new array of ``like``'s shape and values) with the strides torch's
    ``preserve_format`` gives a copy of ``like`` (``empty_in_format``): ``out`` itself when it
    has them, else a copy."""
    if type(like) is not np.ndarray or out.size == 0:
        return out
    want = empty_in_format(like, "preserve_format", out.dtype)
    if want.strides == out.strides:
        return out
    want[...] = out
    return want


def has_format_strides(a, name) -> bool:
    """Whether ``a`` has exactly the strides an array of its shape made in the format ``name``
    (contiguous_format, channels_last, channels_last_3d) gets, size-1 dims' included."""
    if type(a) is not np.ndarray:
        return True
    nd = a.ndim
    order = ORDERS.get(name)
    if order is not None and nd != len(order[0]):
        return False
    walk = order[0][::-1] if order is not None else range(nd - 1, -1, -1)
    item = a.itemsize
    return a.size == 0 or tuple(s * item for s in _standard(a.shape, walk)) == a.strides
