"""Graph nodes of the dynamic graph. A Node is one recorded op application: the op, its
attributes, what backward needs (saved inputs/output, checked against version counters), and
edges to the nodes that produced its inputs (``next``). Edges point at nodes, not tensors, so an
in-place op that re-bases a tensor onto a new node does not rewrite earlier history."""
from __future__ import annotations

import weakref
from typing import NamedTuple

from .._dispatch import state
from .._tensor_base import TensorBase, _make

# node -> its ``metadata`` dict (made on first access: most nodes never have one)
_METADATA: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()

# the kinds of a node's pre-hooks, in the order they run (torch: the tensor's hooks, then
# retain_grad's, then the node's own register_prehook hooks)
_TENSOR_HOOK, _RETAIN_HOOK, _NODE_HOOK = 0, 1, 2


class _Freed(tuple):
    """The type of ``FREED``."""
    __slots__ = ()


# a node's ``saved`` once backward has freed what it saved (an empty tuple, known by identity)
FREED = _Freed()


class Node:
    # the fields every node sets are slots; the rarely set ones (hooks, the source line of
    # anomaly mode) are class-level defaults, written into an instance dict made on first
    # write: a node is made per op, so each field it need not store saves time on every op
    __slots__ = ("op", "attrs", "next", "meta", "saved", "versions", "out_data", "out_version",
                 "__dict__", "__weakref__")
    pre_hooks = None
    post_hooks = None
    src = None

    def __new__(cls, op=None, *args):
        # ``Node(op, ...)`` makes an instance of the subclass named as torch names op's node
        # (ops/_registry.py's hot path makes ``op.node_cls`` instances itself)
        if cls is Node:
            cls = node_class(torch_name(op.node_name))
        return object.__new__(cls)

    def __init__(self, op, attrs, next_, meta):
        # (ops/_registry.py's _record and number_dunder write these stores out: keep in step)
        self.op = op
        self.attrs = attrs
        self.next = next_
        self.meta = meta
        self.saved = ()
        self.versions = ()
        self.out_data = None
        self.out_version = None

    @property
    def freed(self) -> bool:
        """Whether backward freed what this node saved (a second backward raises)."""
        return self.saved is FREED

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
        """torch's name for this node (``MulBackward0``): its class's name."""
        return type(self).__name__

    @property
    def next_functions(self):
        return tuple((n, 0) for n in self.next)

    @property
    def metadata(self) -> dict:
        """A dict for the user's own data about this node (torch's ``Node.metadata``)."""
        d = _METADATA.get(self)
        if d is None:
            d = _METADATA[self] = {}
        return d

    def register_hook(self, fn):
        """``fn(grad_inputs, grad_outputs) -> None or new grad_inputs`` after this node ran
        (tuples, one entry per input and per output)."""
        if self.post_hooks is None:
            self.post_hooks = []
        self.post_hooks.append(fn)
        return _Handle(self.post_hooks, fn)

    def register_prehook(self, fn):
        """``fn(grad_outputs) -> None or new grad_outputs`` before this node runs (a tuple
        with one gradient per output), after the hooks of the tensor it produced."""
        def call(g, _fn=fn):
            r = _fn((g,))
            return None if r is None else r[0]
        return self.add_prehook(call, _NODE_HOOK)

    def add_prehook(self, fn, kind=_TENSOR_HOOK):
        """``fn(grad) -> None or new grad`` before this node runs: the engine's form of a
        pre-hook (one gradient, this node's output's). ``kind`` orders it among the others:
        the hooks of the output tensor, then retain_grad's, then the node's own."""
        if self.pre_hooks is None:
            self.pre_hooks = []
        hooks = self.pre_hooks
        fn._hook_kind = kind
        at = len(hooks)
        while at and getattr(hooks[at - 1], "_hook_kind", _TENSOR_HOOK) > kind:
            at -= 1
        hooks.insert(at, fn)
        return _Handle(hooks, fn)

    def __repr__(self) -> str:
        return f"<{self.name()} object at {hex(id(self))}>"


