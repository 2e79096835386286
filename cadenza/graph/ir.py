"""The static graph IR of compiled mode: SSA, typed, printable (in the spirit of torch.fx's graph
and JAX's jaxpr).

- ``Value``: one SSA value, defined once, with a static shape and NumPy dtype.
- ``Node``: one definition. ``op`` is a registered primitive class (``cadenza.ops``) or one of
  the special kinds ``input`` (a graph input), ``const`` (an array baked into the graph),
  ``random`` (a call into a random creation function that draws from its generator at run time,
  in the recorded order, so results stay bit-identical to eager) and ``host`` (Python float maths
  on 0-d values, e.g. an optimizer's bias correction, evaluated at run time).
  ``inputs`` are Values or Python scalars; array-valued attributes that were traced (an index
  tensor inside ``getitem``'s ``index``) appear in ``attrs`` as ``Ref(i)``, pointing at
  ``inputs[i]``.
- ``Graph``: inputs, nodes in execution order, outputs (each with a label saying what the
  runtime does with it: return it, write it back into a tensor, set a ``.grad``).

``str(graph)`` prints one typed line per node, ``%7: f32[128, 512] = matmul(%3, %5)  # a.py:41``.
"""
from __future__ import annotations

import os
from collections import defaultdict
from typing import Any

import numpy as np

SPECIAL = ("input", "const", "random", "host")

_SHORT = {"float32": "f32", "float64": "f64", "float16": "f16", "bfloat16": "bf16",
          "int64": "i64", "int32": "i32", "int16": "i16", "int8": "i8", "uint8": "u8",
          "bool": "b8", "complex64": "c64", "complex128": "c128"}


def short_dtype(dtype) -> str:
    name = np.dtype(dtype).name
    return _SHORT.get(name, name)


class Value:
    """An SSA value: ``id``, static ``shape`` and ``dtype``, and the node defining it.

    ``order``: the memory order eager gave the value when it is a dense array that is not
    C-contiguous (``memory_order``): a ufunc keeps its operands' order (``x.T * 2`` is
    F-ordered), and NumPy reduces in memory order, so kernels write their outputs in the
    order eager had to sum them with the same bits. None: C order (or not dense)."""
    __slots__ = ("id", "shape", "dtype", "producer", "order")

    def __init__(self, id: int, shape: tuple, dtype, producer: "Node | None" = None,
                 order: "tuple | None" = None):
        self.id = id
        self.shape = tuple(int(s) for s in shape)
        self.dtype = np.dtype(dtype)
        self.producer = producer
        self.order = order

    @property
    def type(self) -> str:
        return f"{short_dtype(self.dtype)}[{', '.join(str(s) for s in self.shape)}]"

    def __repr__(self) -> str:
        return f"%{self.id}"


def memory_order(a) -> "tuple | None":
    """The axes of a dense array from outermost to innermost in memory, when that is not C
    order; None for a C-contiguous or non-dense array. A size-1 axis sits where its stride
    puts it (an array made in this order has the same strides, as torch reports them), or
    first when no place gives its stride."""
    nd = getattr(a, "ndim", 0)
    if nd < 2 or type(a) is not np.ndarray or a.flags.c_contiguous:
        return None
    shape, strides = a.shape, a.strides
    axes = sorted((d for d in range(nd) if shape[d] != 1), key=lambda d: -strides[d])
    acc = a.itemsize
    for d in reversed(axes):
        if strides[d] != acc:
            return None
        acc *= shape[d]
    ones = [d for d in range(nd) if shape[d] == 1]
    if not ones:
        return tuple(axes)
    order = [d for d in ones if not any(strides[d] == strides[e] for e in axes)]
    for e in axes:
        order.append(e)
        order += [d for d in ones if strides[d] == strides[e]]
    return tuple(order)


def dense_strides(shape: tuple, order: "tuple | None") -> list[int]:
    """Element strides of a dense array of ``shape`` laid out in ``order`` (None: C order);
    0 for size-1 dims."""
    nd = len(shape)
    strides, acc = [0] * nd, 1
    for d in reversed(order if order is not None else range(nd)):
        strides[d] = 0 if shape[d] == 1 else acc
        acc *= shape[d]
    return strides


