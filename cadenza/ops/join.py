"""Joining and splitting along a dim: the cat primitive and stack, narrow, split, chunk,
unbind, select, meshgrid over it and the views."""
from __future__ import annotations

import builtins

import numpy as np

from ._registry import Op, register, apply, _vmap_depth
from .._dispatch import state as _state
from .._tensor_base import TensorBase as Tensor, _norm_dim, _make
from ..errors import ShapeError, fmt_shape
from .views import expand, unsqueeze, in_format_of
from ..autograd.views import mark_multi_output
from ..autograd.node import relabel
from ..dtypes import result_type
from .._creation import writes_out

__all__ = ["cat", "chunk", "concat", "concatenate", "hstack", "meshgrid", "narrow",
           "select", "split", "stack", "tensor_split", "unbind", "vstack",
           # issue 10
           "hsplit", "vsplit", "dsplit", "split_with_sizes", "unsafe_split", "unsafe_chunk",
           "unsafe_split_with_sizes", "narrow_copy"]



@register
class Cat(Op):
    name, kind, saves = "cat", "shape", "none"

    @staticmethod
    def onnx(ctx, node, out):
        nd = len(node.out.shape)
        ctx.node("Concat", [ctx.name(v) for v in node.inputs], out,
                 axis=int(node.attrs.get("dim", 0)) % nd)

    @staticmethod
    def forward(xp, *arrs, dim=0):
        nd = arrs[0].ndim if arrs else 0
        if nd == 0:
            return xp.concatenate(arrs, axis=dim)      # let NumPy raise its error
        # NumPy lays the result out like its (maybe transposed) inputs; writing into a C-order
        # array keeps the later reshapes views and the kernels' inputs contiguous
        d = dim % nd
        shape = list(arrs[0].shape)
        dt = arrs[0].dtype   # (cat() has promoted the tensors: one dtype, as a rule)
        n, mixed = 0, False
        for a in arrs:
            if a.ndim != nd:
                return xp.concatenate(arrs, axis=dim)      # let NumPy raise its error
            n += a.shape[d]
            mixed = mixed or a.dtype != dt
        shape[d] = n
        if mixed:
            dt = xp.result_type(*arrs)
        out = xp.empty(shape, dtype=dt)
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


# ----------------------------------------------------------------------------- public functions
@writes_out
def cat(tensors, dim=0, *, out=None):
    """Concatenate along an existing dim (dtypes promoted, empty 1-d tensors skipped)."""
    tensors = [t for t in tensors]
    if not tensors:
        raise RuntimeError("cat(): expected a non-empty list of Tensors")
    nonempty = []
    dt0 = tensors[0]._data.dtype
    mixed = False
    for i, t in enumerate(tensors):
        a = t._data
        if a.ndim == 0:
            raise RuntimeError(f"cat(): zero-dimensional tensor (at position {i}) cannot be "
                               f"concatenated")
        if a.ndim != 1 or a.shape[0]:
            nonempty.append(t)
        mixed = mixed or a.dtype != dt0
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
    if mixed:
        rt = result_type(*tensors)
        tensors = [t.to(rt) for t in tensors]
    if len(tensors) == 1:
        return tensors[0]
    out = apply(Cat, *tensors, dim=d)
    if ref._data.ndim in (4, 5) and not ref._data.flags["C_CONTIGUOUS"]:
        out = in_format_of(out, tensors)   # channels-last inputs: a channels-last result
    return out


concat = concatenate = cat


