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


class GemmEpilogue(Fused):
    """A fused node's op: ``product`` (a matmul/linear node) followed by ``epilogue`` (an
    elementwise ``Fused`` kernel reading the product's value). ``members`` lists the product
    then the kernel's members (what the interpreter runs); ``inputs`` are the product's
    operands then the kernel's other inputs; ``outputs`` are the kernel's."""
    __slots__ = ("product", "epilogue")

    def __init__(self, product, epilogue: Fused, index: int = 0):
        inputs = list(product.uses())
        seen = {v.id for v in inputs}
        for v in epilogue.inputs:
            if v.id != product.out.id and v.id not in seen:
                seen.add(v.id)
                inputs.append(v)
        super().__init__([product] + list(epilogue.members), inputs, list(epilogue.outputs),
                         epilogue.shape, index=index)
        self.product = product
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


def _epilogue(p, k, graph_outs):
    """The kernel of node ``k`` when it may run as product node ``p``'s epilogue, else None."""
    v = p.out
    if v.dtype not in (np.float32, np.float64) or v.order is not None or len(v.shape) < 2 \
            or v.id in graph_outs:
        return None
    kernel = _kernel(k)
    if kernel is None or kernel.shape != v.shape or any(u.order is not None
                                                         for u in kernel.outputs):
        return None
    return kernel


def run(graph: Graph) -> Graph:
    g = graph.copy()
    nodes = g.nodes
    consumers = node_index(nodes)[1]
    graph_outs = {v.id for v in g.outputs}
    removed, replaced = set(), {}      # product positions; kernel position -> epilogue node
    for i, p in enumerate(nodes):
        if p.op_name not in PRODUCTS or isinstance(p.op, str):
            continue
        uses = consumers.get(p.out.id, [])
        if len(set(uses)) != 1:
            continue
        j = uses[0]
        kernel = None if j in replaced else _epilogue(p, nodes[j], graph_outs)
        if kernel is None:
            continue
        # the product moves to the kernel's position: its operands are defined before it
        # already, and no node in between reads its value (the kernel is its only reader)
        removed.add(i)
        replaced[j] = fused_node(GemmEpilogue(p, kernel), nodes[j].src)
    if not replaced:
        return g
    g.nodes = [replaced.get(i, n) for i, n in enumerate(nodes) if i not in removed]
    for j, k in enumerate(n.op for n in g.nodes if isinstance(n.op, Fused)):
        k.index = j
    return g
