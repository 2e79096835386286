"""``torch.utils.checkpoint``: activation checkpointing. ``checkpoint(fn, *args)`` runs ``fn``
keeping none of its intermediate activations and runs it again during backward to get them
back, trading compute for memory; ``checkpoint_sequential`` does it segment by segment.

Both of PyTorch's variants, with their semantics:
- ``use_reentrant=True`` (torch's old default, ``CheckpointFunction``): the forward runs under
  ``no_grad``; only the tensor arguments connect the output to the graph, so when none of them
  requires grad nothing inside gets a gradient (torch warns the same); backward recomputes and
  runs a nested ``backward``, which fills the ``.grad`` of parameters used inside; not
  meant for ``backward()`` (torch refuses ``autograd.grad`` here; Cadenza computes it).
- ``use_reentrant=False`` (recommended): the forward records its graph only long enough to find
  the leaf tensors (parameters) it reaches, then drops it; the output connects to the tensor
  arguments and those leaves, so parameters get gradients even when no input requires grad, and
  ``autograd.grad`` works; keyword arguments are passed through.
With ``preserve_rng_state`` (default) the recomputation draws the same random numbers
(dropout) as the first forward.

>>> import cadenza as torch
>>> lin = torch.nn.Linear(3, 3)
>>> x = torch.randn(2, 3, requires_grad=True)
>>> y = checkpoint(lambda v: lin(v).relu(), x, use_reentrant=False)
>>> y.sum().backward()
>>> lin.weight.grad.shape
cadenza.Size([3, 3])
"""
from __future__ import annotations

import contextlib
import warnings

from .._tensor import Tensor
from ..autograd.engine import backward as _backward, grad as _grad
from ..autograd.function import Function
from ..autograd.grad_mode import enable_grad, no_grad
from ..autograd.graph import _hooks_suspended
from ..autograd.node import AccumulateGrad, grad_node
from ..random import fork_rng, get_rng_state, set_rng_state

__all__ = ["checkpoint", "checkpoint_sequential", "CheckpointError", "CheckpointFunction",
           "check_backward_validity", "detach_variable", "noop_context_fn",
           "set_checkpoint_early_stop", "set_checkpoint_debug_enabled"]

class CheckpointError(RuntimeError):
    """A checkpointed function that did something checkpointing cannot replay."""


def noop_context_fn():
    """The default ``context_fn``: no context around the forward and the recomputation."""
    return contextlib.nullcontext(), contextlib.nullcontext()


def detach_variable(inputs):
    """Each tensor of the tuple ``inputs`` detached, keeping its ``requires_grad``."""
    if not isinstance(inputs, tuple):
        raise RuntimeError(f"Only tuple of tensors is supported. Got Unsupported input type: "
                           f"{type(inputs).__name__}")
    out = []
    for inp in inputs:
        if not isinstance(inp, Tensor):
            out.append(inp)
            continue
        x = inp.detach()
        x.requires_grad = inp.requires_grad
        out.append(x)
    return tuple(out)


def check_backward_validity(inputs) -> None:
    if not any(isinstance(i, Tensor) and i.requires_grad for i in inputs):
        warnings.warn("None of the inputs have requires_grad=True. Gradients will be None",
                      stacklevel=3)


@contextlib.contextmanager
def set_checkpoint_early_stop(enable: bool):
    """Accepted for compatibility: recomputation here always runs the whole function."""
    yield


@contextlib.contextmanager
def set_checkpoint_debug_enabled(enabled):
    yield


def _replay(run, rng_state):
    """Run ``run()`` with grad on and, when ``rng_state`` is given, the default generator put
    back to the state the first forward started from (restored afterwards)."""
    with fork_rng(enabled=rng_state is not None):
        if rng_state is not None:
            set_rng_state(rng_state)
        with enable_grad():
            return run()


def _as_tuple(out):
    return out if isinstance(out, tuple) else (out,)


def _grads_for(outputs, grad_outputs):
    """The (output, incoming gradient) pairs backward can flow through."""
    pairs = [(o, g) for o, g in zip(_as_tuple(outputs), grad_outputs)
             if isinstance(o, Tensor) and o.requires_grad]
    if not pairs:
        raise RuntimeError("none of output has requires_grad=True, this checkpoint() is not "
                           "necessary")
    return pairs


class CheckpointFunction(Function):
    """The reentrant variant (``use_reentrant=True``):
    ``CheckpointFunction.apply(run_function, preserve_rng_state, *args)``."""

    @staticmethod
    def forward(ctx, run_function, preserve_rng_state, *args):
        check_backward_validity(args)
        ctx.run_function = run_function
        ctx.rng_state = get_rng_state() if preserve_rng_state else None
        ctx.tensor_pos = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        ctx.inputs = list(args)
        ctx.save_for_backward(*(args[i] for i in ctx.tensor_pos))
        with no_grad():
            return run_function(*args)

    @staticmethod
    def backward(ctx, *grad_outputs):
        inputs = list(ctx.inputs)
        detached = detach_variable(tuple(ctx.saved_tensors))
        for i, d in zip(ctx.tensor_pos, detached):
            inputs[i] = d
        outputs = _replay(lambda: ctx.run_function(*inputs), ctx.rng_state)
        pairs = _grads_for(outputs, grad_outputs)
        _backward([o for o, _ in pairs], [g for _, g in pairs])
        return (None, None, *(x.grad if isinstance(x, Tensor) else None for x in inputs))


