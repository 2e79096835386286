"""Graph nodes of the dynamic graph. A Node is one recorded op application: the op, its
attributes, what backward needs (saved inputs/output, checked against version counters), and
edges to the nodes that produced its inputs (``next``). Edges point at nodes, not tensors, so an
in-place op that re-bases a tensor onto a new node does not rewrite earlier history."""
from __future__ import annotations

import weakref

from .._tensor_base import _make


class Node:
    __slots__ = ("op", "attrs", "next", "meta", "saved", "versions", "out_data", "out_version",
                 "pre_hooks", "post_hooks", "src", "freed", "__weakref__")

    def __init__(self, op, attrs, next_, meta):
        self.op = op
        self.attrs = attrs
        self.next = next_
        self.meta = meta
        self.saved = ()
        self.versions = ()
        self.out_data = None
        self.out_version = None
        self.pre_hooks = None
        self.post_hooks = None
        self.src = None
        self.freed = False

    # --- what backward rules read -------------------------------------------------------
    @property
    def out(self):
        """The op's output as a Tensor in this graph (so create_graph sees it)."""
        t = _make(self.out_data, True, self)
        t._vc = self.out_version[0]
        return t

    def shape(self, i: int):
        return self.meta[i][0]

    # --- PyTorch's grad_fn surface -------------------------------------------------------
    def name(self) -> str:
        name_for = getattr(self.op, "node_name_for", None)
        return name_for(self.attrs) if name_for is not None else self.op.node_name

    @property
    def next_functions(self):
        return tuple((n, 0) for n in self.next)

    def register_hook(self, fn):
        """fn(grad_inputs, grad_outputs) after this node ran."""
        if self.post_hooks is None:
            self.post_hooks = []
        self.post_hooks.append(fn)
        return _Handle(self.post_hooks, fn)

    def register_prehook(self, fn):
        """fn(grad_output) -> new grad or None, before this node runs."""
        if self.pre_hooks is None:
            self.pre_hooks = []
        hooks = self.pre_hooks
        if hooks and getattr(hooks[-1], "_retains_grad", False) and \
                not getattr(fn, "_retains_grad", False):
            hooks.insert(len(hooks) - 1, fn)  # retain_grad sees the final gradient, as in torch
        else:
            hooks.append(fn)
        return _Handle(hooks, fn)

    def __repr__(self) -> str:
        return f"<{self.name()} object at {hex(id(self))}>"


class AccumulateGrad(Node):
    """The sink of a leaf tensor: adds the incoming gradient into ``tensor.grad``."""
    __slots__ = ("variable_ref",)

    class _Op:
        node_name = "AccumulateGrad"

    def __init__(self, tensor):
        super().__init__(AccumulateGrad._Op, None, (), ((tensor._data.shape, tensor._data.dtype),))
        self.variable_ref = weakref.ref(tensor)

    @property
    def variable(self):
        return self.variable_ref()


def grad_node(t):
    """The node a gradient for tensor ``t`` flows into: its grad_fn, or its leaf's sink."""
    if t.grad_fn is not None:
        return t.grad_fn
    acc = t._accum
    if acc is None:
        acc = t._accum = AccumulateGrad(t)
    return acc


class _Handle:
    """What register_hook returns: ``handle.remove()`` unregisters."""

    def __init__(self, container, item, key=None):
        self.container, self.item, self.key = container, item, key

    def remove(self):
        c = self.container
        if isinstance(c, dict):
            c.pop(self.key, None)
        elif self.item in c:
            c.remove(self.item)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
