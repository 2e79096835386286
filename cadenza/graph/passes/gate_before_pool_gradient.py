"""relu's gradient mask before max pooling's gradient: ``relu_backward(max_pool2d_backward(g,
r, p), r)``, where ``r`` is the pooled tensor (a ReLU's output: conv -> relu -> max_pool in a
CNN's backward pass), becomes ``max_pool2d_backward(relu_backward(g, p), r, p)``: the mask runs
over the pooled gradient (a quarter of the elements under 2x2 pooling) instead of a second
full-size pass over the unpooled one.

Exact: max_pool2d_backward writes each window's g at its winner, an element of r equal to the
window's p (NaN: a NaN element), and +0 elsewhere; relu_backward keeps a value where its mask
operand is > 0 or NaN, else +0. At a winner the mask reads r there, which is p: the same
decision both ways (where windows overlap, every window a position wins has that position's
value as its p, so the same terms are kept, summed in the same order); elsewhere both give +0.
So compiled float64 steps stay bitwise equal to eager.
"""
from __future__ import annotations

from collections import Counter

from ...ops.pool import MaxPool2dBackward
from ...ops.unary import ReluBackward
from ..ir import Graph, Node, Value


def run(graph: Graph) -> Graph:
    g = graph.copy()
    uses = Counter(u.id for n in g.nodes for u in n.uses())
    uses.update(v.id for v in g.outputs)
    producer = {n.out.id: n for n in g.nodes}
    replace: dict[int, list[Node]] = {}
    dropped: set[int] = set()
    for n in g.nodes:
        if n.op is not ReluBackward or len(n.inputs) != 2 or n.out.order is not None:
            continue
        grad, mask = n.inputs
        if not (isinstance(grad, Value) and isinstance(mask, Value)):
            continue
        pb = producer.get(grad.id)
        if pb is None or pb.op is not MaxPool2dBackward or uses[grad.id] != 1:
            continue
        gp, x, p = pb.inputs
        if not all(isinstance(v, Value) for v in (gp, x, p)) or x.id != mask.id or \
                len({gp.dtype, p.dtype, grad.dtype, n.out.dtype}) != 1 or gp.shape != p.shape:
            continue
        gated = g.new_value(gp.shape, gp.dtype)
        replace[n.out.id] = [Node(ReluBackward, [gp, p], {}, gated, n.src),
                             Node(MaxPool2dBackward, [gated, x, p], pb.attrs, n.out, pb.src)]
        dropped.add(pb.out.id)
    if not replace:
        return g
    nodes = []
    for n in g.nodes:
        if n.out.id not in dropped:
            nodes.extend(replace.get(n.out.id, [n]))
    g.nodes = nodes
    return g
