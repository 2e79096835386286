"""Shape primitives (reshape, permute, expand, sum_to, cat, flip, roll, pad, clone) and the
composites over them (view, squeeze, unsqueeze, flatten, transpose, stack, split, chunk,
repeat, tril/triu, ...). Views share memory with their input, as in PyTorch."""
from __future__ import annotations

import builtins
import math

import numpy as np

from ._registry import Op, register, apply
from .._tensor_base import TensorBase as Tensor, _norm_dim
from ..errors import ShapeError, fmt_shape

__all__ = ["sum_to", "reshape", "view", "view_as", "reshape_as", "flatten", "unflatten",
           "squeeze", "unsqueeze", "permute", "transpose", "swapaxes", "swapdims", "t",
           "movedim", "moveaxis", "expand", "expand_as", "broadcast_to",
           "broadcast_shapes", "broadcast_tensors", "contiguous", "clone", "cat",
           "concat", "concatenate", "stack", "hstack", "vstack", "narrow", "split",
           "tensor_split", "chunk", "unbind", "select", "flip", "fliplr", "flipud",
           "roll", "repeat", "tile", "repeat_interleave", "pad", "tril", "triu",
           "diagonal", "diag", "trace", "meshgrid", "atleast_1d", "atleast_2d"]


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


@register
class Reshape(Op):
    name, kind, onnx, saves, view = "reshape", "shape", "Reshape", "none", True
    forward = staticmethod(lambda xp, a, shape=(): a.reshape(shape))
    backward = staticmethod(lambda c, g: (g.reshape(c.shape(0)),))


Reshape.node_name = "ViewBackward0"  # torch's name for a reshape that is a view


@register
class View(Op):
    """Like reshape, but never copies: fails where the strides do not allow a view."""
    name, kind, onnx, saves, view = "view", "shape", "Reshape", "none", True

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
    name, kind, onnx, saves, view = "permute", "shape", "Transpose", "none", True
    forward = staticmethod(lambda xp, a, dims=(): xp.transpose(a, dims))

    @staticmethod
    def backward(c, g):
        dims = c.attrs["dims"]
        inv = [0] * len(dims)
        for i, d in enumerate(dims):
            inv[d] = i
        return (g.permute(inv),)


@register
class Expand(Op):
    name, kind, onnx, saves, view = "expand", "shape", "Expand", "none", True
    forward = staticmethod(lambda xp, a, shape=(): xp.broadcast_to(a, shape))
    backward = staticmethod(lambda c, g: (sum_to(g, c.shape(0)),))


@register
class SumTo(Op):
    """Sum a broadcast result back down to ``shape`` (the adjoint of expand)."""
    name, kind, onnx, saves = "sum_to", "reduce", "ReduceSum", "none"

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
class Cat(Op):
    name, kind, onnx, saves = "cat", "shape", "Concat", "none"
    @staticmethod
    def forward(xp, *arrs, dim=0):
        if not arrs or arrs[0].ndim == 0 or any(a.ndim != arrs[0].ndim for a in arrs):
            return xp.concatenate(arrs, axis=dim)      # let NumPy raise its error
        # NumPy lays the result out like its (maybe transposed) inputs; writing into a C-order
        # array keeps the later reshapes views and the kernels' inputs contiguous
        d = dim % arrs[0].ndim
        shape = list(arrs[0].shape)
        shape[d] = sum(a.shape[d] for a in arrs)
        out = xp.empty(shape, dtype=xp.result_type(*arrs))
        return xp.concatenate(arrs, axis=d, out=out)

    @staticmethod
    def backward(c, g):
        d = c.attrs["dim"]
        out, start = [], 0
        for shape, _ in c.meta:
            n = shape[d]
            out.append(g.narrow(d, start, n))
            start += n
        return tuple(out)

    @staticmethod
    def check(*tensors, dim=0):
        ref = tensors[0]
        for i, t in enumerate(tensors):
            if t.ndim != ref.ndim or any(a != b for j, (a, b) in enumerate(
                    zip(t.shape, ref.shape)) if j != dim):
                raise ShapeError(
                    f"cat: expected all tensors to have the same shape except in dim {dim}, got "
                    f"{fmt_shape(ref.shape)} (tensor 0) and {fmt_shape(t.shape)} (tensor {i})")


