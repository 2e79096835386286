"""GEMM epilogues: a matrix product (``matmul``, ``linear`` with its bias) whose only reader is
an elementwise kernel over the product's own shape becomes one node, ``GemmEpilogue``, that runs
the product and then the kernel on it while it is still in cache, writing the kernel's result
into the product's buffer (no second array of that size, one node call fewer).

What it catches in training steps: the activation after a layer (``linear`` -> ``relu``,
``linear`` -> ``gelu``), and in the backward pass the activation's gradient mask applied to the
incoming gradient's product (``(g @ W) * (h > 0)``, ``gelu_backward(g @ W, x)``).

Exactness: the node computes exactly what the two nodes computed (the same product call, the
same generated kernel), so compiled results keep their bits. The NumPy interpreter runs the
members one by one, like any fused node.
"""
from __future__ import annotations

import numpy as np

from ..ir import Fused, Graph, fused_node, node_index
from .fuse_elementwise import fusable

PRODUCTS = ("matmul", "linear")
VIEWS = ("reshape", "view")       # of a fresh C-contiguous product: views of its buffer


class GemmEpilogue(Fused):
    """A fused node's op: ``product`` (a matmul/linear node), the ``views`` reshaping its value
    (``reshape``/``view`` nodes, each reading the one before: a linear over the rows of a
    (batch, time, features) input returns to 3-d), then ``epilogue`` (an elementwise ``Fused``
    kernel reading the last of these values). ``members`` lists them in that order (what the
    interpreter runs); ``inputs`` are the product's operands then the kernel's other inputs;
    ``outputs`` are the kernel's."""
    __slots__ = ("product", "views", "epilogue")

    def __init__(self, product, views: list, epilogue: Fused, index: int = 0):
        inputs = list(product.uses())
        seen = {v.id for v in inputs} | {(views[-1] if views else product).out.id}
        for v in epilogue.inputs:
            if v.id not in seen:
                seen.add(v.id)
                inputs.append(v)
        super().__init__([product] + views + list(epilogue.members), inputs,
                         list(epilogue.outputs), epilogue.shape, index=index)
        self.product = product
        self.views = views
        self.epilogue = epilogue

    @property
    def label(self) -> str:      # the profile's name for it (graph.interpret.Profile)
        return f"{self.product.op_name}+epilogue"

    @property
    def name(self) -> str:
        return f"fused_gemm_{self.product.op_name}_{self.index}"


def _kernel(k):
    """Node ``k``'s elementwise kernel: its own, or a one-member kernel for a lone elementwise
    node (fuse_elementwise leaves those unfused below its size threshold; as an epilogue it
    costs no extra call) whose C lowering gives NumPy's bits (not libm's tanh or exp: the node
    ran in NumPy before, and compiled float64 steps stay equal to eager)."""
    if isinstance(k.op, Fused):
        ok = not isinstance(k.op, GemmEpilogue) and k.op.reduction is None
        return k.op if ok else None
    if fusable(k) and k.op.c_exact:
        return Fused([k], k.uses(), [k.out], k.out.shape)
    return None


def _only_reader(v, nodes, consumers, graph_outs):
    """The position of the one node reading value ``v`` (None: several, none, an output)."""
    uses = set(consumers.get(v.id, ()))
    return uses.pop() if len(uses) == 1 and v.id not in graph_outs else None


def _epilogue(p, nodes, consumers, graph_outs):
    """(views, kernel node position, kernel) when product node ``p``'s value, through a chain
    of reshapes each read once, is read only by an elementwise kernel over its shape."""
    v = p.out
    if v.dtype not in (np.float32, np.float64) or v.order is not None or len(v.shape) < 2:
        return None
    views = []
    j = _only_reader(v, nodes, consumers, graph_outs)
    while j is not None and nodes[j].op_name in VIEWS and nodes[j].out.order is None:
        views.append(nodes[j])
        v = nodes[j].out
        j = _only_reader(v, nodes, consumers, graph_outs)
    kernel = None if j is None else _kernel(nodes[j])
    if kernel is None or kernel.shape != v.shape or any(u.order is not None
                                                         for u in kernel.outputs):
        return None
    return views, j, kernel


def run(graph: Graph) -> Graph:
    g = graph.copy()
    nodes = g.nodes
    consumers = node_index(nodes)[1]
    graph_outs = {v.id for v in g.outputs}
    removed, replaced = set(), {}      # product positions; kernel position -> epilogue node
    for i, p in enumerate(nodes):
        if p.op_name not in PRODUCTS or isinstance(p.op, str):
            continue
        got = _epilogue(p, nodes, consumers, graph_outs)
        if got is None or got[1] in replaced:
            continue
        views, j, kernel = got
        # the product and its views move to the kernel's position: its operands are defined
        # before it already, and no node in between reads its value (the chain's one reader)
        removed.add(i)
        removed.update(nodes.index(w) for w in views)
        replaced[j] = fused_node(GemmEpilogue(p, views, kernel), nodes[j].src)
    if not replaced:
        return g
    g.nodes = [replaced.get(i, n) for i, n in enumerate(nodes) if i not in removed]
    for j, k in enumerate(n.op for n in g.nodes if isinstance(n.op, Fused)):
        k.index = j
    return g