def empty_in_order(shape: tuple, dtype, order: "tuple | None"):
    """An uninitialised array of ``shape`` laid out in ``order`` (None: C order)."""
    if order is None:
        return np.empty(shape, dtype)
    return np.empty([shape[d] for d in order], dtype).transpose(np.argsort(order))


class Ref:
    """A traced array inside an attribute: stands for ``node.inputs[index]``."""
    __slots__ = ("index",)

    def __init__(self, index: int):
        self.index = index

    def __repr__(self) -> str:
        return f"Ref({self.index})"

    def __eq__(self, other):
        return isinstance(other, Ref) and other.index == self.index

    def __hash__(self):
        return hash(("Ref", self.index))


class Node:
    """One definition: ``out = op(*inputs, **attrs)``; ``src`` is the user's file:line."""
    __slots__ = ("op", "inputs", "attrs", "out", "src", "name")

    def __init__(self, op, inputs: list, attrs: dict, out: Value, src: str = "", name: str = ""):
        self.op = op
        self.inputs = list(inputs)
        self.attrs = dict(attrs)
        self.out = out
        self.src = src
        self.name = name     # inputs: what the value is (``x``, ``fc1.weight``); random: function
        out.producer = self

    @property
    def kind(self) -> str:
        return self.op if isinstance(self.op, str) else self.op.kind

    @property
    def outs(self) -> tuple:
        """Every value this node defines: one, or several for a fused kernel."""
        return tuple(self.op.outputs) if isinstance(self.op, Fused) else (self.out,)

    @property
    def op_name(self) -> str:
        return self.op if isinstance(self.op, str) else self.op.name

    def uses(self) -> list:
        return [v for v in self.inputs if isinstance(v, Value)]

    def __repr__(self) -> str:
        return format_node(self)


class Fused:
    """The op of a fused node (made by the fusion passes): a kernel computing its ``members``
    (primitive nodes, in order) over one iteration space ``shape``, reading ``inputs`` (values
    defined outside) and writing ``outputs`` (members' values used outside). ``reduction`` is
    the member reduction node of a reduction kernel (its elementwise producers are the other
    members), None for an elementwise kernel. Codegen turns it into one C kernel; the NumPy
    interpreter runs its members one by one."""
    __slots__ = ("members", "inputs", "outputs", "shape", "reduction", "index", "kernel")

    def __init__(self, members: list, inputs: list, outputs: list, shape: tuple,
                 reduction: "Node | None" = None, index: int = 0):
        self.members = members
        self.inputs = inputs
        self.outputs = outputs
        self.shape = tuple(shape)
        self.reduction = reduction
        self.index = index
        self.kernel = None       # set by codegen: the compiled kernel, or None (NumPy)

    kind = "fused"

    @property
    def name(self) -> str:
        return f"fused_{'reduction' if self.reduction is not None else 'elementwise'}" \
            f"_{self.index}"


def fused_node(kernel: Fused, src: str = "") -> "Node":
    """The graph node running ``kernel``; every output value's producer is this node."""
    node = Node(kernel, list(kernel.inputs), {}, kernel.outputs[0], src)
    for v in kernel.outputs[1:]:
        v.producer = node
    return node


def node_index(nodes: list) -> tuple[dict, dict]:
    """(value id -> position of its defining node, value id -> positions of its users)."""
    producer: dict = {}
    consumers: dict = defaultdict(list)
    for i, n in enumerate(nodes):
        for v in n.outs:
            producer[v.id] = i
        for u in n.uses():
            consumers[u.id].append(i)
    return producer, consumers


