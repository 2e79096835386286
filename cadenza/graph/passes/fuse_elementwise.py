"""Elementwise fusion: chains and broadcasts of elementwise primitives over one iteration space
become one ``Fused`` kernel node, so a C kernel computes them in a single pass over memory with
no intermediate arrays (``x * w + b`` then ``relu``: one loop instead of three NumPy calls and
two temporaries).

What may join a kernel is decided by ``fusable`` from the op's own declarations (``c_*``
fields of ``cadenza.ops.Op``): it has a C lowering (``c_expr``), reads only the attributes it
declares, and its dtypes are ones the C lowering reproduces exactly (float32/64, int32/64, bool
as the op's ``c_kinds`` allow; no NumPy type-promotion corner that C would compute differently).
Kernels are formed greedily in
execution order: a node joins the kernels of its producers that share its output shape when
the merged kernel can run at the position of its last member, i.e. no node outside the kernel
needs one of its values earlier. Sibling nodes that read the same values end up in one kernel
when a later node uses both (AdamW's ``m``, ``v`` and parameter updates).

A kernel of one cheap member over a small array is not worth a kernel call: such nodes stay as
they are. A member whose NumPy forward makes several passes (GELU: five ufunc calls and an
exp) is worth one from a few hundred elements (a decoding step's MLP activation, 1 x 1024).
"""
from __future__ import annotations


import numpy as np

from ..ir import Fused, Graph, Node, Value, fused_node, has_refs, node_index

FUSABLE_DTYPES = {np.dtype(t) for t in ("float32", "float64", "int32", "int64", "bool")}
SINGLE_MIN_SIZE = 1 << 14   # a lone node becomes a kernel only from this many elements
# primitives whose NumPy forward is several passes over memory, and the size from which one
# alone is worth a kernel call
MULTI_PASS = frozenset({"gelu_tanh", "gelu_tanh_backward", "gelu", "gelu_backward"})
MULTI_PASS_MIN_SIZE = 256


def compute_dtype(n: Node) -> np.dtype:
    """The dtype a member computes in: its inputs' for comparisons, its output's otherwise."""
    if n.op.c_compute == "input":
        for x in n.inputs:
            if isinstance(x, Value):
                return x.dtype
    return n.out.dtype


def fusable(n: Node) -> bool:
    """Can ``n`` be computed inside a C kernel with exactly NumPy's result dtype and rules?"""
    op = n.op
    if isinstance(op, str) or op.kind != "elementwise" or op.c_expr is None:
        return False
    if n.out.dtype not in FUSABLE_DTYPES or 0 in n.out.shape:
        return False
    if set(n.attrs) - op.c_attrs or has_refs(n.attrs):
        return False
    if op.c_check is not None and not op.c_check(n):
        return False
    cd = compute_dtype(n)
    if cd.kind in "iub" and cd.kind.replace("u", "i") not in op.c_kinds:
        return False
    values = [x for x in n.inputs if isinstance(x, Value)]
    if not values:
        return False
    for i, x in enumerate(n.inputs):
        if isinstance(x, Value):
            if x.dtype not in FUSABLE_DTYPES:
                return False
            if not _value_dtype_ok(op.c_operands, i, x.dtype, cd):
                return False
        elif not _scalar_ok(x, cd, op.c_operands):
            return False
    return True


def _value_dtype_ok(operands: str, i: int, dtype: np.dtype, cd: np.dtype) -> bool:
    if operands == "any":
        return True
    if operands == "cond" and i == 0:
        return dtype.kind == "b"
    return dtype == cd


def _scalar_ok(x, cd: np.dtype, operands: str) -> bool:
    # A Python scalar is converted to the compute dtype, as NumPy does for "weak" scalars;
    # anything that would change NumPy's result dtype was already made explicit by the tracer.
    if isinstance(x, (bool, np.bool_)):
        return True
    if isinstance(x, (int, np.integer)):
        return cd.kind in "fiu" and (cd.kind == "f" or _fits(int(x), cd))
    if isinstance(x, (float, np.floating)):
        return cd.kind == "f" and operands != "any"
    return False


def _fits(v: int, dt: np.dtype) -> bool:
    info = np.iinfo(dt)
    return info.min <= v <= info.max


def run(graph: Graph) -> Graph:
    g = graph.copy()
    nodes = g.nodes
    producer, consumers = node_index(nodes)   # value id -> position / consumer positions
    graph_outs = {v.id for v in g.outputs}

    group_of: dict[int, int] = {}        # node position -> group id
    groups: dict[int, list[int]] = {}    # group id -> member positions (ascending)

    def legal(members: set, last: int) -> bool:
        # every use of a member's value outside the kernel comes after the kernel's position
        for m in members:
            for c in consumers[nodes[m].out.id]:
                if c not in members and c < last:
                    return False
        return True

    for i, n in enumerate(nodes):
        if not fusable(n):
            continue
        cands = []
        for u in n.uses():
            p = producer.get(u.id)
            gid = group_of.get(p) if p is not None else None
            if gid is not None and gid not in cands and nodes[p].out.shape == n.out.shape:
                cands.append(gid)
        chosen = None
        if cands:
            union = {i}.union(*(groups[c] for c in cands))
            if legal(union, i):
                chosen = cands
            else:   # fall back to the largest single producer kernel that stays legal
                for c in sorted(cands, key=lambda c: -len(groups[c])):
                    if legal(set(groups[c]) | {i}, i):
                        chosen = [c]
                        break
        if not chosen:
            gid = i                      # a fresh id: the position of the first member
            groups[gid] = [i]
            group_of[i] = gid
            continue
        keep = chosen[0]
        for c in chosen[1:]:
            for m in groups.pop(c):
                group_of[m] = keep
                groups[keep].append(m)
        groups[keep].append(i)
        groups[keep].sort()
        group_of[i] = keep

    last_of = {}
    for gid, members in groups.items():
        if _worth_a_kernel([nodes[m] for m in members]):
            last_of[members[-1]] = gid
        else:
            for m in members:
                del group_of[m]
    out_nodes = []
    index = 0
    for i, n in enumerate(nodes):
        gid = group_of.get(i)
        if gid is None:
            out_nodes.append(n)
        elif i in last_of:
            positions = groups[gid]
            out_nodes.append(_kernel_node(nodes, positions, consumers, graph_outs, index))
            index += 1
    g.nodes = out_nodes
    return g


def _worth_a_kernel(members: list) -> bool:
    if len(members) > 1:
        return True
    size = int(np.prod(members[0].out.shape))
    return size >= SINGLE_MIN_SIZE or (members[0].op_name in MULTI_PASS and
                                       size >= MULTI_PASS_MIN_SIZE)


def kernel_inputs(members: list) -> list:
    """The values a kernel of ``members`` reads from outside, in first-use order."""
    inner = {m.out.id for m in members}
    inputs, seen = [], set()
    for m in members:
        for u in m.uses():
            if u.id not in inner and u.id not in seen:
                seen.add(u.id)
                inputs.append(u)
    return inputs


def _kernel_node(nodes: list, positions: list, consumers, graph_outs, index: int) -> Node:
    members = [nodes[p] for p in positions]
    inside = set(positions)
    inputs = kernel_inputs(members)
    outputs = [m.out for m in members
               if m.out.id in graph_outs or any(c not in inside for c in consumers[m.out.id])]
    kernel = Fused(members, inputs, outputs, members[-1].out.shape, index=index)
    return fused_node(kernel, members[-1].src)
