"""Lowering of getitem: slices and ints (Slice/Squeeze/Unsqueeze) and integer index arrays
(Gather, GatherElements, GatherND), traced (``Ref``) or constant."""
from __future__ import annotations

import numpy as np

from ..graph.ir import Ref
from ._base import BIG, Unsupported, same

def _is_array(i):
    return isinstance(i, (np.ndarray, Ref))


def _expand_index(index, nd):
    if not isinstance(index, tuple):
        index = (index,)
    if sum(i is Ellipsis for i in index) > 1:
        raise Unsupported("index")
    n_real = sum(1 for i in index if i is not None and i is not Ellipsis)
    k = next((k for k, i in enumerate(index) if i is Ellipsis), None)  # `in` would compare
    if k is not None:                                                  # arrays elementwise
        index = index[:k] + (slice(None),) * (nd - n_real) + index[k + 1:]
    return index   # dims past its end are taken whole


def _full(i, n):
    return isinstance(i, slice) and i.indices(n) == (0, n, 1)


def _is_grid(a, d, nd):
    """``a`` is arange along dim d of an nd-dim broadcast index (gather's other indices)."""
    return (isinstance(a, np.ndarray) and a.ndim == nd and a.dtype.kind in "iu"
            and all(s == 1 for j, s in enumerate(a.shape) if j != d)
            and np.array_equal(a.reshape(-1), np.arange(a.shape[d])))


def _check_alt(index, shape, alts):
    """With dynamic axes: an index entry that differs in the other traces is fine only where
    it means the same (a whole dim, or gather's arange grid); a bound that moved with a size
    cannot be written as a constant."""
    nd = len(shape)
    for ix, shp in alts:
        if len(ix) != len(index):
            raise Unsupported("index follows a dynamic axis")
        d = 0
        for i, j in zip(index, ix):
            if not same(i, j) and not (_full(i, shape[d]) and _full(j, shp[d])) \
                    and not (_is_grid(i, d, nd) and _is_grid(j, d, nd)):
                raise Unsupported(f"index {i!r} follows a dynamic axis")
            d += i is not None


def _slices(ctx, x_name, shape, index):
    """Apply the slices and ints of ``index`` (one entry per dim of ``shape``; other entries
    are skipped): Slice, then Squeeze of the int dims. Returns (name, squeezed dims).
    Bounds go in as written: for positive steps Python's rules (negative bounds count from
    the end, out-of-range bounds clamp) are ONNX Slice's, so they stay right when a dim's
    size is known only at run time."""
    starts, ends, axes, steps, squeeze = [], [], [], [], []
    for dim, i in enumerate(index):
        n = shape[dim]
        if isinstance(i, slice):
            st = 1 if i.step is None else int(i.step)
            if st <= 0:
                raise Unsupported("negative step")
            if not _full(i, n):
                starts.append(0 if i.start is None else int(i.start))
                ends.append(BIG if i.stop is None else int(i.stop))
                axes.append(dim), steps.append(st)
        elif isinstance(i, (int, np.integer)) and not isinstance(i, bool):
            j = int(i)
            starts.append(j), ends.append(BIG if j == -1 else j + 1)
            axes.append(dim), steps.append(1)
            squeeze.append(dim)
    cur = x_name
    if axes:
        cur = ctx.node("Slice", [cur, ctx.i64(starts), ctx.i64(ends), ctx.i64(axes),
                                 ctx.i64(steps)])
    if squeeze:
        cur = ctx.node("Squeeze", [cur, ctx.i64(squeeze)])
    return cur, squeeze


def _index_input(ctx, node, i, dim_size):
    """An integer index array (a traced Ref or a constant) as an int64 ONNX input."""
    if isinstance(i, Ref):
        v = node.inputs[i.index]
        if v.dtype.kind not in "iu":
            raise Unsupported("boolean mask index")
        nm = ctx.name(v)
        if v.dtype != np.int64:
            nm = ctx.node("Cast", [nm], to=ctx.helper.np_dtype_to_tensor_dtype(np.int64))
        return nm, v.shape
    if i.dtype.kind not in "iu":
        raise Unsupported("boolean mask index")
    a = i.astype(np.int64)
    return ctx.i64(np.where(a < 0, a + dim_size, a)), a.shape