class Graph:
    """Inputs, nodes in order, labelled outputs; ``str()`` prints it, ``to_dot()`` draws it."""

    def __init__(self):
        self.inputs: list[Value] = []
        self.nodes: list[Node] = []
        self.outputs: list[Value] = []
        self.output_labels: list[str] = []
        self.host_inputs: set = set()   # ids of inputs that are Python numbers (an lr), not data
        self._next = 0

    # ------------------------------------------------------------------ building
    def new_value(self, shape, dtype) -> Value:
        v = Value(self._next, shape, dtype)
        self._next += 1
        return v

    def add_node(self, op, inputs, attrs, shape, dtype, src="", name="") -> Value:
        v = self.new_value(shape, dtype)
        node = Node(op, inputs, attrs, v, src, name)
        self.nodes.append(node)
        if op == "input":
            self.inputs.append(v)
        return v

    def add_output(self, value: Value, label: str) -> None:
        self.outputs.append(value)
        self.output_labels.append(label)

    @property
    def constants(self) -> list[Node]:
        return [n for n in self.nodes if n.op == "const"]

    def copy(self) -> "Graph":
        """A shallow structural copy (new Node objects, same Values and attrs) for passes."""
        g = Graph()
        g._next = self._next
        g.inputs = list(self.inputs)
        for n in self.nodes:
            g.nodes.append(fused_node(n.op, n.src) if isinstance(n.op, Fused) else
                           Node(n.op, n.inputs, n.attrs, n.out, n.src, n.name))
        g.outputs = list(self.outputs)
        g.output_labels = list(self.output_labels)
        g.host_inputs = set(self.host_inputs)
        return g

    # ------------------------------------------------------------------ printing
    def __str__(self) -> str:
        lines = ["graph("]
        lines += ["    " + format_node(n) for n in self.nodes]
        outs = ", ".join(f"{lab}{v!r}" for v, lab in zip(self.outputs, self.output_labels))
        lines.append(f"    return ({outs})")
        lines.append(")")
        return "\n".join(lines)

    __repr__ = __str__

    def to_dot(self) -> str:
        """Graphviz text: one box per node, one edge per use."""
        out = ["digraph cadenza {", "  rankdir=TB;", '  node [shape=box, fontname="monospace"];']
        for n in self.nodes:
            label = f"%{n.out.id} {n.op_name}"
            if n.name:
                label += f" {n.name}"
            label += f"\\n{n.out.type}"
            style = {"input": ', style=filled, fillcolor="#dde8ff"',
                     "const": ', style=filled, fillcolor="#eeeeee"',
                     "random": ', style=filled, fillcolor="#ffe8cc"'}.get(n.op, "") \
                if isinstance(n.op, str) else ""
            out.append(f'  v{n.out.id} [label="{_dot_escape(label)}"{style}];')
            for u in n.uses():
                out.append(f"  v{u.id} -> v{n.out.id};")
        for i, (v, lab) in enumerate(zip(self.outputs, self.output_labels)):
            out.append(f'  o{i} [label="{_dot_escape(lab)}", shape=ellipse];')
            out.append(f"  v{v.id} -> o{i};")
        out.append("}")
        return "\n".join(out)


def _dot_escape(s: str) -> str:
    return s.replace('"', '\\"')


def format_attr(a: Any) -> str:
    if isinstance(a, np.ndarray):
        return f"<array {short_dtype(a.dtype)}[{', '.join(str(s) for s in a.shape)}]>"
    if isinstance(a, slice):
        parts = ["" if x is None else str(x) for x in (a.start, a.stop, a.step)]
        return ":".join(parts[:2]) if a.step is None else ":".join(parts)
    if a is Ellipsis:
        return "..."
    if isinstance(a, np.generic):
        return repr(a.item())
    if isinstance(a, tuple):
        inner = ", ".join(format_attr(x) for x in a)
        return f"({inner},)" if len(a) == 1 else f"({inner})"
    if isinstance(a, list):
        return "[" + ", ".join(format_attr(x) for x in a) + "]"
    if callable(a) and hasattr(a, "__name__"):
        code = getattr(a, "__code__", None)
        if a.__name__ == "<lambda>" and code is not None:
            return f"<lambda {os.path.basename(code.co_filename)}:{code.co_firstlineno}>"
        return a.__name__
    name = getattr(a, "name", None)
    if isinstance(name, str) and type(a).__name__ == "dtype":
        return name
    return repr(a)


def _format_input(x, node) -> str:
    if isinstance(x, Value):
        return repr(x)
    return format_attr(x)


