"""Indexing primitives: getitem (basic and advanced) and its adjoint index_put (with
accumulation, so repeated indices sum their gradients). gather, scatter, scatter_add,
index_select, index_add, masked_fill and friends are built on these two."""
from __future__ import annotations

import builtins
import warnings

import numpy as np

from ._registry import Op, register, apply, _batched, _vmap_depth
from .._dispatch import state as _state, user_line
from .._tensor_base import TensorBase as Tensor, _norm_dim, _make
from ..errors import DTypeError, ShapeError, fmt_shape, read_only_write_error
from .. import dtypes as _dt
from ..dtypes import scalar_type_name
from ..backend import ckernels
from .._creation import _created, arange, zeros
from .elementwise import where
from .inplace import check_inplace, commit_inplace, expanded_target
from .views import PadConstant
from .inplace import make_inplace
from ..autograd.node import relabel

__all__ = ["bincount", "gather", "getitem", "index_add", "index_copy", "index_fill",
           "index_put", "index_select", "masked_fill", "masked_scatter",
           "masked_select", "one_hot", "scatter_add", "setitem", "take",
           "take_along_dim", "unique"]




def _drop_empty_ellipsis(index, ndim):
    """``index`` without an Ellipsis that stands for no dims: NumPy counts it as separating the
    index arrays around it (moving their dims first), PyTorch does not."""
    if not builtins.any(i is Ellipsis for i in index):
        return index
    used = builtins.sum(i.ndim if isinstance(i, np.ndarray) and i.dtype == np.bool_ else 1
                        for i in index if i is not None and i is not Ellipsis)
    if used < ndim:
        return index
    return tuple(i for i in index if i is not Ellipsis)


def _to_index(idx):
    """Convert a user index (ints, slices, None, Ellipsis, Tensors, lists) to NumPy's form."""
    if isinstance(idx, tuple):
        for i in idx:  # the common case, ints and slices of ints: already NumPy's form
            if type(i) is slice:
                if isinstance(i.start, Tensor) or isinstance(i.stop, Tensor) or \
                        isinstance(i.step, Tensor):
                    break
            elif type(i) is not int and i is not None and i is not Ellipsis:
                break
        else:
            return idx if type(idx) is tuple else tuple(idx)
        return tuple([_to_index_item(i) for i in idx])
    return (_to_index_item(idx),)


def _to_index_item(i):
    if isinstance(i, Tensor):
        a = i._data
        if a.dtype.kind not in "iub":
            raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
        tr = _state.tracer
        if a.ndim == 0 and a.dtype.kind in "iu" and (tr is None or tr.paused):
            return int(a)   # PyTorch reads a 0-d integer tensor as an integer (a select)
        if tr is not None and not tr.paused:
            # a tensor the trace has not seen yet (a closure or buffer index) becomes a live
            # graph input now; otherwise its array would pass as a constant attribute
            tr.value_of(i)
        return a
    if isinstance(i, list):
        a = np.asarray([x.item() if isinstance(x, Tensor) else x for x in i])
        if a.dtype.kind == "f":
            raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
        return a
    if isinstance(i, slice):
        return slice(_int_or_none(i.start), _int_or_none(i.stop), _int_or_none(i.step))
    return i


def _int_or_none(v):
    return int(v) if isinstance(v, Tensor) else v


def _rows_index(index, out, v):
    """One 1-D integer index over the first axis with a matching values array: the
    embedding-gradient case, which _add_rows does faster than np.add.at."""
    if len(index) != 1 or out.ndim < 2:
        return False
    i = index[0]
    return (isinstance(i, np.ndarray) and i.ndim >= 1 and i.dtype.kind in "iu"
            and isinstance(v, np.ndarray) and v.shape == i.shape + out.shape[1:])


def _points_index(index, out, v):
    """One 1-D integer array per dim of ``out``, all of ``v``'s (1-D) shape: the values fit
    the indexed shape as they are (a gradient of ``x[rows, cols]``, as in nll_loss)."""
    if type(v) is not np.ndarray or v.ndim != 1 or type(index) is not tuple or \
            len(index) != out.ndim:
        return False
    for i in index:
        if type(i) is not np.ndarray or i.shape != v.shape or i.dtype.kind not in "iu":
            return False
    return True