@register
class Flip(Op):
    name, kind, onnx, saves = "flip", "shape", None, "none"
    forward = staticmethod(lambda xp, a, dims=(): xp.flip(a, axis=dims))
    backward = staticmethod(lambda c, g: (g.flip(c.attrs["dims"]),))


@register
class Roll(Op):
    name, kind, onnx, saves = "roll", "shape", None, "none"
    forward = staticmethod(lambda xp, a, shifts=0, dims=None: xp.roll(a, shifts, axis=dims))

    @staticmethod
    def backward(c, g):
        s = c.attrs["shifts"]
        neg = tuple(-x for x in s) if isinstance(s, tuple) else -s
        return (g.roll(neg, c.attrs["dims"]),)


@register
class PadConstant(Op):
    """Constant padding; ``pads`` is ((before, after), ...) per dim, all >= 0."""
    name, kind, onnx, saves = "pad_constant", "shape", "Pad", "none"
    forward = staticmethod(lambda xp, a, pads=(), value=0.0: xp.pad(
        a, pads, mode="constant", constant_values=value))

    @staticmethod
    def backward(c, g):
        idx = tuple(slice(b, g.shape[i] - e) for i, (b, e) in enumerate(c.attrs["pads"]))
        return (g[idx],)


@register
class Clone(Op):
    name, kind, onnx, saves = "clone", "shape", "Identity", "none"
    forward = staticmethod(lambda xp, a: a.copy())
    backward = staticmethod(lambda c, g: (g,))


@register
class Contiguous(Op):
    name, kind, onnx, saves = "contiguous", "shape", "Identity", "none"
    forward = staticmethod(lambda xp, a: xp.ascontiguousarray(a))
    backward = staticmethod(lambda c, g: (g,))


# ----------------------------------------------------------------------------- public functions
def reshape(input, *shape):
    """Same data with a new shape (a view when possible, else a copy)."""
    shape = _infer_shape(_shape_args(shape), input._data.size, "reshape")
    if shape == input._data.shape:
        return input if not input._requires_grad else apply(Reshape, input, shape=shape)
    return apply(Reshape, input, shape=shape)


def view(input, *shape):
    """A view with a new shape; fails (as in PyTorch) when the strides do not allow it."""
    if len(shape) == 1 and not isinstance(shape[0], (tuple, list, int, np.integer)):
        from .. import dtypes
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
    from .._tensor_base import _make
    from .._trace_hooks import untraceable
    # no primitive reinterprets bits yet: a raw view would be replayed as a stale input
    untraceable("Tensor.view(dtype)", "reinterpret the bits outside the compiled function",
                input)
    return _make(input._data.view(dt.np))


def view_as(input, other):
    return view(input, tuple(other.shape))


def reshape_as(input, other):
    return reshape(input, tuple(other.shape))


def flatten(input, start_dim=0, end_dim=-1):
    nd = input._data.ndim
    if nd == 0:
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
        dims = (dim,) if isinstance(dim, int) else tuple(dim)
        if not shp:
            for d in dims:
                _norm_dim(d, 0, "squeeze")
            return input
        dims = {_norm_dim(d, len(shp), "squeeze") for d in dims}
        new = tuple(s for i, s in enumerate(shp) if not (i in dims and s == 1))
    if new == shp:
        return input if not input._requires_grad else apply(Reshape, input, shape=new)
    return apply(Reshape, input, shape=new)


def unsqueeze(input, dim):
    nd = input._data.ndim
    d = _norm_dim(dim, nd + 1, "unsqueeze")
    shp = tuple(input.shape)
    return apply(Reshape, input, shape=shp[:d] + (1,) + shp[d:])


def permute(input, *dims):
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
    return apply(Permute, input, dims=tuple(dims))


swapaxes = swapdims = transpose


def t(input):
    if input._data.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is "
                           f"{input._data.ndim}D")
    return transpose(input, 0, 1) if input._data.ndim == 2 else input


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
    from .._tensor_base import Size
    try:
        return Size(np.broadcast_shapes(*[tuple(s) for s in shapes]))
    except ValueError:
        raise ShapeError(f"broadcast_shapes: shapes {[tuple(s) for s in shapes]} are not "
                         f"broadcastable") from None


