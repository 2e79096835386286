"""Padded sums to concatenation: ``pad(a) + pad(b) + pad(c)``, where the pads are zero padding
along one dimension placing a, b, c side by side over the whole result, becomes
``cat([a, b, c]) + 0``.

The pattern is the gradient of a tensor split into slices (``q, k, v = qkv.split(...)``): each
slice's backward pads its gradient to the full shape and autograd adds them. Eager writes
three full-size padded arrays and reads them back; the concatenation writes the result once.

When the sum's one consumer is a permute (the split was of a transposed view, as attention's
``qkv.view(B, T, 3H, D).transpose(1, 2)``), the parts are permuted first (views) and
concatenated along the permuted dimension: the result is then contiguous in the consumer's
layout (written in C order, not in the order eager's permuted view had) and its following
reshape is a view instead of a second copy.

When the parts are consecutive equal slices of one flat buffer (``reshape(flat[i*S:(i+1)*S])``,
attention's backward returning dq, dk and dv in one array), there is no concatenation at all:
the buffer viewed as ``(parts, *part)`` and permuted into place is read by the ``+ 0`` kernel
(one pass over the data instead of the concatenation's strided copy and the kernel's pass),
whose C-ordered result reshapes to the concatenation as a view. When that buffer is attention's
backward over the heads of one projection (``merges`` in ops/attention.py), the backward
writes it ``merged``, already in the concatenation's layout and + 0: the sum is a view of the
kernel's output, with no pass after it.

Exact: every element of the sum is one slice's element plus zeros, ``x + 0 (+ 0)``, which is
``x`` except that -0.0 becomes +0.0; the kept ``+ 0`` does exactly that (and costs one pass,
fused into the consumers when they are elementwise).
"""
from __future__ import annotations

import math
from collections import Counter

import numpy as np

from ...ops import attention
from ...ops.binary import Add
from ...ops.join import Cat
from ...ops.index import GetItem
from ...ops.views import PadConstant, Permute, Reshape
from ..ir import Graph, Node, Value, memory_order


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


def _slices_of_one_buffer(parts: list, producer: dict):
    """The flat value the parts are consecutive equal slices of (each part ``reshape(
    flat[i*S:(i+1)*S])``, together all of ``flat``), or None."""
    shape, flat = parts[0].shape, None
    size = math.prod(shape)
    for i, x in enumerate(parts):
        r = producer.get(x.id)
        if r is None or r.op is not Reshape or x.shape != shape or x.order is not None:
            return None
        y = r.inputs[0]
        gi = producer.get(y.id) if isinstance(y, Value) else None
        if gi is None or gi.op is not GetItem or len(gi.inputs) != 1:
            return None
        f = gi.inputs[0]
        idx = gi.attrs.get("index")
        if not isinstance(idx, tuple) or len(idx) != 1 or not isinstance(idx[0], slice) or \
                (flat is not None and f is not flat) or len(f.shape) != 1 or \
                f.dtype != x.dtype:
            return None
        flat = f
        if idx[0].indices(f.shape[0]) != (i * size, (i + 1) * size, 1):
            return None
    return flat if flat.shape[0] == len(parts) * size else None


def _attention_writes_merged(flat: Value, parts: list, d: int, perm: list, producer: dict,
                             uses) -> bool:
    """When ``flat`` is attention's backward (dq, dk, dv of heads split from one projection,
    ``qkv.view(B, T, 3H, D).transpose(1, 2)``) and the parts reach the sum only: set the
    backward to write them ``merged``, already in the sum's (B, T, 3, H, D) layout and + 0
    (ops/attention.py), so the sum is a view of it: no copy after the kernel."""
    f = producer.get(flat.id)
    if f is None or f.op is not attention.ScaledDotProductAttentionBackward or \
            f.attrs.get("merged") or len(parts) != 3 or d != 1 or list(perm) != [0, 2, 1, 3]:
        return False
    q, k, v = f.inputs[1:4]
    if not attention.merges(q.shape, k.shape, v.shape) or parts[0].shape != q.shape or \
            uses[flat.id] != 3 or any(uses[x.id] != 1 for x in parts):
        return False
    for x in parts:        # each part reshape(getitem(flat)) with no other reader
        r = producer[x.id]
        if uses[r.inputs[0].id] != 1:
            return False
    f.attrs["merged"] = True
    return True