def _add_rows(out, idx, v):
    """out[idx[k]] += v[k] summing repeats: sort the rows by index and add each run with one
    reduceat (O(N D) after the sort, where np.add.at pays per element). float32/float64: the
    same sums in C (backend/ckernels.py ``add_rows``), output rows shared over the pool."""
    if idx.size == 0:
        return
    if idx.ndim != 1:  # (B, T) token ids of an embedding: rows of v follow idx's flat order
        v = v.reshape((idx.size,) + v.shape[idx.ndim:])
        idx = idx.reshape(-1)
    if idx.dtype == np.int64 and idx.flags.c_contiguous and out.size:
        fn = ckernels.kernel("add_rows", out, v)
        if fn is not None:
            bad = np.zeros(1, np.int64)
            fn(out.ctypes.data, idx.ctypes.data, v.ctypes.data, out.shape[0], idx.size,
               out.size // out.shape[0], bad.ctypes.data)
            if not bad[0]:
                return      # (an index out of range: NumPy below raises the error)
    idx = np.where(idx < 0, idx + out.shape[0], idx)
    order = np.argsort(idx, kind="stable")
    sidx = idx[order]
    starts = np.flatnonzero(np.concatenate(([True], sidx[1:] != sidx[:-1])))
    out[sidx[starts]] += np.add.reduceat(v[order], starts, axis=0)


def block_of(index, shape):
    """(pads, block shape) of ``x[index]`` within x's ``shape`` when ``index`` is integers and
    unit-step slices (select, narrow, split, chunk, x[t]: a block of x, an integer a size-1
    slice), else None. ``pads`` is ((before, after), ...) per dim of x."""
    if not 0 < len(index) <= len(shape):
        return None
    pads, block = [], []
    for i, n in zip(index, shape):
        if type(i) is int:
            start = i + n if i < 0 else i
            stop = start + 1
        elif type(i) is slice and i.step in (None, 1):
            start, stop, _ = i.indices(n)
            if stop < start:
                return None
        else:
            return None
        pads.append((start, n - stop))
        block.append(stop - start)
    pads += [(0, 0)] * (len(shape) - len(index))
    return tuple(pads), tuple(block) + tuple(shape[len(index):])


def _is_basic(index):
    """No index arrays (NumPy or device arrays): every position is selected at most once."""
    return all(not (isinstance(i, np.ndarray) or hasattr(i, "__cuda_array_interface__"))
               for i in index)


@register
class GetItem(Op):
    name, kind, saves, view = "getitem", "index", "none", True
    # slices, ints and index arrays (traced ones too) lower through ONNX's indexing machinery
    onnx, onnx_refs = staticmethod(lambda ctx, node, out: ctx.getitem(node, out)), True
    onnx_shape_attrs = frozenset({"index"})

    @staticmethod
    def node_name_for(attrs):
        # torch's names: Select (an int), Slice (slices), Index (advanced indexing)
        index = attrs["index"]
        if not _is_basic(index):
            return "IndexBackward0"
        # torch indexes entry by entry: its node is that of the last entry that does something
        for i in reversed(index):
            if i is None:
                return "UnsqueezeBackward0"
            if i is Ellipsis:
                continue
            if not isinstance(i, slice):
                return "SelectBackward0"
            if i != slice(None):
                return "SliceBackward0"
        return "SliceBackward0" if index == (slice(None),) else "AliasBackward0"

    @staticmethod
    def forward(xp, a, index=()):
        for i in index:
            if isinstance(i, slice) and i.step is not None and i.step < 0:
                raise ValueError("step must be greater than zero")
        out = a[index]
        if isinstance(out, np.generic):
            # an integer per dim: NumPy gives a scalar copy; torch a 0-d view, which in-place
            # ops (x[1].add_(5), x[1].zero_()) write through to x
            out = a[index + (Ellipsis,)]
        return out

    # the adjoint of reading x[index] is adding g into zeros at index
    @staticmethod
    def backward(c, g):
        index = c.attrs["index"]
        shape = c.shape(0)
        blk = block_of(index, shape)
        if blk is not None:
            # a block of integers and unit-step slices (select, narrow, split, chunk, x[t]):
            # one padding pass (an integer is a size-1 slice whose dim g lacks) instead of
            # zeros + copy + add
            pads, block = blk
            if any(type(i) is int for i in index):
                g = g.reshape(block)
            return (apply(PadConstant, g, pads=pads),)
        z = zeros(shape, dtype=g.dtype)
        return (apply(IndexPut, z, g, index=c.attrs["index"], accumulate=True),)


@register
class IndexPut(Op):
    """out = copy of x with out[index] = v (or += v with accumulate, summing repeats)."""
    name, kind, onnx, saves = "index_put", "index", None, "none"

    @staticmethod
    def forward(xp, x, v, index=(), accumulate=False):
        out = x.copy()
        if accumulate:
            if xp is np and not _is_basic(index) and not _rows_index(index, out, v) and \
                    not _points_index(index, out, v):
                # NumPy's ufunc.at crashes the process (segfault, NumPy 2.4) on values that do
                # not broadcast to the indexed shape: refuse them first
                target = np.broadcast_to(np.empty((), np.bool_), out.shape)[index].shape
                try:
                    fits = np.broadcast_shapes(np.shape(v), target) == target
                except ValueError:
                    fits = False
                if not fits:
                    raise ShapeError(f"index_put: values of shape {fmt_shape(np.shape(v))} "
                                     f"cannot be broadcast to the indexing result of shape "
                                     f"{fmt_shape(target)}")
            if out.dtype == np.bool_ and xp is np:   # bool accumulates as logical or (torch)
                np.logical_or.at(out, index, v)
            elif _is_basic(index):
                out[index] += v
            elif xp is np and _rows_index(index, out, v):
                _add_rows(out, index[0], v)
            elif xp is np:
                np.add.at(out, index, v)
            else:  # CuPy: an atomic scatter-add that sums repeated indices
                import cupyx
                cupyx.scatter_add(out, index, v)
        else:
            out[index] = v
        return out

    @staticmethod
    def backward(c, g):
        index = c.attrs["index"]
        gx = gv = None
        if c.next[0] is not None:
            gx = g if c.attrs["accumulate"] else apply(IndexPut, g, 0.0, index=index,
                                                       accumulate=False)
        if c.next[1] is not None:
            gv = apply(GetItem, g, index=index)
        return gx, gv


def _split_ints(index):
    """(ints-only index, the rest) when index mixes integers with index arrays, else None.

    PyTorch applies integers first, as selects, and places the advanced dims by the adjacency
    of the remaining index arrays; NumPy counts integers among the advanced indices, so
    ``x[0, None, mask]`` would put the mask's dim before the new axis. Indexing in two steps
    gives PyTorch's layout; only done where the layouts differ: NumPy's integers and arrays
    are not one run of the index (so it moves the advanced dims first) while the arrays alone
    are (so PyTorch keeps them in place)."""
    is_int = [type(i) is int or isinstance(i, np.integer) for i in index]
    if not any(is_int) or _is_basic(index):
        return None
    adv = [k for k, i in enumerate(index) if is_int[k] or not _is_basic((i,))]
    if adv[-1] - adv[0] == len(adv) - 1:
        return None
    rest = [i for i, n in zip(index, is_int) if not n]
    arrays = [j for j, i in enumerate(rest) if not _is_basic((i,))]
    if arrays[-1] - arrays[0] != len(arrays) - 1:
        return None
    first, rest = [], []
    for i in index:
        if type(i) is int or isinstance(i, np.integer):
            first.append(i)
        elif i is None:
            first.append(None)
            rest.append(slice(None))
        elif i is Ellipsis:
            first.append(i)
            rest.append(i)
        elif isinstance(i, slice):
            first.append(i)
            rest.append(slice(None))
        else:  # an index array: its dims stay for the second step (a bool mask spans ndim)
            first.extend([slice(None)] * (i.ndim if i.dtype == np.bool_ else 1))
            rest.append(i)
    return tuple(first), tuple(rest)


def _ints_and_slices(idx) -> bool:
    """Whether a tuple index holds only ints, None and slices of ints (``x[:, -1, :]``): NumPy's
    form already, with nothing for the general path of getitem to rewrite."""
    for i in idx:
        t = type(i)
        if t is slice:
            if i == _ALL:   # ":" (a slice of tensors compares False: Tensor == None is False)
                continue
            a, b, c = i.start, i.stop, i.step
            if (a is not None and type(a) is not int) or (b is not None and type(b) is not int) \
                    or (c is not None and type(c) is not int):
                return False
        elif t is not int and i is not None:
            return False
    return True


_ALL = slice(None)


def getitem(input, idx):
    t = type(idx)
    if t is int:
        index = (idx,)
    elif t is np.int64 or t is np.intp:   # x[i] for a NumPy integer (rng.choice's): an int
        index = (int(idx),)
    elif t is tuple and _ints_and_slices(idx):
        index = idx
    elif t is slice and _ints_and_slices((idx,)):   # x[1:3]
        index = (idx,)
    else:
        if _batched[0] is not None and _batched_index(idx):   # inside vmap
            return _batched[2](input, idx)
        index = _drop_empty_ellipsis(_to_index(idx), input._data.ndim)
        split = _split_ints(index)
        if split is not None:
            return getitem(getitem(input, split[0]), split[1])
    try:
        out = apply(GetItem, input, index=index)
        if out.grad_fn is not None:   # torch's name: Select, Slice or Index
            steps = _basic_steps(index)
            if steps is not None and len(steps) > 1:
                shown = input                  # torch's chain of nodes, one per entry
                for name in steps[:-1]:
                    shown = (name, (shown,))
                relabel(out, steps[-1], (shown,))
            else:
                relabel(out, GetItem.node_name_for({"index": index}))
        return out
    except IndexError as e:
        raise IndexError(f"{str(e).replace('getitem: ', 'index: ', 1)}; tensor shape "
                         f"{fmt_shape(input.shape)}") from None


def _basic_steps(index):
    """The names of the nodes torch records for a basic ``index``, entry by entry (an int a
    Select, a slice that is not whole a Slice, None an Unsqueeze); None for an advanced one."""
    if not _is_basic(index):
        return None
    steps = []
    for i in index:
        if i is None:
            steps.append("UnsqueezeBackward0")
        elif isinstance(i, slice):
            if i != slice(None):
                steps.append("SliceBackward0")
        elif i is not Ellipsis:
            steps.append("SelectBackward0")
    return steps


def _batched_index(idx) -> bool:
    """Whether an index holds a tensor batched by vmap (its array: ``_batched[0]``)."""
    items = idx if isinstance(idx, (tuple, list)) else (idx,)
    return any(isinstance(i, Tensor) and type(i._data) is _batched[0] for i in items)


def index_put(input, indices, values, accumulate=False):
    """Out-of-place: a copy of input with input[indices] = values (or += with accumulate).
    A tensor of values must have input's dtype (PyTorch refuses to cast here, unlike
    ``input[indices] = values``)."""
    if isinstance(values, Tensor) and values.dtype is not input.dtype:
        raise DTypeError(f"Index put requires the source and destination dtypes match, got "
                         f"{scalar_type_name(input.dtype)} for the destination and "
                         f"{scalar_type_name(values.dtype)} for the source.")
    return _index_put(input, indices, values, accumulate)


def _index_put(input, indices, values, accumulate=False):
    """index_put casting a tensor of values to input's dtype (the internal callers)."""
    index = _to_index(tuple(indices) if isinstance(indices, (list, tuple)) else indices)
    if not isinstance(values, Tensor):
        values = _fill_tensor(values, input)
    elif values.dtype is not input.dtype:
        values = values.to(input.dtype)
    return apply(IndexPut, input, values, index=index, accumulate=accumulate)


def _scalar_tensor(v, like):
    return _created(_make(np.asarray(v, dtype=like._data.dtype)))


_IINFO: dict = {}   # NumPy integer dtype -> its np.iinfo


def _fill_scalar(value, dtype):
    """A Python number as a NumPy scalar of dtype (a Cadenza dtype), refused with PyTorch's
    RuntimeError where it does not fit (NumPy raises OverflowError or ValueError for ints and
    silently makes inf of a float16 overflow): integers within the type's range (an unsigned
    type also takes -max..-1, wrapping, as PyTorch), floats finite and in range for integer
    types (truncated), finite floats within a float type's range (inf and NaN are kept)."""
    npd = dtype.np
    kind = npd.kind
    if kind == "f" and (type(value) is float or type(value) is int) and \
            -65504.0 <= value <= 65504.0:
        return npd.type(value)  # the common cases (x[i] = 0.5, x[i] = 1): fit every float type
    if kind == "b" or isinstance(value, (np.ndarray, Tensor)) or isinstance(value, complex):
        return npd.type(value)
    if kind in "iu":
        info = _IINFO.get(npd)
        if info is None:   # (np.iinfo builds its object anew on every call: ~3 us)
            info = _IINFO[npd] = np.iinfo(npd)
        if isinstance(value, (float, np.floating)):
            ok = np.isfinite(value) and info.min <= value <= info.max
            v = int(value) if ok else 0
        else:
            v = int(value)
            ok = (-info.max if kind == "u" else info.min) <= v <= info.max
            if kind == "u":
                v %= info.max + 1
        if ok:
            return npd.type(v)
    else:
        with np.errstate(over="ignore"):
            out = npd.type(value)
        if np.isfinite(out) or not np.isfinite(float(value)):
            return out
    raise RuntimeError(f"value {value!r} cannot be converted to type {dtype.name} without "
                       f"overflow")


def _fill_tensor(v, like):
    """_scalar_tensor with PyTorch's overflow check of the value."""
    return _created(_make(np.asarray(_fill_scalar(v, like.dtype))))


def _numpy_layout(index, shape, value):
    """``value`` given in PyTorch's layout of ``x[index]`` rearranged into NumPy's, for an index
    whose integers make the two differ (see ``_split_ints``): NumPy puts the advanced dims
    first, PyTorch after the result dims of the basic indices before the index arrays."""
    split = _split_ints(index)
    if split is None or not isinstance(value, Tensor) or value.ndim == 0:
        return value
    first, rest = split
    dummy = np.broadcast_to(np.zeros((), dtype=np.int8), shape)   # no memory: stride 0
    sub_nd = dummy[first].ndim
    np_shape = dummy[index].shape
    arrays = [i for i in rest if isinstance(i, np.ndarray)]
    n_adv = np.broadcast_shapes(*[(a.sum(),) if a.dtype == np.bool_ else a.shape
                                  for a in arrays]).__len__()
    consumed = builtins.sum(i.ndim if isinstance(i, np.ndarray) and i.dtype == np.bool_ else 1
                            for i in rest if i is not None and i is not Ellipsis)
    k = 0
    for i in rest:
        if isinstance(i, np.ndarray):
            break
        k += sub_nd - consumed if i is Ellipsis else 1
    basic = np_shape[n_adv:]
    torch_shape = basic[:k] + np_shape[:n_adv] + basic[k:]
    return value.expand(torch_shape).movedim(tuple(range(k, k + n_adv)),
                                             tuple(range(n_adv)))


def _setitem_expanded(self, index, v) -> bool:
    """``self[index] = v`` into an expanded view as torch does: through to the memory its
    elements share when the indexed part has no two elements on one location (a basic
    index: torch's copy_ checks), always for an advanced index (index_put_, deprecated).
    False: torch's overlap error."""
    target = expanded_target(self)
    if target is None:
        return False
    base, idx = target
    sel = idx[index]
    parts = index if isinstance(index, tuple) else (index,)
    advanced = any(isinstance(i, np.ndarray) for i in parts)
    if not advanced and np.unique(sel).size != sel.size:
        return False
    if advanced:
        warnings.warn("Use of index_put_ on expanded tensors is deprecated. Please clone() the "
                      "tensor before performing this operation.", UserWarning, stacklevel=3)
    vals = np.broadcast_to(np.asarray(v).astype(self._data.dtype, copy=False), sel.shape)
    base.flat[sel.reshape(-1)] = vals.reshape(-1)
    return True


def setitem(self, idx, value):
    """``self[idx] = value`` in place; recorded in the graph when grad is needed."""
    index = _drop_empty_ellipsis(_to_index(idx), self._data.ndim)
    value = _numpy_layout(index, self._data.shape, value)
    needs_graph = _state.grad_enabled and (
        self._requires_grad or (isinstance(value, Tensor) and value._requires_grad))
    batched = _vmap_depth[0] and (type(self._data) is _batched[0] or (
        isinstance(value, Tensor) and type(value._data) is _batched[0]))   # inside vmap
    if not needs_graph and _state.tracer is None and not batched:
        # raw write; compile records index_put
        if type(self._vc) is not list:
            self._vc[0] = self._vc[0]   # an inference tensor outside inference mode: refused
        v = value._data if isinstance(value, Tensor) else _fill_scalar(value, self.dtype)
        try:
            self._data[index] = v
        except ValueError as e:
            if "read-only" in str(e):
                if _setitem_expanded(self, index, v):
                    self._vc[0] += 1
                    return
                raise read_only_write_error(self._data) from None
            raise ShapeError(f"setitem: cannot assign value of shape "
                             f"{fmt_shape(np.shape(v))} to index of tensor "
                             f"{fmt_shape(self.shape)}: {e}") from None
        self._vc[0] += 1
        return
    if needs_graph:
        check_inplace(self, "setitem")
    if not isinstance(value, Tensor):
        value = _fill_tensor(value, self)
    elif value.dtype is not self.dtype:
        value = value.to(self.dtype)
    out = apply(IndexPut, self, value, index=index, accumulate=False)
    commit_inplace(self, out)


def _coords(index, dim):
    """Open-mesh coordinates selecting input[..., index[...], ...] along dim (gather's rule:
    out[i][j][k] = input[i][index[i][j][k]][k] for dim=1)."""
    idx = index._data
    nd = idx.ndim
    out = []
    for d in range(nd):
        if d == dim:
            out.append(idx)
        else:
            shape = [1] * nd
            shape[d] = idx.shape[d]
            out.append(np.arange(idx.shape[d]).reshape(shape))
    return tuple(out)


def _check_gather(op, input, dim, index):
    if index._data.dtype.kind not in "iu":
        raise RuntimeError(f"{op}(): Expected dtype int64 for index, got {index.dtype}")
    if index.ndim != input.ndim and not (index.ndim <= 1 and input.ndim <= 1):
        raise ShapeError(f"{op}: expected index and input to have the same number of "
                         f"dimensions, got index {fmt_shape(index.shape)} and input "
                         f"{fmt_shape(input.shape)}")


_INDEX_ERRORS = {"IndexError": IndexError, "RuntimeError": RuntimeError}


def _identity_onnx(ctx, node, out):
    # (the range check stays in Cadenza: ONNX's Gather refuses out-of-range indices itself)
    ctx.node("Identity", [ctx.name(node.inputs[0])], out)


@register
class IndexRangeCheck(Op):
    """The index array itself, once its values are known to lie in [low, size): NumPy would
    wrap -1 to the last element where PyTorch raises. A primitive (not a check in the public
    function) so that compiled graphs repeat it on every replay. One min/max pass, and a copy
    of the (small) index array: a tracer keys values by memory, so handing back the input
    itself would be taken for the input and the check dropped from the graph."""
    name, kind, onnx, saves, differentiable = "index_range_check", "index", _identity_onnx, \
        "none", False

    @staticmethod
    def forward(xp, idx, caller="index", size=0, dim=0, low=0, error="RuntimeError"):
        if idx.size:
            lo, hi = int(idx.min()), int(idx.max())
            if lo < low or hi >= size:
                raise _INDEX_ERRORS[error](
                    f"{caller}(): index {lo if lo < low else hi} is out of bounds for "
                    f"dimension {dim} with size {size} (index out of range in self)")
        return idx.copy()


def select_error(shape, dim):
    """The class PyTorch's index_select (and embedding, built on it) raises for an index out
    of range: IndexError, but RuntimeError beyond 1-d along dim 1 or when the input holds no
    element ("INDICES element is out of DATA bounds", "self indexing axis dim should be
    positive")."""
    return RuntimeError if len(shape) > 1 and (dim == 1 or 0 in shape) else IndexError


def checked_index(index, op, size, dim, error=RuntimeError, low=0):
    """``index`` (a Tensor) through IndexRangeCheck: values outside [low, size) raise."""
    return apply(IndexRangeCheck, index, caller=op, size=int(size), dim=int(dim), low=int(low),
                 error=error.__name__)


def gather(input, dim, index, *, sparse_grad=False):
    """out[i][j][k] = input[i][index[i][j][k]][k] (dim=1); gradients scatter-add back."""
    _check_gather("gather", input, dim, index)
    d = _norm_dim(dim, input._data.ndim, "gather")
    for i, (si, sx) in enumerate(zip(index.shape, input.shape)):
        if i != d and si > sx:
            raise ShapeError(f"gather: expected index {fmt_shape(index.shape)} to be smaller "
                             f"than input {fmt_shape(input.shape)} apart from dimension {d}")
    index = checked_index(index, "gather", input.shape[d] if input._data.ndim else 1, d)
    if input._data.ndim == 0:
        return input.reshape(()).expand(index.shape) if index.numel() else input
    if index._data.ndim == 0:  # one element of a 1-d input (no coordinates would mean all)
        return relabel(apply(GetItem, input, index=_coords(index.reshape(1), d)).reshape(()),
                       "GatherBackward0", (input,))
    return relabel(apply(GetItem, input, index=_coords(index, d)), "GatherBackward0")


def take_along_dim(input, indices, dim=None):
    if dim is None:
        return input.reshape(-1)[indices.reshape(-1)]
    d = _norm_dim(dim, input._data.ndim, "take_along_dim")
    shape = list(np.broadcast_shapes(
        tuple(s for i, s in enumerate(input.shape) if i != d),
        tuple(s for i, s in enumerate(indices.shape) if i != d)))
    ishape = shape[:d] + [input.shape[d]] + shape[d:]
    jshape = shape[:d] + [indices.shape[d]] + shape[d:]
    return gather(input.expand(ishape), d, indices.expand(jshape))


def take(input, index):
    return input.reshape(-1)[index]


def _scatter(input, dim, index, src, accumulate, op):
    _check_gather(op, input, dim, index)
    d = _norm_dim(dim, input._data.ndim, op)
    index = checked_index(index, op, input.shape[d] if input._data.ndim else 1, d)
    if index._data.ndim == 0:
        # a 0-d index writes one element (no coordinates would select all of them)
        index = index.reshape(1)
        if isinstance(src, Tensor):
            src = src.reshape(-1)[:1]
        if input._data.ndim == 0:
            return _scatter(input.reshape(1), 0, index, src, accumulate, op).reshape(())
    if isinstance(src, Tensor):
        sub = tuple(slice(0, s) for s in index.shape)
        if tuple(src.shape) != tuple(index.shape):
            src = src[sub]
        if src.dtype is not input.dtype:
            raise RuntimeError(f"{op}(): Expected self.dtype to be equal to src.dtype (got "
                               f"{input.dtype} and {src.dtype})")
    else:
        src = _fill_tensor(src, input)
    return apply(IndexPut, input, src, index=_coords(index, d), accumulate=accumulate)


def scatter_add(input, dim, index, src):
    """out = input with src added at index along dim (repeated indices sum)."""
    return _scatter(input, dim, index, src, True, "scatter_add")


def _dim_index(input, dim, index, op):
    d = _norm_dim(dim, input._data.ndim, op) if input._data.ndim else 0
    if isinstance(index, Tensor):
        if index._data.dtype.kind not in "iu":
            raise RuntimeError(f"{op}(): Expected dtype int32/int64 for index")
        if index.ndim > 1:
            raise IndexError(f"{op}(): Index is supposed to be a vector, got "
                             f"{fmt_shape(index.shape)}")
        index = index.reshape(-1)
        # PyTorch's index_fill wraps negative indices, the others raise: IndexError, but
        # RuntimeError from index_add beyond 1-d and from index_select's kernel (see
        # select_error)
        n = input.shape[d] if input._data.ndim else 1
        nd = input._data.ndim
        err = RuntimeError if op == "index_add" and nd > 1 else \
            select_error(input.shape, d) if op == "index_select" else IndexError
        index = checked_index(index, op, n, d, err, -n if op == "index_fill" else 0)
    return (slice(None),) * d + (index,)


def index_select(input, dim, index):
    """Rows (along dim) listed in the 1-d index."""
    if input._data.ndim == 0:   # one row; torch gives a 0-d result for a one-element index
        _norm_dim(dim, 0, "index_select")
        if isinstance(index, Tensor) and index._data.size != 1:
            raise RuntimeError(f"index_select(): Index to scalar can have only 1 value, got "
                               f"{index._data.size} value(s)")
        if isinstance(index, Tensor) and not -1 <= int(index._data.reshape(-1)[0]) <= 0:
            raise RuntimeError("index_select(): index out of range in self (a 0-d tensor has "
                               "one element)")
        r = index_select(input.reshape(1), 0, index)
        return r.reshape(()) if r._data.size == 1 else r
    return getitem(input, _dim_index(input, dim, index, "index_select"))


def index_add(input, dim, index, source, *, alpha=1):
    """out = input; out[..., index[i], ...] += alpha * source[..., i, ...] (repeats sum)."""
    if isinstance(source, Tensor) and source.dtype is not input.dtype:
        raise RuntimeError(f"index_add_(): self ({_dt.scalar_type_name(input.dtype)}) and "
                           f"source ({_dt.scalar_type_name(source.dtype)}) must have the same "
                           f"scalar type")
    if isinstance(source, Tensor) and source._data.ndim == 0 and input._data.ndim > 0:
        if _numel(index) != 1:
            raise IndexError("index_add(): Dimension specified as 0 but tensor has no "
                             "dimensions (a 0-d source fits only one index)")
        raise RuntimeError(f"index_add(): source tensor shape must match self tensor shape, "
                           f"excluding the specified dimension. Got self.shape = "
                           f"{list(input.shape)} source.shape = []")
    if input._data.ndim == 0:   # one row: a 0-d source and one index, as torch
        _norm_dim(dim, 0, "index_add")
        if isinstance(source, Tensor) and source._data.ndim:
            raise RuntimeError(f"index_add(): source tensor shape must match self tensor "
                               f"shape, excluding the specified dimension. Got self.shape = "
                               f"[] source.shape = {list(source.shape)}")
        if _numel(index) != 1:
            raise IndexError("index_add(): Dimension specified as 0 but tensor has no "
                             "dimensions (a 0-d self takes one index)")
        return _as_row(index_add, input, index, source, alpha=alpha)
    _source_rows(input, dim, index, source, "index_add_", RuntimeError)
    if alpha != 1:
        source = source * alpha
    return _index_put(input, _dim_index(input, dim, index, "index_add"), source,
                     accumulate=True)


def _source_rows(input, dim, index, source, op, err):
    """torch's check that a dimensioned source has one row along dim per index (NumPy would
    broadcast one row to all, or skip the check on an empty input)."""
    if not isinstance(source, Tensor) or not source._data.ndim or not isinstance(index, Tensor):
        return
    d = _norm_dim(dim, input._data.ndim, op.rstrip("_"))
    if d >= source._data.ndim:
        raise err(f"{op}(): Indexing dim {d} is out of bounds of the source tensor with dim "
                  f"{source._data.ndim}")
    if source._data.ndim == input._data.ndim and any(
            a != b for k, (a, b) in enumerate(zip(input.shape, source.shape)) if k != d):
        raise RuntimeError(f"{op}(): source tensor shape must match self tensor shape, "
                           f"excluding the specified dimension. Got self.shape = "
                           f"{list(input.shape)} source.shape = {list(source.shape)}")
    if index._data.size != source.shape[d]:
        raise err(f"{op}(): Number of indices ({index._data.size}) should be equal to "
                  f"source.size(dim): ({source.shape[d]}), for dim: {d}")


def _as_row(fn, input, index, source, **kw):
    """fn on a 0-d input seen as one row (a 0-d source too), the result 0-d again."""
    if isinstance(source, Tensor) and source._data.ndim == 0:
        source = source.reshape(1)
    return fn(input.reshape(1), 0, index, source, **kw).reshape(())


def index_copy(input, dim, index, source):
    if isinstance(source, Tensor) and source.dtype is not input.dtype:
        raise RuntimeError(f"index_copy_(): self and source expected to have the same dtype, "
                           f"but got (self) {_dt.scalar_type_name(input.dtype)} and (source) "
                           f"{_dt.scalar_type_name(source.dtype)}")
    if isinstance(source, Tensor) and source._data.ndim == 0 and _numel(index) != 1:
        raise IndexError(f"index_copy_(): When source is scalar, index should have one element "
                         f"(got {_numel(index)})")
    if input._data.ndim == 0:
        _norm_dim(dim, 0, "index_copy")
        if isinstance(source, Tensor) and source._data.ndim > 1:
            raise RuntimeError(f"index_copy_(): source tensor shape must match self tensor "
                               f"shape, excluding the specified dimension. Got self.shape = "
                               f"[] source.shape = {list(source.shape)}")
        return _as_row(index_copy, input, index, source)
    if isinstance(source, Tensor) and source._data.ndim == 0 and input._data.ndim > 1:
        raise RuntimeError(f"index_copy_(): Source/destination tensor must have same slice "
                           f"shapes: a 0-d source fits a 1-d self only, got self.shape = "
                           f"{list(input.shape)}")
    _source_rows(input, dim, index, source, "index_copy_", IndexError)
    return _index_put(input, _dim_index(input, dim, index, "index_copy"), source)


def _numel(index):
    return index._data.size if isinstance(index, Tensor) else np.size(index)


def index_fill(input, dim, index, value):
    if input._data.ndim == 0:
        _norm_dim(dim, 0, "index_fill")
        return index_fill(input.reshape(1), 0, index, value).reshape(())
    return _index_put(input, _dim_index(input, dim, index, "index_fill"), value)


def masked_fill(input, mask, value):
    """Elements of input where mask is True replaced by value (broadcast mask)."""
    if not isinstance(mask, Tensor) or mask._data.dtype != np.bool_:
        raise RuntimeError(f"masked_fill_ only supports boolean masks, but got mask with dtype "
                           f"{mask.dtype if isinstance(mask, Tensor) else type(mask).__name__}")
    try:
        np.broadcast_shapes(tuple(mask.shape), tuple(input.shape))
    except ValueError:
        raise ShapeError(f"masked_fill: expected mask {fmt_shape(mask.shape)} and input "
                         f"{fmt_shape(input.shape)} to broadcast together") from None
    if isinstance(value, Tensor):
        if value.ndim:
            raise RuntimeError("masked_fill only supports a 0-dimensional value tensor, but got "
                               f"tensor with {value.ndim} dimension(s).")
        value = value.to(input.dtype)
        out = where(mask, value, input)
    else:
        out = where(mask, _fill_scalar(value, input.dtype), input)
    return out   # (broadcast to the mask's shape too, as torch's out-of-place masked_fill)


def masked_select(input, mask):
    try:
        shape = np.broadcast_shapes(tuple(input.shape), tuple(mask.shape))
    except ValueError:
        raise RuntimeError(f"masked_select: the mask {tuple(mask.shape)} must broadcast with "
                           f"the input {tuple(input.shape)}") from None
    return getitem(input.expand(shape), mask.expand(shape))


def masked_scatter(input, mask, source):
    try:   # the out-of-place form broadcasts input and mask together, as torch
        shape = tuple(np.broadcast_shapes(tuple(input.shape), tuple(mask.shape)))
    except ValueError:
        raise RuntimeError(f"masked_scatter: the mask {fmt_shape(mask.shape)} must broadcast "
                           f"with the input {fmt_shape(input.shape)}") from None
    if shape != tuple(input.shape):
        input = input.expand(shape)
    m = mask.expand(shape)
    _data_dependent(m, "masked_scatter")
    n = int(m._data.sum())
    if source.numel() < n:
        raise RuntimeError(f"masked_scatter: Number of elements of source < number of ones in "
                           f"mask ({source.numel()} < {n})")
    return _index_put(input, (m,), source.reshape(-1)[:n])


def one_hot(tensor, num_classes=-1):
    """int64 one-hot encoding with a new last dim of size num_classes."""
    if tensor._data.dtype.kind not in "iu":
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    a = tensor._data
    if num_classes == -1:
        _data_dependent(tensor, "one_hot without num_classes")
        if not a.size:
            raise RuntimeError("one_hot: Can not infer total number of classes from empty "
                               "tensor.")
        num_classes = int(a.max()) + 1
    if a.size and (a.min() < 0 or a.max() >= num_classes):
        raise RuntimeError(f"one_hot: Class values must be in [0, {num_classes}), got "
                           f"[{int(a.min())}, {int(a.max())}]")
    # through recorded ops (not raw NumPy on .data), so a compiled graph recomputes it per call
    return (tensor.unsqueeze(-1) == arange(num_classes, dtype=tensor.dtype)).to(_dt.int64)


def bincount(input, weights=None, minlength=0):
    _data_dependent(input, "bincount")
    w = None if weights is None else weights._data
    out = np.bincount(input._data, w, minlength)
    if w is not None and w.dtype == np.float32 and input._data.size:
        # torch counts float32 weights in float32, any other weights in float64 (and gives
        # int64 zeros for an empty input)
        out = out.astype(w.dtype)
    return _created_array(out)


def _created_array(a):
    """A result computed with raw NumPy from constant inputs (callers check that first with
    _data_dependent): a constant of the compiled graph, not a lifted input."""
    return _created(_make(a))


def _data_dependent(t, name):
    if t.is_meta:
        raise NotImplementedError(f"{name}: the output's shape depends on the values of a "
                                  "meta tensor (a meta tensor has none)")
    if _state.tracer is not None and not _state.tracer.is_const(t):
        _state.tracer.fail(f"compile: {name} has a data-dependent output shape ({user_line()}); "
                          "compute it outside the compiled function or use a fixed-size mask "
                          "with cadenza.where")


def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):
    _data_dependent(input, "unique")
    if dim is not None and input.numel() == 0:   # torch's refusals of empty tensors
        d = dim % builtins.max(input.ndim, 1)
        zeros = [k for k, n in enumerate(input.shape) if n == 0]
        if len(zeros) > 1:
            raise RuntimeError(f"unique(dim={dim}): Number of zero sized dimensions is more "
                               f"than one, so unique cannot be applied (shape "
                               f"{tuple(input.shape)})")
        if zeros != [d]:
            raise RuntimeError(f"unique(dim={dim}): There are 0 sized dimensions, and they "
                               f"aren't selected, so unique cannot be applied (shape "
                               f"{tuple(input.shape)})")
    res = np.unique(input._data, return_inverse=return_inverse, return_counts=return_counts,
                    axis=dim, equal_nan=False)   # each NaN its own value, as torch
    if not isinstance(res, tuple):
        return _created_array(res)
    out = [_created_array(res[0])]
    k = 1
    if return_inverse:
        inv = res[k].reshape(input.shape if dim is None else -1)
        out.append(_created_array(inv.astype(np.int64)))
        k += 1
    if return_counts:
        out.append(_created_array(res[k].astype(np.int64)))
    return tuple(out)