def broadcast_tensors(*tensors):
    shape = broadcast_shapes(*[t.shape for t in tensors])
    return tuple(expand(t, shape) for t in tensors)


def contiguous(input, memory_format=None):
    if input._data.flags["C_CONTIGUOUS"]:
        return input
    return apply(Contiguous, input)


def clone(input, *, memory_format=None):
    return apply(Clone, input)


def cat(tensors, dim=0, *, out=None):
    """Concatenate along an existing dim (dtypes promoted, empty 1-d tensors skipped)."""
    tensors = [t for t in tensors]
    if not tensors:
        raise RuntimeError("cat(): expected a non-empty list of Tensors")
    nonempty = [t for t in tensors if not (t._data.ndim == 1 and t._data.shape[0] == 0)]
    if not nonempty:
        return tensors[0]
    ref = nonempty[0]
    d = _norm_dim(dim, ref._data.ndim, "cat")
    if len(nonempty) != len(tensors):
        # legacy rule: 1-d empty tensors are skipped; reshape them to fit so that they stay in
        # the graph and receive their (empty) gradient, as in torch
        empty_shape = tuple(0 if i == d else s for i, s in enumerate(ref.shape))
        tensors = [t if t is ref or not (t._data.ndim == 1 and t._data.shape[0] == 0)
                   else t.reshape(empty_shape) for t in tensors]
    dts = {t._data.dtype for t in tensors}
    if len(dts) > 1:
        from ..dtypes import result_type
        rt = result_type(*tensors)
        tensors = [t.to(rt) for t in tensors]
    if len(tensors) == 1:
        return tensors[0]
    return apply(Cat, *tensors, dim=d)


concat = concatenate = cat


def stack(tensors, dim=0, *, out=None):
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    shp = tuple(tensors[0].shape)
    for i, t in enumerate(tensors):
        if tuple(t.shape) != shp:
            raise ShapeError(f"stack: expected each tensor to be equal size, but got "
                             f"{fmt_shape(shp)} at entry 0 and {fmt_shape(t.shape)} at entry {i}")
    d = _norm_dim(dim, len(shp) + 1, "stack")
    return cat([unsqueeze(t, d) for t in tensors], d)


def hstack(tensors):
    tensors = list(tensors)
    return cat(tensors, 0 if tensors[0].ndim == 1 else 1)


def vstack(tensors):
    return cat([t if t.ndim >= 2 else t.reshape(1, -1) for t in tensors], 0)


def narrow(input, dim, start, length):
    d = _norm_dim(dim, input._data.ndim, "narrow")
    size = input.shape[d]
    if isinstance(start, Tensor):
        start = int(start)
    if start < -size or start > size:
        raise IndexError(f"narrow: start out of range (expected to be in range of [{-size}, "
                         f"{size}], but got {start})")
    if start < 0:
        start += size
    if start + length > size or length < 0:
        raise RuntimeError(f"narrow: start ({start}) + length ({length}) exceeds dimension size "
                           f"({size}).")
    idx = (slice(None),) * d + (slice(start, start + length),)
    return input[idx]


def split(tensor, split_size_or_sections, dim=0):
    """Split into chunks of a given size, or into the listed section sizes."""
    d = _norm_dim(dim, tensor._data.ndim, "split")
    size = tensor.shape[d]
    if isinstance(split_size_or_sections, (int, np.integer)):
        step = int(split_size_or_sections)
        if step <= 0 and size:
            raise RuntimeError(f"split: split_size must be positive, got {step}")
        sizes = [builtins.min(step, size - s) for s in range(0, size, step)] if size else [0]
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if builtins.sum(sizes) != size:
            raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {size} "
                               f"(input tensor's size at dimension {d}), but got split_sizes="
                               f"{sizes}")
    out, start = [], 0
    for s in sizes:
        out.append(narrow(tensor, d, start, s))
        start += s
    return tuple(out)


def tensor_split(input, indices_or_sections, dim=0):
    d = _norm_dim(dim, input._data.ndim, "tensor_split")
    n = input.shape[d]
    if isinstance(indices_or_sections, int):
        k = indices_or_sections
        q, r = divmod(n, k)
        sizes = [q + 1] * r + [q] * (k - r)
    else:
        bounds = [0] + [builtins.min(int(i), n) for i in indices_or_sections] + [n]
        sizes = [builtins.max(b - a, 0) for a, b in zip(bounds[:-1], bounds[1:])]
    return split(input, sizes, d)


