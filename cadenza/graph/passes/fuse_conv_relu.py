"""conv2d -> relu as one node: a ``conv2d`` whose only reader is a ``relu`` becomes a
``conv2d_relu`` node (ops/conv.py's Conv2dRelu) writing relu's value. The per-image C kernel
(backend/ckernels_conv.py) applies the ReLU in each image's bias pass, while the image's output
is in cache: no separate kernel reading and writing the whole activation again (W4's first
layer: 6.4 MB each way per step), one node and one buffer fewer.

Exact: the node adds the bias to the product as conv2d does, then takes max(v, 0) with NumPy's
rule (NaN stays, -0 gives +0), the value relu computed from conv2d's output: compiled float64
steps stay bitwise equal to eager. Runs before fuse_elementwise (which would take the relu into
a kernel of its own).
"""
from __future__ import annotations

from collections import Counter

import numpy as np

from ...ops.conv import Conv2d, Conv2dRelu
from ...ops.unary import Relu
from ..ir import Graph, Node, Value


def run(graph: Graph) -> Graph:
    g = graph.copy()
    uses = Counter(u.id for n in g.nodes for u in n.uses())
    uses.update(v.id for v in g.outputs)
    producer = {n.out.id: n for n in g.nodes}
    replace: dict[int, Node] = {}
    dropped: set[int] = set()
    for n in g.nodes:
        if n.op is not Relu or len(n.inputs) != 1 or n.attrs or n.out.order is not None:
            continue
        v = n.inputs[0]
        if not isinstance(v, Value) or uses[v.id] != 1 or v.order is not None:
            continue
        p = producer.get(v.id)
        if p is None or p.op is not Conv2d or v.dtype not in (np.float32, np.float64) or \
                n.out.dtype != v.dtype or n.out.shape != v.shape:
            continue
        replace[n.out.id] = Node(Conv2dRelu, list(p.inputs), dict(p.attrs), n.out, n.src)
        dropped.add(v.id)
    if not replace:
        return g
    g.nodes = [replace.get(n.out.id, n) for n in g.nodes if n.out.id not in dropped]
    return g