# ----------------------------------------------------------------------------- Tensor methods
class IndexMethods:
    """cadenza.Tensor's methods for this module's functions (``x.f(...)`` is ``f(x, ...)``,
    in-place ``x.f_(...)`` commits it into x); ``cadenza/_tensor.py`` composes them."""
    __slots__ = ()

    __getitem__ = getitem
    __setitem__ = setitem
    gather = gather
    scatter_add = scatter_add
    index_select = index_select
    index_add = index_add
    index_copy = index_copy
    index_fill = index_fill
    index_put = index_put
    masked_fill = masked_fill
    masked_select = masked_select
    masked_scatter = masked_scatter
    take = take
    take_along_dim = take_along_dim
    bincount = bincount
    unique = unique
    masked_fill_ = make_inplace(masked_fill, "masked_fill_")
    index_add_ = make_inplace(index_add, "index_add_")
    index_copy_ = make_inplace(index_copy, "index_copy_")
    index_fill_ = make_inplace(index_fill, "index_fill_")
    index_put_ = make_inplace(index_put, "index_put_")
    scatter_add_ = make_inplace(scatter_add, "scatter_add_")
    masked_scatter_ = make_inplace(masked_scatter, "masked_scatter_")

    __getitem__ = getitem
    __setitem__ = setitem
