"""Reshapes, permutes and expands (views of their input, as in PyTorch), the sum back to a
broadcast shape (expand's adjoint) and the copies that make a tensor contiguous, with the
composites over them (view, squeeze, unsqueeze, flatten, transpose, movedim, broadcast_*)."""
from __future__ import annotations

import math

import numpy as np

from ._registry import Op, register, apply
from .._tensor_base import TensorBase as Tensor, _norm_dim
from ..errors import ShapeError, fmt_shape
from .. import dtypes
from .._tensor_base import Size, _make
from .._trace_hooks import untraceable
from ..backend import layout as _layout
from ..autograd.node import relabel

__all__ = ["atleast_1d", "atleast_2d", "broadcast_shapes", "broadcast_tensors",
           "broadcast_to", "clone", "contiguous", "expand", "expand_as", "flatten",
           "moveaxis", "movedim", "permute", "reshape", "reshape_as", "squeeze",
           "sum_to", "swapaxes", "swapdims", "t", "transpose", "unflatten", "unsqueeze",
           "view", "view_as"]



def _infer_shape(shape, numel, op):
    """Resolve a single -1 in a target shape; check the element count."""
    n = 1
    for s in shape:  # the common case: sizes given as non-negative ints that fit
        if type(s) is not int or s < 0:
            break
        n *= s
    else:
        if n == numel:
            return shape if type(shape) is tuple else tuple(shape)
    shape = tuple(int(s) for s in shape)
    neg = [i for i, s in enumerate(shape) if s == -1]
    if len(neg) > 1:
        raise RuntimeError(f"{op}: only one dimension can be inferred, got {shape}")
    if neg:
        rest = 1
        for s in shape:
            if s != -1:
                rest *= s
        if rest == 0 or numel % rest:
            raise ShapeError(f"{op}: shape '{list(shape)}' is invalid for input of size {numel}")
        shape = tuple(numel // rest if s == -1 else s for s in shape)
    n = 1
    for s in shape:
        if s < 0:
            raise ShapeError(f"{op}: invalid shape dimension {s} in {list(shape)}")
        n *= s
    if n != numel:
        raise ShapeError(f"{op}: shape '{list(shape)}' is invalid for input of size {numel}")
    return shape


def _shape_args(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    if len(shape) == 1 and isinstance(shape[0], Tensor):
        return tuple(int(v) for v in shape[0].tolist())
    return shape


def _reshape_onnx(ctx, node, out):
    ctx.node("Reshape", [ctx.name(node.inputs[0]), ctx.shape_of(node.out)], out)


def _expand_onnx(ctx, node, out):
    ctx.node("Expand", [ctx.name(node.inputs[0]), ctx.shape_of(node.out)], out)


def _permute_onnx(ctx, node, out):
    nd = len(node.inputs[0].shape)
    ctx.node("Transpose", [ctx.name(node.inputs[0])], out,
             perm=[int(d) % nd for d in node.attrs["dims"]])


def _sum_to_onnx(ctx, node, out):
    """ReduceSum (kept dims) over the dims the target broadcasts, reshaped to the target."""
    x = node.inputs[0]
    target = tuple(node.attrs["shape"])
    lead = len(x.shape) - len(target)
    dims = list(range(lead)) + [lead + i for i, s in enumerate(target)
                                if s == 1 and x.shape[lead + i] != 1]
    ctx.reduce_node(node, out, "ReduceSum", dims, True, target)


@register
class Reshape(Op):
    name, kind, onnx, saves, view = "reshape", "shape", _reshape_onnx, "none", True
    onnx_shape_attrs = frozenset({"shape"})
    forward = staticmethod(lambda xp, a, shape=(): a.reshape(shape))
    backward = staticmethod(lambda c, g: (g.reshape(c.shape(0)),))


Reshape.node_name = "ViewBackward0"  # torch's name for a reshape that is a view


@register
class View(Op):
    """Like reshape, but never copies: fails where the strides do not allow a view."""
    name, kind, onnx, saves, view = "view", "shape", _reshape_onnx, "none", True
    onnx_shape_attrs = frozenset({"shape"})

    @staticmethod
    def forward(xp, a, shape=()):
        try:
            return a.reshape(shape, copy=False)
        except (TypeError, AttributeError):  # NumPy < 2.1: no copy= argument
            out = a.view()
            out.shape = shape
            return out

    backward = staticmethod(lambda c, g: (g.reshape(c.shape(0)),))


@register
class Permute(Op):
    name, kind, onnx, saves, view = "permute", "shape", _permute_onnx, "none", True
    forward = staticmethod(lambda xp, a, dims=(): a.transpose(dims))   # (the method: no
    #                                                                    dispatch wrapper)

    @staticmethod
    def backward(c, g):
        dims = c.attrs["dims"]
        inv = [0] * len(dims)
        for i, d in enumerate(dims):
            inv[d] = i
        return (g.permute(inv),)


def _diagonal_onnx(ctx, node, out):
    """Gather of the diagonal's flat positions in the last two dims."""
    x = node.inputs[0]
    *batch, r, c = x.shape
    flat = ctx.node("Reshape", [ctx.name(x), ctx.i64(list(batch) + [r * c])])
    off = node.attrs["offset"]
    ctx.node("Gather", [flat, ctx.i64(_diagonal_rows(r, c, off) * (c + 1) + off)], out,
             axis=len(batch))


def _diagonal_rows(r, c, offset):
    return np.arange(max(0, -offset), max(min(r, c - offset), max(0, -offset)))


@register
class DiagonalLast(Op):
    """The diagonal of the last two dims (``offset`` above it) as a view of the input's
    memory, so that writes into ``x.diagonal()`` reach x, as in PyTorch."""
    name, kind, onnx, saves, view = "diagonal_last", "shape", _diagonal_onnx, "none", True

    @staticmethod
    def forward(xp, a, offset=0):
        r, c = a.shape[-2:]
        rows = _diagonal_rows(r, c, offset)
        st = a.strides
        start = a[..., rows[0]:, rows[0] + offset:] if rows.size else a
        return xp.lib.stride_tricks.as_strided(start, a.shape[:-2] + (rows.size,),
                                               st[:-2] + (st[-2] + st[-1],))

    @staticmethod
    def backward(c, g):
        shape = tuple(c.shape(0))
        off = c.attrs["offset"]
        rows = _diagonal_rows(shape[-2], shape[-1], off)
        z = g.new_zeros(shape[-2:] + shape[:-2])
        z = z.index_put((_make(rows), _make(rows + off)), g.movedim(-1, 0))
        return (z.movedim((0, 1), (-2, -1)),)


def _windows_onnx(ctx, node, out):
    """Gather of the window positions along dim, then the window axis moved last."""
    x = node.inputs[0]
    d, size, step = node.attrs["dim"], node.attrs["size"], node.attrs["step"]
    nd = len(x.shape)
    idx = _window_positions(x.shape[d], size, step)
    g = ctx.node("Gather", [ctx.name(x), ctx.i64(idx)], axis=d)
    ctx.node("Transpose", [g], out,
             perm=list(range(d + 1)) + list(range(d + 2, nd + 1)) + [d + 1])


def _window_positions(n, size, step):
    count = (n - size) // step + 1
    return np.arange(count)[:, None] * step + np.arange(size)[None, :]


@register
class Windows(Op):
    """``x.unfold(dim, size, step)``: every ``size``-long slice along dim, ``step`` apart, as
    a new last dim; a view of the input's memory (windows may overlap), as in PyTorch."""
    name, kind, onnx, saves, view = "windows", "shape", _windows_onnx, "none", True

    @staticmethod
    def forward(xp, a, dim=0, size=1, step=1):
        count = (a.shape[dim] - size) // step + 1
        st = a.strides
        return xp.lib.stride_tricks.as_strided(
            a, a.shape[:dim] + (count,) + a.shape[dim + 1:] + (size,),
            st[:dim] + (st[dim] * step,) + st[dim + 1:] + (st[dim],))

    @staticmethod
    def backward(c, g):
        shape = tuple(c.shape(0))
        d, size, step = c.attrs["dim"], c.attrs["size"], c.attrs["step"]
        idx = _window_positions(shape[d], size, step).reshape(-1)
        rest = shape[:d] + shape[d + 1:]
        vals = g.movedim((d, g.ndim - 1), (0, 1)).reshape((idx.size,) + rest)
        z = g.new_zeros((shape[d],) + rest).index_put((_make(idx),), vals, accumulate=True)
        return (z.movedim(0, d),)


@register
class Expand(Op):
    name, kind, onnx, saves, view = "expand", "shape", _expand_onnx, "none", True
    onnx_shape_attrs = frozenset({"shape"})
    forward = staticmethod(lambda xp, a, shape=(): _expand(xp, a, shape))
    backward = staticmethod(lambda c, g: (sum_to(g, c.shape(0)),))


def _expand(xp, a, shape):
    """broadcast_to with torch's strides on the size-1 dims it leaves size 1 (NumPy gives
    them 0; torch keeps an old dim's stride and gives a new one the extent inside it)."""
    out = xp.broadcast_to(a, shape)
    shape = out.shape
    if type(out) is not np.ndarray or 1 not in shape:
        return out
    lead = out.ndim - a.ndim
    st = list(out.strides)
    for i in range(a.ndim):
        if a.shape[i] == 1 and shape[lead + i] == 1:
            st[lead + i] = a.strides[i]
    for i in range(lead - 1, -1, -1):
        if shape[i] == 1:
            st[i] = st[i + 1] * shape[i + 1] if i + 1 < out.ndim else a.itemsize
    if tuple(st) == out.strides:
        return out
    return np.lib.stride_tricks.as_strided(out, shape, st, writeable=False)


@register
class SumTo(Op):
    """Sum a broadcast result back down to ``shape`` (the adjoint of expand)."""
    name, kind, onnx, saves = "sum_to", "reduce", _sum_to_onnx, "none"
    onnx_shape_attrs = frozenset({"shape"})

    @staticmethod
    def forward(xp, a, shape=()):
        lead = a.ndim - len(shape)
        axes = tuple(range(lead)) + tuple(
            i + lead for i, s in enumerate(shape) if s == 1 and a.shape[i + lead] != 1)
        out = xp.sum(a, axis=axes, keepdims=True) if axes else a
        return out.reshape(shape)

    backward = staticmethod(lambda c, g: (g.expand(c.shape(0)),))


def sum_to(x, shape):
    """Reduce ``x`` by summation to ``shape`` (which x's shape broadcasts from)."""
    shape = tuple(shape)
    if tuple(x._data.shape) == shape:
        return x
    return apply(SumTo, x, shape=shape)


@register
class Clone(Op):
    """A copy; ``memory_format`` (a format's name) lays it out: ``preserve_format`` (None)
    keeps the input's strides where torch does (``backend.layout``)."""
    name, kind, onnx, saves = "clone", "shape", "Identity", "none"
    may_alias = True

    @staticmethod
    def forward(xp, a, memory_format=None):
        if memory_format is None and (xp is not np or a.flags["C_CONTIGUOUS"]):
            return a.copy()
        return _layout.copy_to_format(a, memory_format or "preserve_format", xp)

    backward = staticmethod(lambda c, g: (g,))


@register
class Contiguous(Op):
    """Row-major (``memory_format`` None), or contiguous in a channels-last order."""
    name, kind, onnx, saves = "contiguous", "shape", "Identity", "none"
    may_alias = True     # a contiguous input is handed back

    @staticmethod
    def forward(xp, a, memory_format=None):
        if memory_format is None:
            return xp.ascontiguousarray(a)
        if _layout.is_format_contiguous(a, memory_format):
            return a
        return _layout.copy_to_format(a, memory_format, xp)

    backward = staticmethod(lambda c, g: (g,))


# ----------------------------------------------------------------------------- public functions
def reshape(input, *shape):
    """Same data with a new shape (a view when possible, else a copy)."""
    shape = _infer_shape(_shape_args(shape), input._data.size, "reshape")
    if shape == input._data.shape:
        return input if not input._requires_grad else apply(Reshape, input, shape=shape)
    return apply(Reshape, input, shape=shape)


def view(input, *shape, dtype=None):
    """A view with a new shape; fails (as in PyTorch) when the strides do not allow it.
    ``view(dtype)`` (or ``view(dtype=...)``) reinterprets the bits."""
    if dtype is not None:
        if shape:
            raise TypeError("view() received an invalid combination of arguments: a shape "
                            "and dtype= together")
        return _view_dtype(input, dtype)
    if len(shape) == 1 and not isinstance(shape[0], (tuple, list, int, np.integer)):
        if isinstance(shape[0], dtypes.dtype):
            return _view_dtype(input, shape[0])
    shape = _infer_shape(_shape_args(shape), input._data.size, "view")
    try:
        return apply(View, input, shape=shape)
    except ShapeError:
        raise RuntimeError(
            f"view size is not compatible with input tensor's size and stride (shape "
            f"{fmt_shape(input.shape)} -> {fmt_shape(shape)}: at least one dimension spans "
            f"across two contiguous subspaces). Use .reshape(...) instead.") from None


def _view_dtype(input, dt):
    # no primitive reinterprets bits yet: a raw view would be replayed as a stale input
    untraceable("Tensor.view(dtype)", "reinterpret the bits outside the compiled function",
                input)
    return _make(input._data.view(dt.np))


def view_as(input, other):
    return view(input, tuple(other.shape))


def owned(t):
    """``t``, a view of a temporary only it can reach (a reshape of an op's fresh output inside
    a function), made a tensor of its own: in-place ops then work on it as on any op output,
    as on torch's linear/conv/pool results, which are not views. No copy: the reshape's
    backward reads shapes only, and the version counter stays shared."""
    t._base = None
    return t


def reshape_as(input, other):
    return reshape(input, tuple(other.shape))


def flatten(input, start_dim=0, end_dim=-1):
    nd = input._data.ndim
    if nd == 0:   # dims of a 0-d tensor count as one dim (-1 and 0 allowed)
        _norm_dim(start_dim, 1, "flatten")
        _norm_dim(end_dim, 1, "flatten")
        return reshape(input, (1,))
    s = _norm_dim(start_dim, nd, "flatten")
    e = _norm_dim(end_dim, nd, "flatten")
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    shp = input.shape
    return reshape(input, tuple(shp[:s]) + (-1 if 0 not in shp else
                                            math.prod(shp[s:e + 1]),) + tuple(shp[e + 1:]))


def unflatten(input, dim, sizes):
    d = _norm_dim(dim, input._data.ndim, "unflatten")
    shp = tuple(input.shape)
    sizes = tuple(sizes)
    if -1 in sizes:
        known = math.prod(s for s in sizes if s != -1)
        if known == 0 or sizes.count(-1) > 1:
            raise RuntimeError(f"unflatten: cannot infer the -1 in sizes {list(sizes)} for "
                               f"dim {dim} of size {shp[d]}")
        sizes = tuple(shp[d] // known if s == -1 else s for s in sizes)
    if math.prod(sizes) != shp[d]:
        raise RuntimeError(f"unflatten: Provided sizes {list(sizes)} don't multiply up to the "
                           f"size of dim {dim} ({shp[d]}) in the input tensor")
    return reshape(input, shp[:d] + sizes + shp[d + 1:])


def squeeze(input, dim=None):
    shp = tuple(input.shape)
    if dim is None:
        new = tuple(s for s in shp if s != 1)
    else:
        dims = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
        if not shp:
            for d in dims:
                _norm_dim(d, 0, "squeeze")
            return input
        normed = [_norm_dim(d, len(shp), "squeeze") for d in dims]
        dims = set(normed)
        if len(dims) != len(normed):
            twice = next(d for d in normed if normed.count(d) > 1)
            raise RuntimeError(f"squeeze: dim {twice} appears multiple times in the list of "
                               f"dims {tuple(dim)}")
        new = tuple(s for i, s in enumerate(shp) if not (i in dims and s == 1))
    if new == shp:
        return input if not input._requires_grad else apply(Reshape, input, shape=new)
    # torch's names: squeeze(), squeeze(int), squeeze(dims)
    return relabel(apply(Reshape, input, shape=new), "SqueezeBackward0" if dim is None else
                   "SqueezeBackward1" if isinstance(dim, (int, np.integer)) else
                   "SqueezeBackward2")


def unsqueeze(input, dim):
    nd = input._data.ndim
    d = _norm_dim(dim, nd + 1, "unsqueeze")
    shp = tuple(input.shape)
    return relabel(apply(Reshape, input, shape=shp[:d] + (1,) + shp[d:]), "UnsqueezeBackward0")


def permute(input, *dims):
    if not dims:   # x.permute() (x.permute(()) is the 0-d form)
        raise TypeError("permute() missing 1 required positional arguments: \"dims\"")
    dims = _shape_args(dims)
    nd = input._data.ndim
    if len(dims) != nd:
        raise RuntimeError(f"permute(sparse_coo): number of dimensions in the tensor input does "
                           f"not match the length of the desired ordering of dimensions i.e. "
                           f"input.dim() = {nd} is not equal to len(dims) = {len(dims)}")
    dims = tuple(_norm_dim(d, nd, "permute") for d in dims)
    if len(set(dims)) != nd:
        raise RuntimeError(f"permute: repeated dim in {dims}")
    return apply(Permute, input, dims=dims)


def transpose(input, dim0, dim1):
    nd = input._data.ndim
    if nd == 0:
        _norm_dim(dim0, 0, "transpose"), _norm_dim(dim1, 0, "transpose")
        return input
    d0, d1 = _norm_dim(dim0, nd, "transpose"), _norm_dim(dim1, nd, "transpose")
    dims = list(range(nd))
    dims[d0], dims[d1] = dims[d1], dims[d0]
    return relabel(apply(Permute, input, dims=tuple(dims)), "TransposeBackward0")


def swapaxes(input, axis0, axis1):
    """transpose under NumPy's names (torch.swapaxes(x, axis0=, axis1=))."""
    return transpose(input, axis0, axis1)


def swapdims(input, dim0, dim1):
    return transpose(input, dim0, dim1)


def t(input):
    if input._data.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is "
                           f"{input._data.ndim}D")
    return relabel(transpose(input, 0, 1), "TBackward0") if input._data.ndim == 2 else input


def movedim(input, source, destination):
    nd = input._data.ndim
    src = [source] if isinstance(source, int) else list(source)
    dst = [destination] if isinstance(destination, int) else list(destination)
    src = [_norm_dim(s, nd, "movedim") for s in src]
    dst = [_norm_dim(d, nd, "movedim") for d in dst]
    order = [i for i in range(nd) if i not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return apply(Permute, input, dims=tuple(order))


moveaxis = movedim


def expand(input, *sizes):
    if not sizes:
        raise TypeError('expand() missing 1 required positional arguments: "size"')
    sizes = _shape_args(sizes)
    shp = tuple(input.shape)
    if len(sizes) < len(shp):
        raise ShapeError(f"expand: the number of sizes provided ({len(sizes)}) must be greater "
                         f"or equal to the number of dimensions in the tensor ({len(shp)})")
    lead = len(sizes) - len(shp)
    target = []
    for i, s in enumerate(sizes):
        cur = shp[i - lead] if i >= lead else None
        if s == -1:
            if cur is None:
                raise ShapeError("expand: -1 is not allowed in a leading, non-existing dimension")
            s = cur
        elif cur is not None and cur != 1 and cur != s:
            raise ShapeError(f"expand: the expanded size of the tensor ({s}) must match the "
                             f"existing size ({cur}) at non-singleton dimension {i}. Target "
                             f"sizes: {list(sizes)}. Tensor sizes: {list(shp)}")
        target.append(int(s))
    target = tuple(target)
    if target == shp:
        return input
    return apply(Expand, input, shape=target)


def expand_as(input, other):
    return expand(input, tuple(other.shape))


def broadcast_to(input, shape):
    return expand(input, tuple(shape))


def broadcast_shapes(*shapes):
    try:
        return Size(np.broadcast_shapes(*[tuple(s) for s in shapes]))
    except ValueError:
        raise ShapeError(f"broadcast_shapes: shapes {[tuple(s) for s in shapes]} are not "
                         f"broadcastable") from None


def broadcast_tensors(*tensors):
    shape = broadcast_shapes(*[t.shape for t in tensors])
    return tuple(expand(t, shape) for t in tensors)


def contiguous(input, memory_format=None):
    """``input`` itself when contiguous in ``memory_format`` (default contiguous_format;
    preserve_format counts as it), else a copy laid out so."""
    name = _layout.format_name(memory_format, "contiguous_format")
    if name in ("contiguous_format", "preserve_format"):
        if input._data.flags["C_CONTIGUOUS"]:
            return input
        return apply(Contiguous, input)
    _layout.check_rank(name, input._data.ndim, "contiguous")
    if _layout.is_format_contiguous(input._data, name):
        return input
    return apply(Contiguous, input, memory_format=name)


_FORMATS = {"channels_last": dtypes.channels_last, "channels_last_3d": dtypes.channels_last_3d}


def in_format_of(out, inputs, every=True):
    """``out`` (a new 4-d/5-d result) laid out channels-last when every input (``every``
    False: any input) of ``inputs`` is, as torch lays out the results of its image ops (with
    the format's exact strides, size-1 dims' included); otherwise ``out`` itself, or with
    ``every`` False row-major (torch allocates an image op's result in the suggested format;
    a row-major ``out`` keeps the strides of its size-1 dims).
    The same values; a copy only where the layout changes."""
    if not isinstance(out, Tensor) or out._data.ndim not in (4, 5):
        return out
    fmt = None
    for t in inputs:
        f = _layout.suggest_format(t._data) if isinstance(t, Tensor) and \
            t._data.ndim == out._data.ndim else "contiguous_format"
        if f == "contiguous_format":
            if every:
                return out
        elif fmt is None or not every:
            fmt = f
            if not every:
                break
        elif f != fmt:
            return out
    if fmt is None:   # torch's row-major (size-1 dims' strides as they come)
        return out if every else contiguous(out)
    if not _layout.has_format_strides(out._data, fmt) and \
            _layout.is_format_contiguous(out._data, fmt):
        return clone(out, memory_format=_FORMATS[fmt])   # (only size-1 dims' strides differ)
    return contiguous(out, memory_format=_FORMATS[fmt])


def clone(input, *, memory_format=None):
    """A copy; ``memory_format`` lays it out (default preserve_format: the input's strides
    where it is dense, as in torch)."""
    name = _layout.format_name(memory_format)
    if name == "preserve_format":
        return apply(Clone, input)
    _layout.check_rank(name, input._data.ndim, "clone")
    return apply(Clone, input, memory_format=name)


def _atleast(name, one, tensors):
    """PyTorch's atleast_Nd calling forms: one tensor -> a tensor; several tensors, or one
    list/tuple of them -> a tuple (of the same length, empty included)."""
    single = len(tensors) == 1 and isinstance(tensors[0], Tensor)
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    for t in tensors:
        if not isinstance(t, Tensor):
            raise TypeError(f"{name}(): expected a Tensor or a sequence of Tensors, got "
                            f"{type(t).__name__}")
    return one(tensors[0]) if single else tuple(one(t) for t in tensors)


def atleast_1d(*tensors):
    return _atleast("atleast_1d", lambda x: x.reshape(1) if x.ndim == 0 else x, tensors)


def atleast_2d(*tensors):
    return _atleast("atleast_2d", lambda x: x.reshape(1, -1) if x.ndim < 2 else x, tensors)


@register
class PadConstant(Op):
    """Constant padding; ``pads`` is ((before, after), ...) per dim, all >= 0."""
    name, kind, saves = "pad_constant", "shape", "none"

    @staticmethod
    def forward(xp, a, pads=(), value=0.0):
        if xp is not np or len(pads) != a.ndim:
            return xp.pad(a, pads, mode="constant", constant_values=value)
        # the filled output with the input copied into its block: np.pad's own Python
        # bookkeeping costs ~40 us a call (the backward of every slice, chunk and x[t])
        shape = tuple(n + b + e for n, (b, e) in zip(a.shape, pads))
        out = np.zeros(shape, a.dtype) if value == 0 else np.full(shape, value, a.dtype)
        out[tuple(slice(b, b + n) for n, (b, _) in zip(a.shape, pads))] = a
        return out

    @staticmethod
    def backward(c, g):
        idx = tuple(slice(b, g.shape[i] - e) for i, (b, e) in enumerate(c.attrs["pads"]))
        return (g[idx],)

    @staticmethod
    def onnx(ctx, node, out):
        pads = node.attrs["pads"]
        nd = len(node.out.shape)
        pads = list(pads) + [(0, 0)] * (nd - len(pads))
        onnx_pads = [int(p[0]) for p in pads] + [int(p[1]) for p in pads]
        ctx.node("Pad", [ctx.name(node.inputs[0]), ctx.i64(onnx_pads),
                         ctx.const(np.asarray(node.attrs.get("value", 0.0), node.out.dtype))],
                 out, mode="constant")


def sum_to_size(input, *size):
    """input summed down to ``size`` (which must broadcast to input's shape)."""
    size = tuple(int(s) for s in _shape_args(size))
    shp = tuple(input.shape)
    ok = len(size) <= len(shp) and all(s in (1, t) for s, t in zip(size[::-1], shp[::-1]))
    if not ok:
        raise RuntimeError(f"size {list(size)} is not expandable to size {list(shp)}.")
    return sum_to(input, size)


# ----------------------------------------------------------------------------- Tensor methods
class ViewMethods:
    """cadenza.Tensor's methods for this module's functions (``x.f(...)`` is ``f(x, ...)``,
    in-place ``x.f_(...)`` commits it into x); ``cadenza/_tensor.py`` composes them."""
    __slots__ = ()

    sum_to_size = sum_to_size  # (issue 10)

    def adjoint(self):  # (issue 10; the conjugate transpose: the transpose of a real tensor)
        t = transpose(self, -2, -1)
        return t.conj() if self._data.dtype.kind == "c" else t

    reshape = reshape
    view = view
    view_as = view_as
    reshape_as = reshape_as
    flatten = flatten
    unflatten = unflatten
    squeeze = squeeze
    unsqueeze = unsqueeze
    permute = permute
    transpose = transpose
    swapaxes = swapaxes
    swapdims = swapdims
    t = t
    movedim = moveaxis = movedim
    expand = expand
    expand_as = expand_as
    broadcast_to = broadcast_to
    contiguous = contiguous
    clone = clone

    @property
    def T(self):
        return permute(self, tuple(range(self.ndim - 1, -1, -1)))

    @property
    def H(self):
        t = permute(self, tuple(range(self.ndim - 1, -1, -1)))
        return t.conj() if self._data.dtype.kind == "c" else t

    @property
    def mT(self):
        if self._data.ndim < 2:   # torch: the identity on 0-d (deprecated), an error on 1-d
            if self._data.ndim == 1:
                raise RuntimeError("tensor.mT is only supported on matrices or batches of "
                                   "matrices. Got 1-D tensor.")
            return self
        return transpose(self, -2, -1)

    mH = property(adjoint)

    def dim_order(self):
        return tuple(range(self.ndim))