@writes_out
def stack(tensors, dim=0, *, out=None):
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    shp = tuple(tensors[0].shape)
    dim = _norm_dim(dim, len(shp) + 1, "stack")   # torch checks dim before the shapes
    for i, t in enumerate(tensors):
        if tuple(t.shape) != shp:
            raise ShapeError(f"stack: expected each tensor to be equal size, but got "
                             f"{fmt_shape(shp)} at entry 0 and {fmt_shape(t.shape)} at entry {i}")
    if _state.plain and not _vmap_depth[0] and _unrecorded_host(tensors):
        # nothing records the call (a batch of samples, no grad): one Cat of the arrays seen
        # with the new dim, without an unsqueeze op per tensor (64 tensors: ~8x faster)
        shape = shp[:dim] + (1,) + shp[dim:]
        return apply(Cat, *[_make(t._data.reshape(shape)) for t in tensors], dim=dim)
    return relabel(cat([unsqueeze(t, dim) for t in tensors], dim), "StackBackward0", tensors)


def _unrecorded_host(tensors) -> bool:
    """Whether ``tensors`` are C-contiguous NumPy arrays of one dtype that no op records
    (grad off, or none requires grad, nor a base of theirs)."""
    dt = tensors[0]._data.dtype
    grad = _state.grad_enabled
    for t in tensors:
        a = t._data
        if type(a) is not np.ndarray or a.dtype != dt or not a.flags.c_contiguous or grad and (
                t._requires_grad or (t._base is not None and t._base._requires_grad)):
            return False
    return True


def hstack(tensors):
    tensors = [t.reshape(1) if t.ndim == 0 else t for t in tensors]   # atleast_1d
    return cat(tensors, 0 if tensors and tensors[0].ndim == 1 else 1)


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
    out = _pieces(tensor, d, sizes)
    # torch's split outputs may not be written in place while grad is recorded
    name = "Split" if isinstance(split_size_or_sections, (int, np.integer)) else \
        "SplitWithSizes"
    mark_multi_output(out, name)
    for t in out:
        relabel(t, name + "Backward0", (tensor,))   # (torch's node of all the pieces)
    return out


def _pieces(tensor, d, sizes):
    out, start = [], 0
    for s in sizes:
        out.append(narrow(tensor, d, start, s))
        start += s
    return tuple(out)


def _sections_arg(name, given, sections, indices, tensor_form=None):
    """torch's overloads of the split functions: the count or the split points positionally,
    or by name as ``sections=`` / ``indices=`` (/ ``tensor_indices_or_sections=``)."""
    named = [v for v in (sections, indices, tensor_form) if v is not None]
    if len(named) + (given is not None) != 1:
        raise TypeError(f"{name}() expected one of indices_or_sections, sections or indices")
    return given if given is not None else named[0]


def tensor_split(input, indices_or_sections=None, dim=0, *, sections=None, indices=None,
                 tensor_indices_or_sections=None):
    indices_or_sections = _sections_arg("tensor_split", indices_or_sections, sections, indices,
                                        tensor_indices_or_sections)
    if input.ndim == 0:
        raise RuntimeError("tensor_split expected at least a 1-dimensional tensor, but got a "
                           "tensor with 0 dims")
    d = _norm_dim(dim, input._data.ndim, "tensor_split")
    n = input.shape[d]
    if isinstance(indices_or_sections, int):
        k = indices_or_sections
        if k <= 0:
            raise RuntimeError(f"tensor_split: number of sections must be larger than 0, got {k}")
        q, r = divmod(n, k)
        sizes = [q + 1] * r + [q] * (k - r)
        return _pieces(input, d, sizes)   # (torch's tensor_split gives ordinary views)
    # piece j is input[..., i_(j-1):i_j] with Python's slice rules (negative, descending and
    # out-of-range indices give the pieces a slice would, empty ones included)
    bounds = [0] + [int(i) for i in indices_or_sections] + [n]
    out = []
    for a, b in zip(bounds[:-1], bounds[1:]):
        r = builtins.range(n)[a:b]
        out.append(narrow(input, d, r.start if len(r) else 0, len(r)))
    return tuple(out)


