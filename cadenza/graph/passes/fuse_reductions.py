"""Reduction fusion: the elementwise producer of a reduction that declares a C combine step
(``c_reduce``: ``sum``, ``amax``, ``amin``) is computed inside the reduction's loop, so
``(x - m).exp().sum(-1)`` or ``(g * y).sum(0)`` read their inputs once and never write the
elementwise intermediate (unless something else needs it: then the kernel writes it too).

The kernel runs at the reduction's position, or at the producer's when other nodes read the
producer's values in between (a linear's bias gradient is summed after the two products that
read the same gradient), unless the producer is the epilogue a product awaits
(fuse_gemm_epilogue). A sum over the leading dims of a reshape that merges leading dims (the
(B*T, C) rows of a (B, T, C) gradient) is taken as the same sum over the reshaped value's
leading dims, so that value's producer can compute it (W1's residual-gradient adds).

The reduction must be over a block of trailing dimensions (each row reduced: NumPy's pairwise
summation is reproduced exactly, so results match eager bit for bit) or a block of leading
dimensions (the rows are added in order, as NumPy does); every operand must walk each block
with one stride. Other reductions stay NumPy calls.

A large reduction without an elementwise producer (a bias gradient: the rows of a product's
gradient summed) becomes a kernel of its own (``standalone``): NumPy's sum runs on one thread,
the kernel's blocks of columns (or rows) over the pool, each output element summed in NumPy's
order. Its operand may be a view: the executor runs NumPy's sum when the array it gets is not
dense in the recorded order (NumPy's summation order then follows the view's strides).
"""
from __future__ import annotations


import numpy as np

from ..ir import Fused, Graph, Node, Value, dense_strides, fused_node, node_index
from .fuse_elementwise import fusable, kernel_inputs
from .fuse_gemm_epilogue import PRODUCTS, VIEWS, _epilogue

def reduced_dims(n: Node) -> tuple:
    nd = len(n.inputs[0].shape)
    dims = n.attrs.get("dims")
    if dims is None:
        return tuple(range(nd))
    if isinstance(dims, int):
        dims = (dims,)
    return tuple(sorted(d % nd for d in dims)) if nd else ()


def kernel_layout(inputs: list, elem_outs: list, red: Node):
    """The layout (see ``layout``) of a reduction kernel reading ``inputs`` and writing
    ``elem_outs`` and the reduction's value, each in the memory order eager had it, iterating
    in the reduced value's memory order (NumPy's reduction walks its operand in memory order:
    rows of an F-ordered array are its columns). Strides: inputs, elem_outs, then the result."""
    x = red.inputs[0]
    dims = reduced_dims(red)
    strides = [operand_strides(v, x.shape) for v in list(inputs) + list(elem_outs)]
    st = dense_strides(red.out.shape, red.out.order)
    if len(red.out.shape) != len(x.shape):     # keepdim=False: the reduced dims are gone
        it = iter(st)
        st = [0 if d in dims else next(it) for d in range(len(x.shape))]
    return layout(x.shape, dims, strides + [st], x.order)


def operand_strides(v: Value, full: tuple) -> list[int]:
    """Element strides of ``v``'s dense array (in ``v.order``) walked over ``full``, 0 where
    it broadcasts."""
    pad = len(full) - len(v.shape)
    return [0] * pad + dense_strides(v.shape, v.order)


def layout(shape: tuple, dims: tuple, operand_strides: list, order=None):
    """("rows", R, K, strides) when the trailing dims (in ``order``, the iteration's axis
    order, None: as they come) are reduced, ("cols", K, C, strides) for leading ones, else
    None. ``operand_strides[i]``: operand i's element strides over ``shape`` (0 where it
    broadcasts); ``strides[i] = (outer, inner)``: its one stride over each block."""
    if order is not None:
        pos = {d: i for i, d in enumerate(order)}
        shape = tuple(shape[d] for d in order)
        dims = tuple(sorted(pos[d] for d in dims))
        operand_strides = [[s[d] for d in order] for s in operand_strides]
    nd = len(shape)
    if not dims or len(dims) != dims[-1] - dims[0] + 1:
        return None
    if dims[-1] == nd - 1:
        kind, split = "rows", dims[0]
    elif dims[0] == 0:
        kind, split = "cols", dims[-1] + 1
    else:
        return None
    blocks = [tuple(range(split)), tuple(range(split, nd))]
    if kind == "cols" and all(shape[d] == 1 for d in blocks[1]):
        # NumPy ignores size-1 dims: reducing (R, 1) over dim 0 is one pairwise sum over R
        # elements, not R rows added in order (which rounds differently from 8 elements on)
        kind, blocks = "rows", blocks[::-1]
    strides = []
    for s in operand_strides:
        pair = []
        for block in blocks:
            st = _block_stride(s, shape, block)
            if st is None:
                return None
            pair.append(st)
        strides.append(tuple(pair))
    sizes = [int(np.prod([shape[d] for d in b], dtype=np.int64)) for b in blocks]
    return kind, sizes[0], sizes[1], strides


def _block_stride(strides, shape, block):
    """One stride walking ``block`` of the iteration space over an operand, or None."""
    dims = [d for d in block if shape[d] != 1]
    if not any(strides[d] for d in dims):
        return 0
    if not all(strides[d] for d in dims):
        return None          # partly broadcast inside the block: no single stride
    for a, b in zip(dims, dims[1:]):
        if strides[a] != strides[b] * shape[b]:
            return None
    return strides[dims[-1]]


# a reduction without a producer to fuse runs as a kernel from this many elements (a smaller one
# costs less in NumPy than a call that wakes the pool)
STANDALONE_MIN = 1 << 15


