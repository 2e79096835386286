"""Hook handles and the full-backward-hook machinery used by ``Module``."""
from __future__ import annotations

import itertools
from collections import OrderedDict
import weakref

from ..._tensor import Tensor
from ...autograd.function import Function

__all__ = ["RemovableHandle", "add_hook", "wrap_backward_hooks"]

_ids = itertools.count()

# backward hooks every Module's call runs (torch.nn.modules.module.register_module_full_
# backward_hook / _pre_hook), before the module's own
global_backward_hooks: OrderedDict = OrderedDict()
global_backward_pre_hooks: OrderedDict = OrderedDict()


class RemovableHandle:
    """Returned by ``register_*_hook``: ``handle.remove()`` unregisters the hook; also a
    context manager that removes it on exit."""

    def __init__(self, hooks_dict, *extra_dicts):
        self.hooks_dict_ref = weakref.ref(hooks_dict)
        self.id = next(_ids)
        self.extra_dict_refs = tuple(weakref.ref(d) for d in extra_dicts)

    def remove(self) -> None:
        for ref in (self.hooks_dict_ref,) + self.extra_dict_refs:
            d = ref()
            if d is not None and self.id in d:
                del d[self.id]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def add_hook(hooks: dict, hook, prepend: bool = False, *extra_dicts) -> RemovableHandle:
    handle = RemovableHandle(hooks, *extra_dicts)
    hooks[handle.id] = hook
    if prepend:
        items = list(hooks.items())
        hooks.clear()
        hooks[handle.id] = hook
        hooks.update((k, v) for k, v in items if k != handle.id)
    return handle


def _tensors(xs):
    return [i for i, x in enumerate(xs) if isinstance(x, Tensor) and x.requires_grad]


def wrap_backward_hooks(module, args, call_forward):
    """Run ``call_forward(*args)`` so that after backward each full backward hook is called as
    ``hook(module, grad_input, grad_output)`` (grads w.r.t. the module's tensor inputs and
    outputs). Inputs and outputs go through identity autograd Functions that catch grads."""
    state = {"grad_output": None}

    def fire(grad_input):
        for hook in [*global_backward_hooks.values(), *module._backward_hooks.values()]:
            res = hook(module, grad_input, state["grad_output"])
            if res is not None:
                grad_input = tuple(res)
        return grad_input

    class _InputHook(Function):
        @staticmethod
        def forward(ctx, *xs):
            return tuple(x.detach() for x in xs)

        @staticmethod
        def backward(ctx, *grads):
            return tuple(fire(tuple(grads)))

    class _OutputHook(Function):
        @staticmethod
        def forward(ctx, *xs):
            return tuple(x.detach() for x in xs)

        @staticmethod
        def backward(ctx, *grads):
            for hook in [*global_backward_pre_hooks.values(),
                         *module._backward_pre_hooks.values()]:
                res = hook(module, tuple(grads))
                if res is not None:
                    grads = tuple(res)
            state["grad_output"] = tuple(grads)
            if not in_idx:
                fire((None,))
            return grads

    in_idx = _tensors(args)
    if in_idx:
        new = _InputHook.apply(*[args[i] for i in in_idx])
        args = list(args)
        for i, t in zip(in_idx, new):
            args[i] = t
        args = tuple(args)
    out = call_forward(*args)
    outs = out if isinstance(out, tuple) else (out,)
    out_idx = _tensors(outs)
    if not out_idx:
        return out
    new = _OutputHook.apply(*[outs[i] for i in out_idx])
    outs = list(outs)
    for i, t in zip(out_idx, new):
        outs[i] = t
    if isinstance(out, Tensor):
        return outs[0]
    return tuple(outs)
