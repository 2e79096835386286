"""Padded sums to concatenation: ``pad(a) + pad(b) + pad(c)``, where the pads are zero padding
along one dimension placing a, b, c side by side over the whole result, becomes
``cat([a, b, c]) + 0``.

The pattern is the gradient of a tensor split into slices (``q, k, v = qkv.split(...)``): each
slice's backward pads its gradient to the full shape and autograd adds them. Eager writes
three full-size padded arrays and reads them back; the concatenation writes the result once.

When the sum's one consumer is a permute (the split was of a transposed view, as attention's
``qkv.view(B, T, 3H, D).transpose(1, 2)``), the parts are permuted first (views) and
concatenated along the permuted dimension: the result is then contiguous in the consumer's
layout and its following reshape is a view instead of a second copy.

Exact: every element of the sum is one slice's element plus zeros, ``x + 0 (+ 0)``, which is
``x`` except that -0.0 becomes +0.0; the kept ``+ 0`` does exactly that (and costs one pass,
fused into the consumers when they are elementwise).
"""
from __future__ import annotations

from collections import Counter

from ...ops.binary import Add
from ...ops.join import Cat
from ...ops.views import PadConstant
from ...ops.views import Permute
from ..ir import Graph, Node, Value


def _pad_axis(n: Node):
    """(axis, start, stop) of a zero pad along exactly one dimension, else None."""
    if n.op is not PadConstant or n.attrs.get("value", 0.0) != 0 or len(n.inputs) != 1:
        return None
    pads = n.attrs.get("pads", ())
    if len(pads) != len(n.out.shape):
        return None
    axes = [d for d, (b, e) in enumerate(pads) if b or e]
    if len(axes) != 1:
        return None
    d = axes[0]
    b, _ = pads[d]
    return d, b, b + n.inputs[0].shape[d]


def run(graph: Graph) -> Graph:
    g = graph.copy()
    uses = Counter(u.id for n in g.nodes for u in n.uses())
    uses.update(v.id for v in g.outputs)
    producer = {n.out.id: n for n in g.nodes}
    consumer = {u.id: n for n in g.nodes for u in n.uses()}   # (the last; used if only one)
    outputs = {v.id for v in g.outputs}
    replace: dict[int, list[Node]] = {}      # root add's value id -> its replacement nodes
    dropped: set[int] = set()

    def terms(v: Value, root: bool):
        """The zero pads an add tree sums, or None if it is anything else."""
        n = producer.get(v.id)
        if n is None or (not root and uses[v.id] != 1):
            return None
        if n.op is Add and len(n.inputs) == 2 and all(isinstance(x, Value) for x in n.inputs) \
                and n.inputs[0].shape == n.inputs[1].shape == n.out.shape \
                and n.inputs[0].dtype == n.inputs[1].dtype == n.out.dtype:
            left, right = terms(n.inputs[0], False), terms(n.inputs[1], False)
            if left is None or right is None:
                return None
            return left + right + ([] if root else [n])
        pad = _pad_axis(n)
        return None if pad is None or root else [n]

    for n in g.nodes:
        if n.op is not Add or n.out.id in dropped:
            continue
        found = terms(n.out, True)
        if not found:
            continue
        pads = [m for m in found if m.op is PadConstant]
        axes = {_pad_axis(m) for m in pads}
        dims = {a[0] for a in axes}
        # (by span only: two pads of one span must not compare their nodes)
        spans = sorted(((a[1], a[2], m) for a, m in zip((_pad_axis(m) for m in pads), pads)),
                       key=lambda s: s[:2])
        if len(dims) != 1 or len(pads) < 2:
            continue
        d = dims.pop()
        covered = 0
        for start, stop, _ in spans:
            if start != covered:
                break
            covered = stop
        if covered != n.out.shape[d] or len(spans) != len(pads):
            continue
        if any(m.inputs[0].dtype != n.out.dtype for m in pads):
            continue
        parts = [m.inputs[0] for _, _, m in spans]
        target, new_nodes = n.out, []
        p = consumer.get(n.out.id)
        if p is not None and uses[n.out.id] == 1 and p.op is Permute and \
                n.out.id not in outputs:
            perm = [int(a) % len(n.out.shape) for a in p.attrs.get("dims", ())]
            views = []
            for x in parts:
                v = g.new_value(tuple(x.shape[a] for a in perm), x.dtype)
                new_nodes.append(Node(Permute, [x], {"dims": tuple(perm)}, v, p.src))
                views.append(v)
            parts, d, target = views, perm.index(d), p.out
            dropped.add(p.out.id)
        cat_v = g.new_value(target.shape, target.dtype)
        new_nodes.append(Node(Cat, parts, {"dim": d}, cat_v, n.src))
        zero = 0.0 if target.dtype.kind == "f" else 0
        new_nodes.append(Node(Add, [cat_v, zero], {}, target, n.src))
        replace[n.out.id] = new_nodes
        dropped.update(m.out.id for m in found)
    if not replace:
        return g
    nodes = []
    for n in g.nodes:
        if n.out.id in dropped:
            continue
        nodes.extend(replace.get(n.out.id, [n]))
    g.nodes = nodes
    return g