# the Node subclass of each node name (see node_class)
_NODE_CLASSES: dict = {}


def node_class(name: str, shown: bool = False) -> type:
    """The Node subclass called ``name`` (made once per name): a node's class is named as
    torch names its node (``type(t.grad_fn).__name__`` is ``MulBackward0``, as tools that draw
    the graph read it). ``shown``: the class of a composite op's output node (see relabel)."""
    cls = _NODE_CLASSES.get((name, shown))
    if cls is None:
        body = {"__slots__": (), "__module__": __name__}
        if shown:
            body["next_functions"] = property(_shown_next)
        cls = _NODE_CLASSES[(name, shown)] = type(name, (Node,), body)
    return cls


def torch_name(node_name: str) -> str:
    """torch's name for the node of an op whose node name the registry derived from the op's
    own name (``NegateBackward0`` -> ``NegBackward0``)."""
    return _TORCH_NAMES.get(node_name, node_name)


# registry node names (from the op names) -> torch's, where they differ
_TORCH_NAMES = {
    "LinearBackward0": "AddmmBackward0",            # (MmBackward0 without a bias)
    "Conv2dBackward0": "ConvolutionBackward0",
    "LayerNormBackward0": "NativeLayerNormBackward0",
    "BatchNormBackward0": "NativeBatchNormBackward0",
    "MaxPool2dBackward0": "MaxPool2DWithIndicesBackward0",
    "CastBackward0": "ToCopyBackward0",
    "ContiguousBackward0": "CloneBackward0",
    "ClampBackward0": "ClampBackward1",             # (torch's 0 takes tensor bounds)
}


class NodeClassOf:
    """An op class's ``node_cls``: the Node subclass its nodes are instances of, looked up on
    first use and then stored on the op class as a plain attribute (no per-op cost)."""

    def __get__(self, obj, owner):
        cls = node_class(torch_name(owner.node_name))
        setattr(owner, "node_cls", cls)
        return cls


def _shown_next(node):
    return node.shown_next


def relabel(t, name: str, inputs=None):
    """Give the node that made ``t`` torch's name for the op the user called (``name``): the
    output node of a composite (mean = sum / n) shows as ``MeanBackward0``; with ``inputs``
    (the composite's tensor arguments, None for a non-tensor one, or nodes) its
    next_functions show the nodes of those inputs, as torch's single node has, rather than
    the composite's inner nodes. An input may also be ``(name, inputs)``: a node torch has
    between (``("TBackward0", (weight,))`` below linear's ``AddmmBackward0``), shown only
    (never run; None when none of its inputs requires grad). The graph itself is unchanged.
    Returns ``t``."""
    node = t.grad_fn
    if node is None or type(node) is AccumulateGrad:
        return t
    if inputs is None:
        node.__class__ = node_class(name)
        return t
    nxt = _shown_edges(inputs, node)
    if nxt is None:
        return t
    node.__class__ = node_class(name, True)
    node.shown_next = nxt
    return t


def _shown_edges(inputs, node):
    """The (node, 0) pairs relabel shows for ``inputs``; None when one of them is ``node``."""
    nxt = []
    for a in inputs:
        if isinstance(a, Node):
            nxt.append((a, 0))
        elif isinstance(a, TensorBase) and a._requires_grad:
            g = grad_node(a)
            if g is node:   # the composite returned its input's own node: leave it as it is
                return None
            nxt.append((g, 0))
        elif isinstance(a, tuple) and len(a) == 2 and isinstance(a[0], str):
            inner = _shown_edges(a[1], node)
            if inner is None:
                return None
            if any(n is not None for n, _ in inner):
                shown = Node.__new__(node_class(a[0], True))
                Node.__init__(shown, None, None, (), ())
                shown.shown_next = inner
                nxt.append((shown, 0))
            else:
                nxt.append((None, 0))
        else:
            nxt.append((None, 0))
    return tuple(nxt)


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