def chunk(input, chunks, dim=0):
    d = _norm_dim(dim, input._data.ndim, "chunk")
    n = input.shape[d]
    step = -(-n // chunks) if n else 1
    return split(input, step, d)


def unbind(input, dim=0):
    d = _norm_dim(dim, input._data.ndim, "unbind")
    return tuple(select(input, d, i) for i in range(input.shape[d]))


def select(input, dim, index):
    d = _norm_dim(dim, input._data.ndim, "select")
    return input[(slice(None),) * d + (int(index),)]


def flip(input, *dims):
    dims = _shape_args(dims)
    if isinstance(dims, int):
        dims = (dims,)
    nd = input._data.ndim
    dims = tuple(_norm_dim(d, nd, "flip") for d in dims)
    return apply(Flip, input, dims=dims)


def fliplr(input):
    return flip(input, 1)


def flipud(input):
    return flip(input, 0)


def roll(input, shifts, dims=None):
    if isinstance(shifts, (list, tuple)):
        shifts = tuple(int(s) for s in shifts)
    if isinstance(dims, (list, tuple)):
        dims = tuple(_norm_dim(d, input._data.ndim, "roll") for d in dims)
    elif dims is not None:
        dims = _norm_dim(dims, input._data.ndim, "roll")
    return apply(Roll, input, shifts=shifts, dims=dims)


def repeat(input, *sizes):
    """Tile the tensor ``sizes`` times along each dim (torch.Tensor.repeat)."""
    sizes = tuple(int(s) for s in _shape_args(sizes))
    shp = tuple(input.shape)
    if len(sizes) < len(shp):
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number "
                           "of dimensions of tensor")
    shp = (1,) * (len(sizes) - len(shp)) + shp
    x = input.reshape(shp)
    # (s0, s1, ...) -> (1, s0, 1, s1, ...) -> (r0, s0, r1, s1, ...) -> (r0*s0, r1*s1, ...)
    inter = []
    for s in shp:
        inter += [1, s]
    x = x.reshape(tuple(inter))
    target = []
    for r, s in zip(sizes, shp):
        target += [r, s]
    x = expand(x, tuple(target))
    return x.reshape(tuple(r * s for r, s in zip(sizes, shp)))


def tile(input, dims):
    dims = tuple(dims)
    if len(dims) < input._data.ndim:
        dims = (1,) * (input._data.ndim - len(dims)) + dims
    return repeat(input, dims)


def repeat_interleave(input, repeats, dim=None):
    if dim is None:
        input, dim = input.reshape(-1), 0
    d = _norm_dim(dim, input._data.ndim, "repeat_interleave")
    if isinstance(repeats, int):
        shp = tuple(input.shape)
        x = unsqueeze(input, d + 1)
        x = expand(x, shp[:d + 1] + (repeats,) + shp[d + 1:])
        return x.reshape(shp[:d] + (shp[d] * repeats,) + shp[d + 1:])
    from .._creation import tensor
    from .index import index_select, _data_dependent
    if isinstance(repeats, Tensor):
        _data_dependent(repeats, "repeat_interleave with tensor repeats")
    idx = np.repeat(np.arange(input.shape[d]), np.asarray(repeats.tolist() if isinstance(
        repeats, Tensor) else repeats))
    return index_select(input, d, tensor(idx))


