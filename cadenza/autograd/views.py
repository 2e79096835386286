"""Autograd history of views written in place, as PyTorch keeps it.

A view op's output (``y[:, 0]``, ``y.view(-1)``, ``y.t()``, ``y.diagonal()``...) records its
root ``_base`` (``link_view``). An in-place op on such a view with grad recorded gives the base
a new history (``rebase``): ``CopySlices`` (torch's name), base_new = base_old with the view's
elements replaced by the op's result, so gradients reach both the base's earlier history (every
element outside the view) and the op's inputs (through the view). Each base counts these
re-basings (its epoch, in the ``_view`` slot; a view's ``_view`` holds the epoch its
``grad_fn`` reflects and how it was created). A view whose base was re-based after its
``grad_fn`` was made (another view of the same base written in place, or the base itself) gets
a fresh history when an op next reads it (``view_grad_fn``): ``AsStridedBackward0`` of the
base's current history. Views created afterwards start from the new history directly.

PyTorch's refusals are kept (``check_view_inplace``): a view of a leaf that requires grad, a
view returned by a multi-output op (split, chunk, unbind) and a view created in no_grad mode
may not be modified in place while grad is recorded.

Positions: a view's elements are located in its base by their byte offsets (NumPy views of the
base's array), as flat C-order indices; the backward rules use only Tensor methods, so
``create_graph`` records them too.
"""
from __future__ import annotations

import numpy as np

from .._dispatch import state
from .._tensor_base import _make
from .node import Node, grad_node

NO_GRAD = "no_grad"


def _epoch(base) -> int:
    v = getattr(base, "_view", None)
    return v if type(v) is int else 0     # (a tuple: a view made a Parameter, now a base)


def _meta(view) -> tuple:
    """(epoch its grad_fn reflects, creation: None, NO_GRAD or ("multi", op, output))."""
    v = getattr(view, "_view", None)
    return v if type(v) is tuple else (0, None)


def link_view(t, src) -> None:
    """``t``, a view op's output, views ``src``'s memory: record its root base."""
    if src._base is None:
        base, creation = src, None
    else:
        base, creation = src._base, _meta(src)[1]
    t._base = base
    if not state.grad_enabled and base._requires_grad:
        creation = NO_GRAD
    ep = getattr(base, "_view", None)   # _epoch(base), inline: one call less per view op
    if type(ep) is not int:
        ep = 0
    if ep or creation is not None:
        t._view = (ep, creation)


def mark_multi_output(outs, name: str) -> None:
    """Views returned together by one op (split, chunk, unbind): not writable in place while
    grad is recorded (as torch)."""
    for i, t in enumerate(outs):
        if t._base is not None and t._base._requires_grad and state.grad_enabled:
            t._view = (_meta(t)[0], ("multi", name, i))


def check_view_inplace(view, op_name: str) -> None:
    """PyTorch's refusals for an in-place op on ``view`` (a view of a base requiring grad)
    with grad recorded."""
    base = view._base
    creation = _meta(view)[1]
    if creation == NO_GRAD:
        raise RuntimeError(
            f"{op_name}: A view was created in no_grad mode and is being modified inplace with "
            "grad mode enabled. Given that this use case is ambiguous and error-prone, it is "
            "forbidden. You can clarify your code by moving both the view and the inplace "
            "either both inside the no_grad block (if you don't want the inplace to be "
            "tracked) or both outside (if you want the inplace to be tracked).")
    if creation is not None:
        _, fn, k = creation
        raise RuntimeError(
            f"{op_name}: Output {k} of {fn} is a view and is being modified inplace. This view "
            "is the output of a function that returns multiple views. Such functions do not "
            "allow the output views to be modified inplace. You should replace the inplace "
            "operation by an out-of-place one.")
    if base.grad_fn is None:
        raise RuntimeError(f"{op_name}: a view of a leaf Variable that requires grad is being "
                           "used in an in-place operation.")


def positions(base_arr, view_arr):
    """Flat C-order indices into ``base_arr`` of each element of ``view_arr`` (a view of its
    memory), or None when the view is not made of whole base elements."""
    if type(base_arr) is not np.ndarray or type(view_arr) is not np.ndarray or \
            base_arr.dtype != view_arr.dtype:
        return None
    isz = base_arr.itemsize
    start = base_arr.__array_interface__["data"][0]
    offs = _offsets(view_arr, view_arr.__array_interface__["data"][0] - start)
    if base_arr.flags.c_contiguous:
        if offs.size and ((offs % isz).any() or offs.min() < 0 or
                          offs.max() >= base_arr.nbytes):
            return None
        return offs // isz
    flat = _offsets(base_arr, 0).reshape(-1)
    order = np.argsort(flat, kind="stable")
    pos = np.searchsorted(flat[order], offs.reshape(-1)).clip(0, max(flat.size - 1, 0))
    if flat.size == 0 or (flat[order][pos] != offs.reshape(-1)).any():
        return None if offs.size else offs
    return order[pos].reshape(view_arr.shape)