def format_node(n: Node) -> str:
    if isinstance(n.op, Fused):
        return _format_fused(n)
    head = f"{n.out!r}: {n.out.type} = "
    if n.op == "input":
        body = f"input({n.name})"
    elif n.op == "const":
        arr = n.attrs["value"]
        body = f"const({arr.item()!r})" if arr.size == 1 and arr.ndim == 0 else \
            f"const({format_attr(arr)})"
    else:
        if n.op == "random":  # the creation call, with its traced tensor arguments
            args = [_fmt_with_refs(x, n) for x in n.attrs["args"]]
            args += [f"{k}={_fmt_with_refs(v, n)}" for k, v in n.attrs["kwargs"].items()]
        else:
            refs = {i for a in n.attrs.values() for i in _refs_in(a)}
            args = [_format_input(x, n) for i, x in enumerate(n.inputs) if i not in refs]
            shown = {k: v for k, v in n.attrs.items() if k != "fn"}
            args += [f"{k}={_fmt_with_refs(v, n)}" for k, v in shown.items()]
        name = n.op_name if n.op not in ("random", "host") else \
            f"{n.op}.{n.name or format_attr(n.attrs.get('fn'))}"
        body = f"{name}({', '.join(args)})"
    src = f"  # {n.src}" if n.src else ""
    return head + body + src


def _format_fused(n: Node) -> str:
    """``%7: f32[8], %9: f32[8] = fused_elementwise_0(%3, %5) {`` then one indented line per
    member and ``}``, so a printed graph still shows every primitive and its source line."""
    k = n.op
    head = ", ".join(f"{v!r}: {v.type}" for v in k.outputs)
    args = ", ".join(repr(v) for v in k.inputs)
    lines = [f"{head} = {k.name}({args}) {{"]
    lines += ["        " + format_node(m) for m in k.members]
    return "\n".join(lines) + "\n    }"


def _refs_in(a):
    if isinstance(a, Ref):
        yield a.index
    elif isinstance(a, (tuple, list)):
        for x in a:
            yield from _refs_in(x)
    elif isinstance(a, dict):
        for x in a.values():
            yield from _refs_in(x)


def _fmt_with_refs(a, n: Node) -> str:
    if isinstance(a, Ref):
        return repr(n.inputs[a.index])
    if isinstance(a, tuple):
        inner = ", ".join(_fmt_with_refs(x, n) for x in a)
        return f"({inner},)" if len(a) == 1 else f"({inner})"
    if isinstance(a, list):
        return "[" + ", ".join(_fmt_with_refs(x, n) for x in a) + "]"
    return format_attr(a)


def substitute_refs(a, arrays):
    """``a`` with every ``Ref(i)`` replaced by ``arrays[i]`` (attrs are small: tuples, lists)."""
    if isinstance(a, Ref):
        return arrays[a.index]
    if isinstance(a, tuple):
        return tuple(substitute_refs(x, arrays) for x in a)
    if isinstance(a, list):
        return [substitute_refs(x, arrays) for x in a]
    if isinstance(a, dict):
        return {k: substitute_refs(x, arrays) for k, x in a.items()}
    return a


def ref_filler(a):
    """A function ``fill(arrays)`` equal to ``substitute_refs(a, arrays)``, built once: only
    the parts of ``a`` that hold a Ref are rebuilt per call (an interpreter runs it on every
    replay: a decoding step's index writes and gathers)."""
    if isinstance(a, Ref):
        i = a.index
        return lambda arrays: arrays[i]
    if isinstance(a, (tuple, list, dict)):
        keys = range(len(a)) if not isinstance(a, dict) else list(a)
        base = list(a) if not isinstance(a, dict) else dict(a)
        fills = [(k, ref_filler(a[k])) for k in keys if next(_refs_in(a[k]), None) is not None]
        if not fills:
            return lambda arrays: a
        as_tuple = isinstance(a, tuple)     # as substitute_refs: plain tuple, list, dict

        def fill(arrays):
            out = base.copy()
            for k, f in fills:
                out[k] = f(arrays)
            return tuple(out) if as_tuple else out
        return fill
    return lambda arrays: a


def has_refs(attrs: dict) -> bool:
    return any(True for a in attrs.values() for _ in _refs_in(a))