def standalone(k: Fused) -> bool:
    """Whether reduction kernel ``k`` is a lone reduction (no elementwise members)."""
    return k.reduction is not None and len(k.members) == 1


def _standalone_ok(n: Node) -> bool:
    """A lone reduction worth a kernel: at least STANDALONE_MIN elements, with work for
    more than one task (several rows, or columns in more than one block)."""
    got = kernel_layout([n.inputs[0]], [], n)
    if got is None:
        return False
    kind, outer, inner, _ = got
    return outer * inner >= STANDALONE_MIN and (outer > 1 if kind == "rows" else inner > 64)


def _reduction_ok(n: Node) -> bool:
    if isinstance(n.op, str) or getattr(n.op, "c_reduce", None) is None or not n.inputs:
        return False
    x = n.inputs[0]
    if not isinstance(x, Value) or x.dtype.kind != "f" or x.dtype.itemsize not in (4, 8):
        return False
    if n.attrs.get("dtype") is not None or 0 in x.shape or n.out.dtype != x.dtype:
        return False
    return True


def _producer(n: Node, nodes: list, position: dict, consumers: dict, done: set, i: int,
              graph_outs: set):
    """(the members of the elementwise kernel (or node) producing reduction ``n``'s operand
    that can be computed inside its loop, the position the fused kernel runs at), or None.
    ``done``: positions already removed or replaced."""
    x = n.inputs[0]
    p = position.get(x.id)
    if p is None or p in done:
        return None
    prod = nodes[p]
    if isinstance(prod.op, Fused):
        if prod.op.reduction is not None or prod.op.shape != x.shape:
            return None
        members = list(prod.op.members)
    elif fusable(prod) and prod.out.shape == x.shape:
        members = [prod]
    else:
        return None
    # the fused kernel runs at the reduction's position when nothing between needs its values,
    # else at the producer's (its inputs are the producer's, all defined there: a bias
    # gradient summed after the products that read the gradient), unless the producer is the
    # epilogue a product's output awaits (fuse_gemm_epilogue: it is computed in cache there)
    if any(c < i and c != p for v in prod.outs for c in consumers[v.id]):
        return None if _epilogue_of_product(p, nodes, position, consumers, graph_outs) \
            else (members, p)
    return members, i


def _epilogue_of_product(p: int, nodes: list, position: dict, consumers: dict,
                         graph_outs: set) -> bool:
    """Whether node ``p`` would become the epilogue of a product it reads."""
    for u in nodes[p].uses():
        q = position.get(u.id)
        while q is not None and nodes[q].op_name in VIEWS:
            src = nodes[q].inputs[0]
            q = position.get(src.id) if isinstance(src, Value) else None
        if q is not None and nodes[q].op_name in PRODUCTS:
            got = _epilogue(nodes[q], nodes, consumers, graph_outs)
            if got is not None and got[1] == p:
                return True
    return False


def _over_view_source(n: Node, nodes: list, position: dict) -> Node | None:
    """A sum over the leading dims of a reshape that merges leading dims of a dense value
    ``v`` (a linear's bias gradient: the (B*T, C) rows of a (B, T, C) gradient) as the same
    sum over ``v``'s leading dims (its rows added in the same order: NumPy walks both as one
    run of rows), so that ``v``'s producer can compute it; None otherwise."""
    x = n.inputs[0]
    p = position.get(x.id)
    if n.op_name != "sum" or p is None or nodes[p].op_name not in ("reshape", "view"):
        return None
    v = nodes[p].inputs[0]
    dims = reduced_dims(n)
    k = len(dims)
    kept = tuple(x.shape[k:])
    if not isinstance(v, Value) or v.dtype != x.dtype or v.order is not None or \
            x.order is not None or dims != tuple(range(k)) or not kept or 1 in kept or \
            len(n.out.shape) != len(kept):
        return None
    j = len(v.shape) - len(kept)
    if j < 1 or tuple(v.shape[j:]) != kept:
        return None
    return Node(n.op, [v], dict(n.attrs, dims=tuple(range(j))), n.out, n.src, n.name)


def run(graph: Graph) -> Graph:
    g = graph.copy()
    nodes = g.nodes
    position, consumers = node_index(nodes)
    graph_outs = {v.id for v in g.outputs}
    removed: set[int] = set()
    replaced: dict[int, Node] = {}
    index = sum(1 for n in nodes if isinstance(n.op, Fused))
    for i, n in enumerate(nodes):
        if not _reduction_ok(n):
            continue
        done = removed | set(replaced)
        got = _producer(n, nodes, position, consumers, done, i, graph_outs)
        if got is None:
            seen = _over_view_source(n, nodes, position)
            if seen is not None:
                got = _producer(seen, nodes, position, consumers, done, i, graph_outs)
                if got is not None:
                    n = seen
        x = n.inputs[0]
        if got is not None:
            members, at = got
            inputs = kernel_inputs(members)
            outputs = [m.out for m in members if m.out.id in graph_outs or
                       any(c != i for c in consumers[m.out.id])]
            if kernel_layout(inputs, outputs, n) is not None:
                kernel = Fused(members + [n], inputs, outputs + [n.out], x.shape, reduction=n,
                               index=index)
                index += 1
                p = position[x.id]
                removed.add(i if at == p else p)
                replaced[at] = fused_node(kernel, n.src)
                continue
        if _standalone_ok(n):
            kernel = Fused([n], [x], [n.out], x.shape, reduction=n, index=index)
            index += 1
            replaced[i] = fused_node(kernel, n.src)
    g.nodes = [replaced.get(i, n) for i, n in enumerate(nodes) if i not in removed]
    kernels = [n.op for n in g.nodes if isinstance(n.op, Fused)]
    for j, k in enumerate(kernels):      # number kernels in execution order for printing
        k.index = j
    return g
