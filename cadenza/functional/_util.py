"""Helpers shared by the functional composites: argument normalisation, reductions, checks."""
from __future__ import annotations

import functools

from .._tensor_base import TensorBase as Tensor, _make
from ..errors import ShapeError, DTypeError, fmt_shape
from ..autograd.node import relabel, replace_saved, saves
from ..ops.inplace import check_inplace, commit_inplace
from ..ops._registry import is_low
from ..ops.views import in_format_of

__all__ = [
    "legacy_reduction", "reduce_loss", "check_reduction", "check_tensor", "check_float",
    "check_same_shape", "check_ndim", "ntuple", "inplace_result", "is_half",
    "keeps_channels_last", "conv_node", "one_node",
]

_REDUCTIONS = ("mean", "sum", "none")


# float16 or bfloat16: composites whose squares or sums overflow those (300 * 300 > 65504)
# compute in float32 and round once, as PyTorch's kernels do (the primitives' own test)
is_half = is_low


def legacy_reduction(size_average, reduce, reduction):
    """Map the deprecated size_average / reduce flags onto ``reduction`` (as torch does)."""
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if not reduce:
        return "none"
    return "mean" if size_average else "sum"


def reduce_loss(loss: Tensor, reduction: str, op: str) -> Tensor:
    """Apply ``reduction`` ('mean', 'sum' or 'none') to an elementwise loss."""
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"{op}: expected reduction in {_REDUCTIONS}, got {reduction!r}")


def check_reduction(reduction, op, extra=()):
    if reduction not in _REDUCTIONS + tuple(extra):
        raise ValueError(f"{op}: expected reduction in {_REDUCTIONS + tuple(extra)}, "
                         f"got {reduction!r}")


def check_tensor(x, op, name="input"):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected {name} to be a Tensor, got {type(x).__name__}")


def check_float(x, op, name="input"):
    check_tensor(x, op, name)
    if not x.is_floating_point():
        raise DTypeError(f"{op}: expected a floating point {name}, got {x.dtype.name}")


def check_same_shape(a, b, op, an="input", bn="target"):
    if tuple(a.shape) != tuple(b.shape):
        raise ShapeError(f"{op}: expected {bn}.shape == {an}.shape, got {an} "
                         f"{fmt_shape(a.shape)} and {bn} {fmt_shape(b.shape)}")


def check_ndim(x, ndims, op, what):
    if x.ndim not in ndims:
        raise ShapeError(f"{op}: expected {what}, got {fmt_shape(x.shape)}")


def ntuple(v, n, name, op):
    """An int or a sequence of n ints -> a tuple of n ints."""
    if isinstance(v, bool):
        raise TypeError(f"{op}: expected {name} to be an int or a tuple of {n} ints, got {v!r}")
    if isinstance(v, int):
        return (v,) * n
    v = tuple(int(x) for x in v)
    if len(v) == 1:
        return v * n
    if len(v) != n:
        raise ValueError(f"{op}: expected {name} to be an int or a tuple of {n} ints, got {v}")
    return v


def inplace_result(input, out, op):
    """Write ``out`` into ``input`` (``inplace=True`` variants) and return input."""
    check_inplace(input, op)
    if input._requires_grad and out.grad_fn is not None:
        _snapshot_saved_input(input, out.grad_fn)
    return commit_inplace(input, out)


def _snapshot_saved_input(x, root):
    """The composite that computed ``out`` from ``x`` may have saved ``x`` in any of its nodes
    (commit_inplace snapshots only the last node's): point them all at one copy of x's value
    before the write, so backward reads that value instead of failing the version check."""
    stop, old = x.grad_fn, None
    seen, todo = set(), [root]
    while todo:
        node = todo.pop()
        if node is None or node is stop or id(node) in seen:
            continue
        seen.add(id(node))
        todo.extend(node.next)
        if not saves(node, x):
            continue
        if old is None:
            # clone (an op, not a NumPy copy) so that a trace records where the value comes from
            old = _make(x.detach().clone()._data, x._requires_grad, x.grad_fn)
            old._accum = x._accum
        replace_saved(node, x, old)


def keeps_channels_last(operands=1, node=None):
    """torch's output layout for the image ops (convolution, pooling, batch and group norm,
    interpolation): channels-last (channels_last_3d) when one of the first ``operands``
    arguments (input, and weight for a convolution) is laid out so (``ops.in_format_of``).
    ``node(out, *args, **kwargs)``: (torch's name for the op's one autograd node, the inputs
    it shows) or None, for ``relabel`` of the laid-out result."""
    def wrap(fn):
        @functools.wraps(fn)
        def fn_cl(*args, **kwargs):
            out = fn(*args, **kwargs)
            inputs = args[:operands]
            if isinstance(out, tuple):
                return tuple(in_format_of(o, inputs, every=False) for o in out)
            out = in_format_of(out, inputs, every=False)
            shown = node(out, *args, **kwargs) if node is not None and \
                out.grad_fn is not None else None
            return out if shown is None else relabel(out, *shown)
        return fn_cl
    return wrap


def one_node(name, mean_at_one=False):
    """keeps_channels_last's ``node`` of an op torch records as one node ``name`` over its
    input; ``mean_at_one``: an adaptive average pool to size 1, a mean in torch."""
    def node(out, input, size=None, *args, **kwargs):
        size = kwargs.get("output_size", size)
        if mean_at_one and all(s == 1 for s in (size if isinstance(size, (tuple, list))
                                                 else (size,))):
            return "MeanBackward1", (input,)
        return name, (input,)
    return node


def conv_node(out, input, weight, bias=None, *args, **kwargs):
    """keeps_channels_last's ``node`` of a batched convolution: torch's one node."""
    if out.ndim != input.ndim:
        return None
    return "ConvolutionBackward0", (input, weight, kwargs.get("bias", bias))