class PackedSaved(tuple):
    """A node's saved inputs while ``saved_tensors_hooks`` packed them: the tuple of saved
    values with None where a packed one was, and (position, packed, id of the original) per
    packed input and the packed output (torch's SavedVariable with hooks). The engine calls
    ``unpack_into`` before the node's backward and ``restore`` after it (retain_graph); no
    version check, as in torch: the hooks own the values."""

    def __new__(cls, values, pack, unpack, entries, out):
        self = super().__new__(cls, values)
        self.pack, self.unpack, self.entries, self.out = pack, unpack, entries, out
        return self

    def unpack_into(self, node):
        prev = state.grad_enabled
        state.grad_enabled = False
        try:
            vals = list(self)
            for i, p, _ in self.entries:
                vals[i] = _unpack_one(self.unpack, p)
            node.saved = tuple(vals)
            if self.out is not None:
                o = _unpack_one(self.unpack, self.out)
                node.out_data = o._data
                node.out_version = (o._vc, o._vc[0])
        finally:
            state.grad_enabled = prev

    def restore(self, node):
        node.saved = self
        node.out_data = node.out_version = None

    def replace(self, x, old):
        """An in-place op is about to write into ``x``, packed here: pack ``old`` (a copy of
        its value now) in its place, so backward reads the value it saw."""
        self.entries = [(i, _pack_one(self.pack, old) if ident == id(x) else p, ident)
                        for i, p, ident in self.entries]


def _pack_one(pack, t):
    v = t._vc[0]
    r = pack(t)
    if t._vc[0] != v:
        raise RuntimeError("A saved tensor pack hook is modifying its input in place. Tensors "
                           "provided as input to pack hook cannot be modified by in-place "
                           "operations as this can lead to unexpected side-effects. Please open "
                           "an issue if you need to perform in-place operations on the input to "
                           "a pack hook.")
    return r


def _unpack_one(unpack, p):
    t = unpack(p)
    if not isinstance(t, TensorBase):
        raise TypeError("Output of saved tensor unpack_hook expected to be a Tensor but got "
                        f"result of type {type(t).__name__}")
    return t


def pack_saved(node, out):
    """Hand what ``node`` saved for backward (the inputs its backward reads, its output
    ``out``) to the innermost ``saved_tensors_hooks``' pack hook, keeping only the packed
    values (called when the node is recorded, while the hooks are on)."""
    if state.saved_hooks_off is not None:
        raise RuntimeError(state.saved_hooks_off)
    pack, unpack = state.saved_hooks
    saved, versions = node.saved, node.versions
    prev = state.grad_enabled
    state.grad_enabled = False
    try:
        values = list(saved)
        entries = []
        if versions:   # the positions backward reads (a version was taken for each)
            for i, s in enumerate(saved):
                if versions[i] is not None and isinstance(s, TensorBase):
                    entries.append((i, _pack_one(pack, s), id(s)))
                    values[i] = None
        packed_out = None
        if node.out_data is not None:
            packed_out = _pack_one(pack, out)
    finally:
        state.grad_enabled = prev
    if not entries and packed_out is None:
        return
    node.saved = PackedSaved(values, pack, unpack, entries, packed_out)
    # truthy, so the engine looks at the node before its backward; all None: nothing to check
    node.versions = (None,) * max(1, len(values))
    node.out_data = node.out_version = None


def replace_saved(node, x, old) -> None:
    """Point ``node``'s saved copies of ``x`` at ``old`` (the value x had before an in-place
    write), with its version counter."""
    saved = node.saved
    if type(saved) is PackedSaved:
        saved.replace(x, old)
        return
    node.versions = tuple(v if s is not x or v is None else old._vc[0]
                          for s, v in zip(saved, node.versions))
    node.saved = tuple(old if s is x else s for s in saved)


def saves(node, x) -> bool:
    """Whether ``node`` saved tensor ``x`` for its backward."""
    saved = node.saved
    if type(saved) is PackedSaved:
        return any(ident == id(x) for _, _, ident in saved.entries)
    return any(s is x for s in saved)


class GradientEdge(NamedTuple):
    """Where a gradient flows: a node and which of its outputs (``autograd.grad`` takes it as
    an input: the gradient that reaches that node)."""
    node: Node
    output_nr: int


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
