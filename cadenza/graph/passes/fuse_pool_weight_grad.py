"""A one-channel convolution's weight gradient through 2x2 max pooling, in float32 graphs:
``conv2d_weight_grad(max_pool2d_backward(g, r, p), x)`` becomes one
``conv2d_pooled_weight_grad(g, r, p, x)`` node (ops/pool.py's Conv2dPooledWeightGrad) and the
bias gradient ``conv2d_bias_grad(max_pool2d_backward(...))`` becomes ``conv2d_bias_grad(g)``,
when those are the pool gradient's only readers (a CNN's first layer on grey images: its input
gradient is never needed). The full-size gradient (W4: 6.4 MB) is then never written, nor
read back twice: the C kernel makes each plane in cache as the pool's backward would.

Float32 only, within rounding: the bias gradient sums the pooled gradient (each of its
elements lands on exactly one element of the tiled windows, the others are +0) in another
order; the weight gradient is the direct kernel's own sum. Float64 graphs are left alone, so
compiled float64 steps stay bitwise equal to eager.
"""
from __future__ import annotations

from collections import defaultdict

from ...ops.conv import Conv2dBiasGrad, Conv2dWeightGrad
from ...ops.pool import Conv2dPooledWeightGrad, MaxPool2dBackward, pooled_weight_grad_fits
from ..ir import Graph, Node, Value


def run(graph: Graph) -> Graph:
    g = graph.copy()
    readers = defaultdict(list)
    for n in g.nodes:
        for u in n.uses():
            readers[u.id].append(n)
    outputs = {v.id for v in g.outputs}
    replace: dict[int, Node] = {}
    dropped: set[int] = set()
    for pb in g.nodes:
        if pb.op is not MaxPool2dBackward or pb.out.id in outputs or pb.out.order is not None:
            continue
        gp, r, p = pb.inputs
        if not all(isinstance(v, Value) for v in (gp, r, p)) or \
                len({gp.dtype, r.dtype, p.dtype, pb.out.dtype}) != 1:
            continue
        users = readers[pb.out.id]
        wgrads = [n for n in users if n.op is Conv2dWeightGrad]
        if len(wgrads) != 1 or any(n.op not in (Conv2dWeightGrad, Conv2dBiasGrad)
                                   for n in users):
            continue
        wg = wgrads[0]
        x = wg.inputs[1]
        a = wg.attrs
        if wg.inputs[0].id != pb.out.id or not isinstance(x, Value) or \
                x.id == pb.out.id or x.dtype != r.dtype or wg.out.order is not None or \
                not pooled_weight_grad_fits(pb.attrs, r.shape, x.shape, a["kernel"],
                                            a["stride"], a["dilation"], r.dtype):
            continue
        replace[wg.out.id] = Node(Conv2dPooledWeightGrad, [gp, r, p, x], dict(a), wg.out,
                                  wg.src)
        for n in users:
            if n.op is Conv2dBiasGrad:
                replace[n.out.id] = Node(Conv2dBiasGrad, [gp], dict(n.attrs), n.out, n.src)
        dropped.add(pb.out.id)
    if not replace:
        return g
    g.nodes = [replace.get(n.out.id, n) for n in g.nodes if n.out.id not in dropped]
    return g