def getitem(ctx, node, out):
    x = node.inputs[0]
    nd = len(x.shape)
    raw = node.attrs["index"]
    index = _expand_index(raw, nd)
    if any(isinstance(i, bool) or not (isinstance(i, (slice, int, np.integer)) or i is None
                                       or _is_array(i)) for i in index):
        raise Unsupported("index")
    if ctx.dims is not None:
        _check_alt(index, x.shape, [(_expand_index(ix, nd), shp)
                                    for ix, shp in ctx.dims.alt_index(node)])
    if any(_is_array(i) for i in index):
        _advanced(ctx, node, x, index, out)
        return
    dims = [i for i in index if i is not None]
    cur, squeeze = _slices(ctx, ctx.name(x), x.shape, dims)
    # None entries: new unit dims at their positions in the result
    unsq, pos = [], 0
    for i in index:
        if i is None:
            unsq.append(pos)
            pos += 1
        elif not isinstance(i, (int, np.integer)):
            pos += 1
    if unsq:
        cur = ctx.node("Unsqueeze", [cur, ctx.i64(unsq)])
    ctx.node("Identity", [cur], out)


def _advanced(ctx, node, x, index, out):
    """Integer-array indexing. One array among slices: Gather on its axis (embeddings, rows
    of a position table). Several adjacent arrays (ints count as 0-d arrays) from dim 0 on:
    GatherND over their broadcast (gather/take_along_dim). Other layouts move NumPy's result
    dims around and are not lowered."""
    if any(i is None for i in index):
        raise Unsupported("None with an index array")
    index = tuple(np.asarray(i, np.int64) if isinstance(i, (int, np.integer)) else i
                  for i in index)
    adv = [d for d, i in enumerate(index) if _is_array(i)]
    nd = len(x.shape)
    refs = [d for d in adv if isinstance(index[d], Ref)]
    if len(adv) == nd and len(refs) == 1 and all(
            _is_grid(index[d], d, nd) for d in adv if d != refs[0]) \
            and node.inputs[index[refs[0]].index].shape == node.out.shape:
        # take_along_dim / gather(x, d, idx): arange grids on the other dims
        d = refs[0]
        ind, _ = _index_input(ctx, node, index[d], x.shape[d])
        ctx.node("GatherElements", [ctx.name(x), ind], out, axis=d)
        return
    sliced, _ = _slices(ctx, ctx.name(x), x.shape, index)
    if len(adv) == 1:
        d = adv[0]
        ind, _ = _index_input(ctx, node, index[d], x.shape[d])
        ctx.node("Gather", [sliced, ind], out, axis=d)
        return
    if adv != list(range(len(adv))):
        raise Unsupported("index arrays not leading")
    parts, shapes = [], []
    for d in adv:
        nm, shp = _index_input(ctx, node, index[d], x.shape[d])
        parts.append(nm), shapes.append(shp)
    bshape = tuple(np.broadcast_shapes(*shapes))
    if ctx.dims is not None and any(isinstance(index[d], Ref) and not all(
            ctx.dims.is_static(node.inputs[index[d].index], j) for j in range(len(shapes[k])))
            for k, d in enumerate(adv)):
        raise Unsupported("several index arrays along a dynamic axis")
    cols = []
    for nm, shp in zip(parts, shapes):
        if tuple(shp) != bshape:
            nm = ctx.node("Expand", [nm, ctx.i64(bshape)])
        cols.append(ctx.node("Unsqueeze", [nm, ctx.i64([len(bshape)])]))
    ind = ctx.node("Concat", cols, axis=len(bshape))   # (*bshape, n_arrays)
    ctx.node("GatherND", [sliced, ind], out)