class _NonReentrant(Function):
    """The non-reentrant variant: its inputs are the tensor arguments and the leaves the
    function reached, its forward hands back outputs computed before (detached)."""

    @staticmethod
    def forward(ctx, job, *tensors):
        ctx.job = job
        ctx.save_for_backward(*tensors)
        outs = job["outputs"]
        job["outputs"] = None
        return outs

    @staticmethod
    def backward(ctx, *grad_outputs):
        job = ctx.job
        tensors = ctx.saved_tensors
        n_args = len(job["arg_pos"])
        detached = detach_variable(tuple(tensors[:n_args]))
        args = list(job["args"])
        for i, d in zip(job["arg_pos"], detached):
            args[i] = d
        leaves = tensors[n_args:]
        with _hooks_suspended():
            outputs = _replay(lambda: job["fn"](*args, **job["kwargs"]), job["rng_state"])
            pairs = _grads_for(outputs, grad_outputs)
            wrt = [t for t in (*detached, *leaves) if t.requires_grad]
            grads = iter(_grad([o for o, _ in pairs], wrt, [g for _, g in pairs],
                               allow_unused=True))
        return (None, *(next(grads) if t.requires_grad else None
                        for t in (*detached, *leaves)))


def _leaves_reached(outputs, stop):
    """The leaf tensors requiring grad that ``outputs``' graph reaches, not crossing the nodes
    in ``stop`` (the graph of the arguments, which the Function's own edges cover)."""
    seen, leaves = set(stop), []
    todo = [o.grad_fn for o in _as_tuple(outputs) if isinstance(o, Tensor)
            and o.grad_fn is not None]
    while todo:
        node = todo.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        if type(node) is AccumulateGrad:
            t = node.variable_ref()
            if t is not None:
                leaves.append(t)
            continue
        todo.extend(node.next)
    return leaves


def _non_reentrant(function, preserve, args, kwargs):
    with _hooks_suspended():   # the region's saved tensors are the checkpoint's business
        return _non_reentrant_run(function, preserve, args, kwargs)


def _non_reentrant_run(function, preserve, args, kwargs):
    rng_state = get_rng_state() if preserve else None
    arg_pos = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
    # the arguments' own nodes (a leaf argument's sink too) are covered by the Function's edges
    stop = {id(grad_node(args[i])) for i in arg_pos if args[i].requires_grad}
    with enable_grad():
        outputs = function(*args, **kwargs)
    leaves = _leaves_reached(outputs, stop)
    was_tuple = isinstance(outputs, tuple)
    detached = tuple(o.detach() if isinstance(o, Tensor) else o for o in _as_tuple(outputs))
    del outputs  # the forward's graph (its activations) goes now
    job = {"fn": function, "args": args, "kwargs": kwargs, "arg_pos": arg_pos,
           "rng_state": rng_state,
           "outputs": detached if was_tuple else detached[0]}
    return _NonReentrant.apply(job, *(args[i] for i in arg_pos), *leaves)


def checkpoint(function, *args, use_reentrant=None, context_fn=noop_context_fn,
               determinism_check="default", debug=False, early_stop=True, **kwargs):
    """``function(*args, **kwargs)`` without keeping its activations; they are recomputed in
    backward (see the module docstring for the two variants)."""
    if use_reentrant is None:
        warnings.warn("torch.utils.checkpoint: the use_reentrant parameter should be passed "
                      "explicitly. use_reentrant=False is recommended, but if you need to "
                      "preserve the current default behavior, you can pass "
                      "use_reentrant=True.", stacklevel=2)
        use_reentrant = True
    preserve = kwargs.pop("preserve_rng_state", True)
    if kwargs and use_reentrant:
        raise ValueError("Unexpected keyword arguments: " + ",".join(arg for arg in kwargs))
    if use_reentrant:
        if context_fn is not noop_context_fn or debug is not False:
            raise ValueError("Passing `context_fn` or `debug` is only supported when "
                             "use_reentrant=False.")
        return CheckpointFunction.apply(function, preserve, *args)
    return _non_reentrant(function, preserve, args, kwargs)


def checkpoint_sequential(functions, segments, input, use_reentrant=None, **kwargs):
    """Run a sequence of modules (or an ``nn.Sequential``) in ``segments`` chunks, each but the
    last checkpointed."""
    if use_reentrant is None:
        warnings.warn("torch.utils.checkpoint.checkpoint_sequential: the use_reentrant "
                      "parameter should be passed explicitly. use_reentrant=False is "
                      "recommended.", stacklevel=2)
        use_reentrant = True
    preserve = kwargs.pop("preserve_rng_state", True)
    if kwargs:
        raise ValueError("Unexpected keyword arguments: " + ",".join(arg for arg in kwargs))

    def run_function(start, end):
        def forward(x):
            for j in range(start, end + 1):
                x = functions[j](x)
            return x
        return forward

    if hasattr(functions, "children") and callable(functions.children):
        functions = list(functions.children())
    segment_size = len(functions) // segments
    end = -1
    for start in range(0, segment_size * (segments - 1), segment_size):
        end = start + segment_size - 1
        input = checkpoint(run_function(start, end), input, use_reentrant=use_reentrant,
                           preserve_rng_state=preserve)
    return run_function(end + 1, len(functions) - 1)(input)
