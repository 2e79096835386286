"""User-defined differentiable functions: subclass ``cadenza.autograd.Function`` with static
``forward(ctx, *args)`` and ``backward(ctx, *grads)``, call ``MyFn.apply(...)``."""
from __future__ import annotations

import numpy as np

from .grad_mode import state
from .node import Node, _pack_one, _unpack_one, grad_node
from .._tensor_base import TensorBase as Tensor, _make


class FunctionCtx:
    """The ``ctx`` passed to forward/backward: save_for_backward, saved_tensors,
    needs_input_grad, mark_non_differentiable, set_materialize_grads."""

    def __init__(self):
        self.to_save = ()
        self._saved_versions = ()
        self._packed = None
        self.needs_input_grad = ()
        self.non_differentiable = set()
        self.materialize_grads = True
        self.dirty = ()

    def save_for_backward(self, *tensors):
        self.to_save = tensors
        self._saved_versions = tuple(t._vc[0] if isinstance(t, Tensor) else None
                                     for t in tensors)

    def _pack_saved(self):
        """saved_tensors_hooks are on as the Function's node is made: pack what forward saved
        (unpacked on each read of ``saved_tensors``)."""
        if state.saved_hooks_off is not None:
            raise RuntimeError(state.saved_hooks_off)
        pack, unpack = state.saved_hooks
        prev = state.grad_enabled
        state.grad_enabled = False
        try:
            packed = tuple((True, _pack_one(pack, t)) if isinstance(t, Tensor) else (False, t)
                           for t in self.to_save)
        finally:
            state.grad_enabled = prev
        self.to_save, self._saved_versions = (), ()
        self._packed = (unpack, packed)

    @property
    def saved_tensors(self):
        if self._packed is not None:
            unpack, packed = self._packed
            prev = state.grad_enabled
            state.grad_enabled = False
            try:
                return tuple(_unpack_one(unpack, p) if is_t else p for is_t, p in packed)
            finally:
                state.grad_enabled = prev
        for t, v in zip(self.to_save, self._saved_versions):
            if isinstance(t, Tensor) and t._vc[0] != v:
                raise RuntimeError("one of the variables needed for gradient computation has "
                                   "been modified by an inplace operation (saved by a custom "
                                   f"autograd.Function): version {t._vc[0]}, expected {v}")
        return self.to_save

    def mark_non_differentiable(self, *tensors):
        self.non_differentiable.update(id(t) for t in tensors)

    def mark_dirty(self, *tensors):
        self.dirty = tensors

    def set_materialize_grads(self, value: bool):
        self.materialize_grads = value


class _FunctionOp:
    """Adapts one call of a Function subclass to the engine's op protocol. With several
    differentiable outputs, the nodes of outputs 1.. feed into output 0's node: they stash
    their gradient in ``shared`` and pass zeros on, so output 0's node runs last and calls the
    user's backward once with every output's gradient."""

    def __init__(self, fn_cls, ctx, out_index, shared, first=False):
        self.fn_cls = fn_cls
        self.ctx = ctx
        self.name = fn_cls.__name__
        self.node_name = fn_cls.__name__ + "Backward"
        self.out_index = out_index   # position among all of forward's outputs
        self.first = first
        self.shared = shared

    def backward(self, node, g):
        sh = self.shared
        if not self.first:
            sh["grads"][self.out_index] = g
            shape, dt = sh["out_meta"][sh["first"]]
            return (_make(np.zeros(shape, dtype=dt)),)
        grads = list(sh["grads"])
        sh["grads"] = [None] * len(grads)  # retain_graph: a later backward starts afresh
        grads[self.out_index] = g
        # one gradient per forward output (torch): zeros for unused and non-differentiable
        # tensor outputs (None without materialize_grads), None for non-tensor outputs
        for i, gi in enumerate(grads):
            if gi is None and self.ctx.materialize_grads and sh["out_meta"][i] is not None:
                shape, dt = sh["out_meta"][i]
                grads[i] = _make(np.zeros(shape, dtype=dt))
        res = self.fn_cls.backward(self.ctx, *grads)
        if not isinstance(res, tuple):
            res = (res,)
        n_in = len(node.next)
        if len(res) < n_in:
            raise RuntimeError(f"function {self.node_name} returned an incorrect number of "
                               f"gradients (expected {n_in}, got {len(res)})")
        return tuple(res[:n_in])


class Function:
    """Base class for custom autograd operations."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("You must implement the forward function for custom "
                                  "autograd.Function.")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("You must implement either the backward or vjp method for "
                                  "your custom autograd.Function to use it with backward mode "
                                  "AD.")

    vjp = backward

    @staticmethod
    def setup_context(ctx, inputs, output):
        """Overridden (torch 2's style): ``forward`` takes no ctx and this fills it from the
        inputs and the output; not overridden: ``forward(ctx, ...)`` does it."""
        raise NotImplementedError("setup_context is not implemented.")

    @classmethod
    def apply(cls, *args, **kwargs):
        ctx = FunctionCtx()
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a._requires_grad for a in args)
        separate = cls.setup_context is not Function.setup_context
        prev = state.grad_enabled
        state.grad_enabled = False
        try:
            out = cls.forward(*args, **kwargs) if separate else cls.forward(ctx, *args, **kwargs)
            if separate:
                cls.setup_context(ctx, args, out)
        finally:
            state.grad_enabled = prev
        if not (prev and any(ctx.needs_input_grad)):
            return out
        outs = out if isinstance(out, tuple) else (out,)
        diff = [isinstance(o, Tensor) and id(o) not in ctx.non_differentiable
                and o.is_floating_point() for o in outs]
        shared = {"grads": [None] * len(outs), "first": diff.index(True) if any(diff) else 0,
                  "out_meta": [(o._data.shape, o._data.dtype) if isinstance(o, Tensor) else None
                               for o in outs]}
        nxt = [grad_node(a) if isinstance(a, Tensor) and a._requires_grad else None
               for a in args]
        meta = [(a._data.shape, a._data.dtype) if isinstance(a, Tensor) else None
                for a in args]
        result, first, k = [], None, 0
        for pos, (o, d) in enumerate(zip(outs, diff)):
            if not d:
                result.append(o)
                continue
            if any(o is a for a in args):
                o = o.detach()  # returning an input: a new tensor aliasing it
            op = _FunctionOp(cls, ctx, pos, shared, first=k == 0)
            if k == 0:
                node = first = Node(op, None, nxt, meta)
            else:
                node = Node(op, None, [first], [shared["out_meta"][shared["first"]]])
            o.grad_fn = node
            o._requires_grad = True
            result.append(o)
            k += 1
        if state.saved_hooks is not None and ctx.to_save:
            ctx._pack_saved()
        return tuple(result) if isinstance(out, tuple) else result[0]


def builtins_sum(xs):
    return sum(1 for x in xs if x)


class once_differentiable:
    """Decorator kept for API compatibility: backward runs without recording either way
    unless create_graph is used."""

    def __new__(cls, fn):
        return fn