def _from_buffer(g: Graph, flat: Value, parts: list, d: int, perm: list, src: str):
    """Nodes computing ``permute(cat(parts, d), perm) + 0`` from the buffer the parts slice
    (``_slices_of_one_buffer``), and their last value (C-ordered)."""
    stacked = (len(parts),) + parts[0].shape
    y = g.new_value(stacked, flat.dtype)
    nodes = [Node(Reshape, [flat], {"shape": stacked}, y, src)]
    # the axes of the stacked view in the result's order: the part index just before the
    # part's own dim d (they make the concatenated dim), every other dim where perm puts it
    axes = []
    for a in perm:
        axes += [0, d + 1] if a == d else [a + 1]
    w = g.new_value(tuple(stacked[a] for a in axes), flat.dtype)
    dense = np.lib.stride_tricks.as_strided(
        np.zeros(1, flat.dtype), stacked,
        tuple(int(s) for s in np.cumprod((1,) + stacked[:0:-1])[::-1] * flat.dtype.itemsize))
    w.order = memory_order(dense.transpose(axes))
    nodes.append(Node(Permute, [y], {"dims": tuple(axes)}, w, src))
    z = g.new_value(w.shape, flat.dtype)
    nodes.append(Node(Add, [w, 0.0 if flat.dtype.kind == "f" else 0], {}, z, src))
    return nodes, z


def run(graph: Graph) -> Graph:
    g = graph.copy()
    uses = Counter(u.id for n in g.nodes for u in n.uses())
    uses.update(v.id for v in g.outputs)
    producer = {n.out.id: n for n in g.nodes}
    consumer = {u.id: n for n in g.nodes for u in n.uses()}   # (the last; used if only one)
    outputs = {v.id for v in g.outputs}
    replace: dict[int, list[Node]] = {}      # root add's value id -> its replacement nodes
    renamed: dict[int, Value] = {}           # value id -> the new value its readers read
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
        target, new_nodes, c_order = n.out, [], False
        p = consumer.get(n.out.id)
        if p is not None and uses[n.out.id] == 1 and p.op is Permute and \
                n.out.id not in outputs:
            perm = [int(a) % len(n.out.shape) for a in p.attrs.get("dims", ())]
            # the result is written in C order, not the order of eager's permuted view: only
            # where its readers are reshapes that copied in eager (their results are C-ordered,
            # now views with the same values and layout); for any other reader the layout of
            # the value it reads may decide its rounding (a NumPy sum walks memory order)
            readers = [m for m in g.nodes if any(u.id == p.out.id for u in m.uses())]
            c_order = p.out.id not in outputs and bool(readers) and all(
                m.op is Reshape and m.out.order is None for m in readers)
            flat = _slices_of_one_buffer(parts, producer) if c_order else None
            if flat is not None and _attention_writes_merged(flat, parts, d, perm, producer,
                                                             uses):
                out = g.new_value(p.out.shape, p.out.dtype)
                replace[n.out.id] = [Node(Reshape, [flat], {"shape": p.out.shape}, out, n.src)]
                renamed[p.out.id] = out
                dropped.update(m.out.id for m in found)
                dropped.add(p.out.id)
                continue
            if flat is not None:
                new_nodes, z = _from_buffer(g, flat, parts, d, perm, n.src)
                out = g.new_value(p.out.shape, p.out.dtype)
                new_nodes.append(Node(Reshape, [z], {"shape": p.out.shape}, out, n.src))
                replace[n.out.id] = new_nodes
                renamed[p.out.id] = out
                dropped.update(m.out.id for m in found)
                dropped.add(p.out.id)
                continue
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
        if target is not n.out and c_order:      # a new C-ordered value for the readers
            renamed[target.id] = g.new_value(target.shape, target.dtype)
            target = renamed[target.id]
        new_nodes.append(Node(Add, [cat_v, zero], {}, target, n.src))
        replace[n.out.id] = new_nodes
        dropped.update(m.out.id for m in found)
    if not replace:
        return g
    nodes = []
    for n in g.nodes:
        if n.out.id in dropped:
            continue
        if renamed and any(u.id in renamed for u in n.uses()):
            n.inputs = [renamed.get(x.id, x) if isinstance(x, Value) else x for x in n.inputs]
        nodes.extend(replace.get(n.out.id, [n]))
    g.nodes = nodes
    return g
