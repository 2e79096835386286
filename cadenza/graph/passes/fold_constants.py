"""Constant folding: a primitive node whose inputs are all constants (``const`` nodes or Python
scalars) is evaluated once, now, with its op's ``forward`` on the NumPy backend, and becomes a
``const`` node defining the same Value (same id, shape and dtype), so later nodes and outputs
need no rewriting. Chains fold in one sweep (a folded node is a constant for the next).

Never folded: ``input``, ``random`` and ``host`` nodes and anything that uses one (a random
draw or a runtime host scalar is not a constant); ops of kind ``random``/``creation`` (they may
draw); a node whose recomputed result does not have exactly its recorded shape and dtype, or
whose forward raises (left for the runtime, which reports it as eager would); and results much
larger than their inputs (``expand`` of a scalar to a big shape would bake megabytes into the
graph). The folded array owns its memory (a copy when forward returned a view of another
constant), so the runtime's "copy constants before handing them out" check sees it."""
from __future__ import annotations

import numpy as np

from ..ir import Graph, Node, Value, has_refs, substitute_refs, _refs_in

_NEVER_KINDS = ("random", "creation")
_MAX_GROWTH = 1 << 16   # elements a fold may create beyond its largest constant input
_SCALARS = (bool, int, float, complex, np.generic)


def _fold(n: Node, consts: dict):
    """The folded array for ``n``, or None if it must stay."""
    if isinstance(n.op, str) or n.op.kind in _NEVER_KINDS:
        return None
    arrays = []
    for x in n.inputs:
        if isinstance(x, Value):
            if x.id not in consts or type(consts[x.id]) is not np.ndarray:
                return None     # not constant, or a device (CuPy) array: folded on host never
            arrays.append(consts[x.id])
        elif isinstance(x, _SCALARS) or x is None:
            arrays.append(x)
        else:
            return None
    biggest = max([a.size for a in arrays if isinstance(a, np.ndarray)], default=1)
    size = int(np.prod(n.out.shape, dtype=np.int64))
    if size > biggest + _MAX_GROWTH:
        return None
    attrs = n.attrs
    nargs = len(arrays)
    if has_refs(attrs):
        nargs -= len({i for a in attrs.values() for i in _refs_in(a)})
        attrs = substitute_refs(attrs, arrays)
    try:
        with np.errstate(all="ignore"):
            out = n.op.forward(np, *arrays[:nargs], **attrs)
    except Exception:  # noqa: BLE001 - the runtime raises it where eager would
        return None
    if not isinstance(out, np.ndarray):
        out = np.asarray(out)
    if out.shape != n.out.shape or out.dtype != n.out.dtype:
        return None
    if out.base is not None or any(out is a for a in arrays):
        out = out.copy(order="K")  # own its memory: never a view of another constant
    return out


def run(graph: Graph) -> Graph:
    g = graph.copy()
    consts: dict[int, np.ndarray] = {}
    nodes = []
    for n in g.nodes:
        if n.op == "const":
            consts[n.out.id] = n.attrs["value"]
        elif n.op not in ("input", "random", "host"):
            value = _fold(n, consts)
            if value is not None:
                n = Node("const", [], {"value": value}, n.out, n.src)
                consts[n.out.id] = value
        nodes.append(n)
    g.nodes = nodes
    return g
