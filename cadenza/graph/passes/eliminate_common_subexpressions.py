"""Common-subexpression elimination: a node computing the same op on the same inputs with the
same attributes as an earlier node is replaced by that node's value.

Never merged: ``random`` nodes (two draws are two different values) and inputs. Constants merge
when they are small and byte-identical. Attributes are compared structurally (slices, tuples,
dtypes); an attribute that cannot be compared (an array) is compared by identity."""
from __future__ import annotations

import numpy as np

from ..ir import Graph, Node, Value

_SMALL_CONST = 64  # elements: hashing larger constants costs more than it saves


def _hashable(a):
    if isinstance(a, Value):
        return ("%", a.id)
    if isinstance(a, slice):
        return ("slice", _hashable(a.start), _hashable(a.stop), _hashable(a.step))
    if isinstance(a, (tuple, list)):
        return (type(a).__name__,) + tuple(_hashable(x) for x in a)
    if isinstance(a, dict):
        return ("dict",) + tuple(sorted((k, _hashable(v)) for k, v in a.items()))
    if isinstance(a, np.ndarray):
        return ("array", id(a))
    if isinstance(a, float):
        return ("float", a.hex())  # 0.0 and -0.0 are equal but must not merge
    if isinstance(a, np.generic):
        return (a.dtype.str, a.tobytes())
    if isinstance(a, (bool, int, complex, str)) or a is None:
        return (type(a).__name__, a)
    hash(a)  # dtypes, Ellipsis, Refs, functions: by their own hash; raises if unhashable
    return (type(a).__name__, a)


def _key(n: Node):
    if n.op == "const":
        arr = n.attrs["value"]
        if arr.size > _SMALL_CONST:
            return None
        return ("const", arr.dtype.str, arr.shape, arr.tobytes())
    try:
        return (n.op, _hashable(n.inputs), _hashable(n.attrs))
    except TypeError:
        return None


def run(graph: Graph) -> Graph:
    g = graph.copy()
    seen: dict = {}
    replace: dict[int, Value] = {}
    kept = []
    for n in g.nodes:
        if replace:
            n.inputs = [replace.get(x.id, x) if isinstance(x, Value) else x for x in n.inputs]
        if n.op in ("input", "random"):
            kept.append(n)
            continue
        k = _key(n)
        if k is not None:
            prev = seen.get(k)
            if prev is not None:
                replace[n.out.id] = prev
                continue
            seen[k] = n.out
        kept.append(n)
    g.nodes = kept
    g.outputs = [replace.get(v.id, v) for v in g.outputs]
    return g