def pad(input, pad, mode="constant", value=None):
    """F.pad: ``pad`` lists (before, after) pairs starting from the last dim."""
    if len(pad) % 2:
        raise RuntimeError(f"pad: padding length must be divisible by 2, got {len(pad)}")
    nd = input._data.ndim
    if len(pad) // 2 > nd:
        raise RuntimeError(f"pad: padding length {len(pad)} is too large for a {nd}-d input")
    pads = [(0, 0)] * nd
    for i in range(len(pad) // 2):
        pads[nd - 1 - i] = (int(pad[2 * i]), int(pad[2 * i + 1]))
    if mode != "constant":
        return _pad_mode(input, pads, mode)
    crop = [(builtins.max(-b, 0), builtins.max(-e, 0)) for b, e in pads]
    pads = tuple((builtins.max(b, 0), builtins.max(e, 0)) for b, e in pads)
    if any(b or e for b, e in crop):
        input = input[tuple(slice(b, input.shape[i] - e) for i, (b, e) in enumerate(crop))]
    return apply(PadConstant, input, pads=pads, value=0.0 if value is None else value)


def _pad_mode(input, pads, mode):
    """reflect / replicate / circular padding as gathers (so gradients flow)."""
    from .index import index_select
    from .._creation import tensor
    x = input
    for d, (b, e) in enumerate(pads):
        if not (b or e):
            continue
        n = x.shape[d]
        i = np.arange(-b, n + e)
        if mode == "reflect":
            period = 2 * (n - 1)
            i = np.abs(((i % period) + period) % period)
            i = np.where(i >= n, period - i, i)
        elif mode == "replicate":
            i = np.clip(i, 0, n - 1)
        elif mode == "circular":
            i = i % n
        else:
            raise NotImplementedError(f"pad: unknown mode {mode!r}; expected 'constant', "
                                      "'reflect', 'replicate' or 'circular'")
        x = index_select(x, d, tensor(i))
    return x


def _tri_mask(shape, diagonal, upper):
    r, c = shape[-2], shape[-1]
    m = np.arange(c)[None, :] - np.arange(r)[:, None]
    return (m >= diagonal) if upper else (m <= diagonal)


def tril(input, diagonal=0):
    """Lower triangle of the last two dims (the rest zeroed)."""
    if input._data.ndim < 2:
        raise RuntimeError("tril: input tensor must have at least 2 dimensions")
    from .._creation import _wrap_np
    from .elementwise import where
    return where(_wrap_np(_tri_mask(input.shape, diagonal, False)), input,
                 _zero_of(input))


def triu(input, diagonal=0):
    if input._data.ndim < 2:
        raise RuntimeError("triu: input tensor must have at least 2 dimensions")
    from .._creation import _wrap_np
    from .elementwise import where
    return where(_wrap_np(_tri_mask(input.shape, diagonal, True)), input, _zero_of(input))


def _zero_of(input):
    return False if input._data.dtype == np.bool_ else (0 if input._data.dtype.kind in "iu"
                                                        else 0.0)


def diagonal(input, offset=0, dim1=0, dim2=1):
    nd = input._data.ndim
    d1, d2 = _norm_dim(dim1, nd, "diagonal"), _norm_dim(dim2, nd, "diagonal")
    x = movedim(input, (d1, d2), (nd - 2, nd - 1))
    r, c = x.shape[-2], x.shape[-1]
    rows = np.arange(builtins.max(0, -offset), builtins.min(r, c - offset))
    from .._creation import _wrap_np
    return x[..., _wrap_np(rows), _wrap_np(rows + offset)]


def diag(input, diagonal=0):
    if input._data.ndim == 1:
        n = input.shape[0] + builtins.abs(diagonal)
        from .._creation import zeros
        out = zeros(n, n, dtype=input.dtype)
        i = np.arange(input.shape[0])
        r, c = (i, i + diagonal) if diagonal >= 0 else (i - diagonal, i)
        from .index import index_put
        from .._creation import _wrap_np
        return index_put(out, (_wrap_np(r), _wrap_np(c)), input)
    return globals()["diagonal"](input, diagonal)


def trace(input):
    return diagonal(input).sum()


def meshgrid(*tensors, indexing="ij"):
    tensors = list(tensors[0]) if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)) \
        else list(tensors)
    if indexing == "xy" and len(tensors) >= 2:
        tensors[0], tensors[1] = tensors[1], tensors[0]
    shape = tuple(t.numel() for t in tensors)
    outs = []
    for i, t in enumerate(tensors):
        s = [1] * len(tensors)
        s[i] = -1
        outs.append(expand(t.reshape(tuple(s)), shape))
    if indexing == "xy" and len(outs) >= 2:
        # 'xy' is 'ij' over (t1, t0, t2, ...) with the first two outputs swapped back
        outs[0], outs[1] = outs[1], outs[0]
    return tuple(outs)


def atleast_1d(x):
    return x.reshape(1) if x.ndim == 0 else x


def atleast_2d(x):
    return x.reshape(1, -1) if x.ndim < 2 else x