def chunk(input, chunks, dim=0):
    if chunks <= 0:  # (-n // 0 would raise a bare ZeroDivisionError); checked first as torch
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    d = _norm_dim(dim, input._data.ndim, "chunk")
    n = input.shape[d]
    if n == 0:   # torch hands back `chunks` empty pieces
        return tuple(input.narrow(d, 0, 0) for _ in range(chunks))
    return split(input, -(-n // chunks), d)


def unbind(input, dim=0):
    d = _norm_dim(dim, input._data.ndim, "unbind")
    out = tuple(select(input, d, i) for i in range(input.shape[d]))
    mark_multi_output(out, "Unbind")
    for t in out:
        relabel(t, "UnbindBackward0", (input,))
    return out


def select(input, dim, index):
    d = _norm_dim(dim, input._data.ndim, "select")
    return input[(slice(None),) * d + (int(index),)]


def meshgrid(*tensors, indexing="ij"):
    tensors = list(tensors[0]) if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)) \
        else list(tensors)
    for t in tensors:
        if t.ndim > 1:
            raise RuntimeError(f"torch.meshgrid: Expected 0D or 1D tensor in the tensor list "
                               f"but got a tensor of shape {fmt_shape(t.shape)}")
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


# --- issue 10: the NumPy-style splits and split's other names
def _split_along(name, input, sections, dim, min_ndim):
    if input._data.ndim < min_ndim:
        raise RuntimeError(f"torch.{name} requires a tensor with at least {min_ndim} dimension"
                           f"{'s' if min_ndim > 1 else ''}, but got a tensor with "
                           f"{input._data.ndim} dimensions!")
    if isinstance(sections, (int, np.integer)):
        n = input.shape[dim]
        if sections == 0 or n % sections:
            raise RuntimeError(f"torch.{name} attempted to split along dimension {dim}, but "
                               f"the size of the dimension {n} is not divisible by the "
                               f"split_size {sections}!")
    return tensor_split(input, sections, dim)


def hsplit(input, indices_or_sections=None, *, sections=None, indices=None):
    indices_or_sections = _sections_arg("hsplit", indices_or_sections, sections, indices)
    return _split_along("hsplit", input, indices_or_sections, 0 if input.ndim == 1 else 1, 1)


def vsplit(input, indices_or_sections=None, *, sections=None, indices=None):
    indices_or_sections = _sections_arg("vsplit", indices_or_sections, sections, indices)
    return _split_along("vsplit", input, indices_or_sections, 0, 2)


def dsplit(input, indices_or_sections=None, *, sections=None, indices=None):
    indices_or_sections = _sections_arg("dsplit", indices_or_sections, sections, indices)
    return _split_along("dsplit", input, indices_or_sections, 2, 3)


def split_with_sizes(input, split_sizes, dim=0):
    return split(input, [int(s) for s in split_sizes], dim)


def unsafe_split(input, split_size, dim=0):
    return split(input, split_size, dim)


def _split_method(self, split_size, dim=0):
    """``Tensor.split``: torch names the method's parameter ``split_size`` (the function's is
    ``split_size_or_sections``); sizes or a list of sizes alike."""
    return split(self, split_size, dim)


unsafe_chunk = chunk
unsafe_split_with_sizes = split_with_sizes


def narrow_copy(input, dim, start, length):
    return narrow(input, dim, start, length).clone()


# ----------------------------------------------------------------------------- Tensor methods
class JoinMethods:
    """cadenza.Tensor's methods for this module's functions (``x.f(...)`` is ``f(x, ...)``,
    in-place ``x.f_(...)`` commits it into x); ``cadenza/_tensor.py`` composes them."""
    __slots__ = ()

    # --- Tensor methods (issue 10)
    hsplit = hsplit
    vsplit = vsplit
    dsplit = dsplit
    split_with_sizes = split_with_sizes
    unsafe_split = unsafe_split
    unsafe_chunk = unsafe_chunk
    unsafe_split_with_sizes = unsafe_split_with_sizes
    narrow_copy = narrow_copy
    # --- end issue 10

    narrow = narrow
    split = _split_method
    tensor_split = tensor_split
    chunk = chunk
    unbind = unbind
    select = select
