"""``torch.autograd.graph``: the graph's nodes as a public type, hooks on the tensors an op
saves for backward, and hooks over several tensors' gradients.

``saved_tensors_hooks(pack, unpack)``: every tensor an op (or a custom Function's
``save_for_backward``) saves for backward while the context is on goes through ``pack`` when it
is saved, and the node keeps only what ``pack`` returned; the node's backward reads
``unpack(packed)``, each time it runs (``retain_graph``). The innermost context wins; both hooks
run with grad mode off; the version check of saved tensors does not apply (the hooks own the
values), as in torch. ``save_on_cpu`` is such a pair that keeps the values in host memory.

>>> import cadenza as torch
>>> seen = []
>>> a = torch.ones(3, requires_grad=True)
>>> with torch.autograd.graph.saved_tensors_hooks(lambda x: (seen.append("pack"), x)[1],
...                                                lambda x: (seen.append("unpack"), x)[1]):
...     y = (a * a).sum()
>>> y.backward()
>>> seen
['pack', 'pack', 'unpack', 'unpack']
"""
from __future__ import annotations

import contextlib
from .._dispatch import state
from .._tensor_base import TensorBase as Tensor
from .node import GradientEdge, Node, grad_node
from .engine import queue_callback

__all__ = ["Node", "GradientEdge", "get_gradient_edge", "saved_tensors_hooks", "save_on_cpu",
           "disable_saved_tensors_hooks", "register_multi_grad_hook", "increment_version"]

_stack: list = []   # the (pack, unpack) pairs of the saved_tensors_hooks contexts now on


def _top_changed():
    state.saved_hooks = _stack[-1] if _stack else None


class saved_tensors_hooks:
    """Context manager: ``pack_hook(tensor) -> anything`` runs when an op saves ``tensor`` for
    backward, ``unpack_hook(packed) -> Tensor`` when backward needs it back."""

    def __init__(self, pack_hook, unpack_hook):
        self.pack_hook = pack_hook
        self.unpack_hook = unpack_hook

    def __enter__(self):
        if state.saved_hooks_off is not None:
            raise RuntimeError(state.saved_hooks_off)
        _stack.append((self.pack_hook, self.unpack_hook))
        _top_changed()
        return self

    def __exit__(self, *exc):
        for i in range(len(_stack) - 1, -1, -1):
            if _stack[i][0] is self.pack_hook and _stack[i][1] is self.unpack_hook:
                del _stack[i]
                break
        _top_changed()
        return False


class save_on_cpu(saved_tensors_hooks):
    """Saved tensors live in host memory until backward, which moves each back to its device
    (``pin_memory`` is accepted; host memory here is ordinary memory)."""

    def __init__(self, pin_memory: bool = False, device_type: str = "cuda"):
        def pack_to_cpu(tensor):
            return tensor.device, tensor.cpu()

        def unpack_from_cpu(packed):
            device, tensor = packed
            return tensor.to(device, non_blocking=pin_memory)

        super().__init__(pack_to_cpu, unpack_from_cpu)


@contextlib.contextmanager
def _hooks_suspended():
    """No saved_tensors_hooks inside (activation checkpointing keeps its region's saved
    tensors itself, as torch's own hooks there replace the user's)."""
    prev = state.saved_hooks
    state.saved_hooks = None
    try:
        yield
    finally:
        state.saved_hooks = prev


@contextlib.contextmanager
def disable_saved_tensors_hooks(error_message: str):
    """Inside, entering ``saved_tensors_hooks`` raises RuntimeError(error_message); entering it
    while such hooks are on raises the same."""
    prev = state.saved_hooks_off
    if state.saved_hooks is not None:
        raise RuntimeError(error_message)
    try:
        state.saved_hooks_off = error_message
        yield
    finally:
        state.saved_hooks_off = prev


def increment_version(tensor) -> None:
    """Bump the version counter of ``tensor`` (or of each tensor of an iterable), as an
    in-place write does: a backward that saved it then refuses the changed value."""
    for t in (tensor,) if isinstance(tensor, Tensor) else tensor:
        t._vc[0] += 1


def get_gradient_edge(tensor) -> GradientEdge:
    """The edge the gradient of ``tensor`` flows into (its grad_fn, or its leaf's
    AccumulateGrad)."""
    if not tensor.requires_grad:
        raise RuntimeError("It is not possible to get the gradient edge for a Tensor that does "
                           "not require gradients")
    return GradientEdge(grad_node(tensor), 0)


class _MultiHandle:
    def __init__(self, handles):
        self.handles = handles

    def remove(self):
        for h in self.handles:
            h.remove()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def register_multi_grad_hook(tensors, fn, *, mode: str = "all"):
    """``mode="all"``: ``fn(grads)`` once per backward, after the gradients of ``tensors``
    that this backward computes are known (None for the others); ``mode="any"``:
    ``fn(grad)`` with the first of them computed, once per backward."""
    if mode not in ("all", "any"):
        raise ValueError(f"Expects mode to be one of ('all', 'any') but got {mode}")
    tensors = tuple(tensors)
    grads = [None] * len(tensors)
    status = {"queued": False, "fired": False}

    def finish():
        status["queued"] = status["fired"] = False
        if mode == "all":
            got = tuple(grads)
            grads[:] = [None] * len(tensors)
            fn(got)

    def make_hook(i):
        def hook(g):
            if not status["queued"]:
                status["queued"] = True
                queue_callback(finish)
            if mode == "any":
                if not status["fired"]:
                    status["fired"] = True
                    fn(g)
            else:
                grads[i] = g
        return hook

    return _MultiHandle([t.register_hook(make_hook(i)) for i, t in enumerate(tensors)
                         if t.requires_grad])
