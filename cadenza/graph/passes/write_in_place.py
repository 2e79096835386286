"""In-place index writes: which ``index_put`` nodes may store their values straight into the
buffer of the array they update, instead of copying it first (``out = x.copy(); out[i] = v``).

The case this is for: a decode step that writes one token's keys and values into a KV cache
passed as an argument (``cache[layer, :, :, positions] = k``). Traced, each write is a node
``x1 = index_put(x0, k, index=...)`` and the final value is written back into the argument
after the call; run out of place, every step copies the whole cache once per write and once
more for the write-back. Run in place, it writes T rows.

A node writes in place when both hold:

- the buffer is one this call may overwrite: a graph input whose tensor receives a write-back
  at the end of the call (its old contents are replaced anyway), or the buffer of an earlier
  in-place write (a chain of writes into one cache);
- nothing after the node reads the old value: neither ``x`` nor any view derived from it
  before the node is used later or returned (views of the new value are fine).

Views are followed as the memory plan follows them (``plan_memory._may_alias``). This is an
analysis for the runner (``Interpreter``), not a rewrite: the graph is unchanged, so printed
graphs, ONNX export and a runner without it see the same nodes.
"""
from __future__ import annotations

from ..ir import Graph, Value
from .plan_memory import _may_alias


def nodes(graph: Graph, writebacks: dict | None) -> set:
    """ids of the ``index_put`` nodes of ``graph`` that may write into their first input's
    buffer. ``writebacks``: output value id -> the input value id its array is copied into
    after the call (compiled.py's write-backs)."""
    targets = set((writebacks or {}).values())
    if not targets:
        return set()
    ns = graph.nodes
    end = len(ns)
    last_use: dict[int, int] = {}
    born: dict[int, int] = {}
    views: dict[int, list] = {}      # value id -> values an aliasing node derived from it
    for i, n in enumerate(ns):
        for v in n.outs:
            born[v.id] = i
        for u in n.uses():
            last_use[u.id] = i
        if _may_alias(n):
            for u in n.uses():
                views.setdefault(u.id, []).extend(n.outs)
    for v in graph.outputs:
        last_use[v.id] = end
    ours = {n.out.id for n in ns if n.op == "input" and n.out.id in targets}
    chosen = set()
    for i, n in enumerate(ns):
        if n.op_name != "index_put" or n.attrs.get("accumulate"):
            continue
        x = n.inputs[0]
        if not isinstance(x, Value) or x.id not in ours or x.dtype != n.out.dtype or \
                x.shape != n.out.shape or _read_after(x.id, i, n, views, born, last_use):
            continue
        chosen.add(id(n))
        ours.add(n.out.id)
    return chosen


def _read_after(vid: int, i: int, node, views: dict, born: dict, last_use: dict) -> bool:
    """Whether value ``vid`` or a view derived from it before position ``i`` is read after
    ``i`` (``node``, the write at ``i``, derives the new value: not followed)."""
    stack, seen = [vid], set()
    while stack:
        u = stack.pop()
        if u in seen:
            continue
        seen.add(u)
        if last_use.get(u, -1) > i:
            return True
        stack.extend(w.id for w in views.get(u, ()) if born[w.id] < i or
                     (born[w.id] == i and w is not node.out))
    return False