def _offsets(a, start: int):
    """Byte offset (from ``start``) of every element of ``a``."""
    o = np.full(a.shape, start, np.int64)
    for d, (n, st) in enumerate(zip(a.shape, a.strides)):
        shape = [1] * a.ndim
        shape[d] = n
        o += np.arange(n, dtype=np.int64).reshape(shape) * st
    return o


class CopySlices:
    """The history of a base after an in-place op on its view: inputs (base_old, op result);
    the gradient of base_new flows to base_old outside the view and to the result inside."""
    name = node_name = "CopySlices"

    @staticmethod
    def backward(ctx, grad):
        return grad.masked_fill(ctx.attrs["mask"], 0), grad.reshape(-1)[ctx.attrs["index"]]


class AsStridedBackward0:
    """A view's history regenerated from its base's: its elements' gradients are added into
    their base positions (several, for overlapping views such as unfold)."""
    name = node_name = "AsStridedBackward0"

    @staticmethod
    def backward(ctx, grad):
        shape = ctx.meta[0][0]
        z = grad.new_zeros(int(np.prod(shape, dtype=np.int64)))
        idx = ctx.attrs["index"].reshape(-1)
        return z.index_put((idx,), grad.reshape(-1), accumulate=True).reshape(shape)


class CopyBackwards:
    """The history of a tensor whose in-place op wrote values without history (``y.copy_(c)``
    with a constant c): no gradient reaches what it held before."""
    name = node_name = "CopyBackwards"

    @staticmethod
    def backward(ctx, grad):
        return (None,)


def discard_history(t) -> None:
    """``t`` (requiring grad) was overwritten by values without history, as torch records it:
    a view's base gets CopySlices with nothing behind the view's elements."""
    if t._base is not None and t._base._requires_grad:
        rebase(t, None, "in-place op")
        t.grad_fn, t._requires_grad = None, False
        t._view = (-1, _meta(t)[1])      # regenerated from the base on its next use
    else:
        t.grad_fn = Node(CopyBackwards, {}, [None], [(t._data.shape, t._data.dtype)])
        bump(t)


def rebase(view, node, op_name: str) -> None:
    """``view`` now holds the result of the op recorded as ``node`` (None: values without
    history): its base's history becomes CopySlices(base_old, node); views of the base made
    earlier are regenerated on use."""
    base = view._base
    idx = positions(base._data, view._data)
    if idx is None:
        raise RuntimeError(f"{op_name}: in-place modification of a view that does not consist "
                           "of whole elements of its base is not supported with autograd")
    if any(s == 0 and n > 1 for s, n in zip(view._data.strides, view._data.shape)):
        raise RuntimeError(f"{op_name}: unsupported operation: more than one element of the "
                           "written-to tensor refers to a single memory location. Please "
                           "clone() the tensor before performing the operation.")
    mask = np.zeros(base._data.shape, bool)
    mask.reshape(-1)[idx.reshape(-1)] = True
    prev = grad_node(base) if base._requires_grad else None
    b, v = base._data, view._data
    base.grad_fn = Node(CopySlices, {"index": _make(idx), "mask": _make(mask)}, [prev, node],
                        [(b.shape, b.dtype), (v.shape, v.dtype)])
    base._requires_grad = True
    bump(base)
    view._view = (_epoch(base), _meta(view)[1])


def bump(base) -> None:
    """``base``'s history changed (an in-place op with grad): earlier views are stale."""
    base._view = _epoch(base) + 1


def view_grad_fn(a):
    """``a.grad_fn`` for a view ``a``, regenerated from its base's current history when the base
    was re-based after ``a``'s history was made (None when ``a`` needs no gradient)."""
    base = a._base
    ep = _epoch(base)
    meta = _meta(a)
    if meta[0] == ep or meta[1] == NO_GRAD or not base._requires_grad:
        return a.grad_fn
    idx = positions(base._data, a._data)
    if idx is None:
        return a.grad_fn
    b = base._data
    a.grad_fn = Node(AsStridedBackward0, {"index": _make(idx)}, [grad_node(base)],
                     [(b.shape, b.dtype)])
    a._requires_grad = True
    a._view = (ep, meta[1])
    return a.grad_fn
