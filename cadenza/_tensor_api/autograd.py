"""Tensor's autograd methods: backward, hooks, retain_grad."""
from __future__ import annotations

import warnings
import weakref

from .._dispatch import state as _grad_state
from .._tensor_base import _make
from ..autograd.engine import backward as _backward
from ..autograd.node import _RETAIN_HOOK, _Handle, grad_node


class AutogradMethods:
    __slots__ = ()

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Accumulate d(self)/d(leaf) into each leaf's ``.grad``."""
        _backward((self,), (gradient,), retain_graph, create_graph, inputs)

    def register_hook(self, hook):
        """hook(grad) -> Tensor or None, called with the gradient w.r.t. this tensor."""
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        return grad_node(self).add_prehook(hook)

    def register_post_accumulate_grad_hook(self, hook):
        if self.grad_fn is not None:
            raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf "
                               "tensors")
        node = grad_node(self)
        if node.post_hooks is None:
            node.post_hooks = []

        def call(_gi, _go, _h=hook, _ref=node.variable_ref):
            t = _ref()
            if t is not None:
                _h(t)
        node.post_hooks.append(call)
        return _Handle(node.post_hooks, call)

    @property
    def output_nr(self) -> int:
        """Which output of the op that made it this tensor is (the k-th view of split/chunk/
        unbind while grad is recorded; 0 otherwise)."""
        meta = self._view
        if type(meta) is tuple and type(meta[1]) is tuple and meta[1][0] == "multi":
            return meta[1][2]
        return 0

    @property
    def volatile(self) -> bool:
        """Removed in torch 0.4: always False (with torch's warning)."""
        warnings.warn("volatile was removed (Variable.volatile is always False)", UserWarning,
                      stacklevel=2)
        return False

    @volatile.setter
    def volatile(self, value):
        warnings.warn("volatile was removed and now has no effect. Use `with torch.no_grad():` "
                      "instead.", UserWarning, stacklevel=2)

    def retain_grad(self):
        if not self._requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self.grad_fn is None or self._retains_grad:
            return
        self._retains_grad = True
        ref = weakref.ref(self)

        def keep(grad):
            t = ref()
            if t is not None:
                g = grad if _grad_state.grad_enabled else grad.detach()
                if t.grad is None:
                    t.grad = _make(g._data.copy()) if not _grad_state.grad_enabled else g
                else:
                    t.grad = t.grad + g
            return None
        self.grad_fn.add_prehook(keep, _RETAIN_HOOK)
