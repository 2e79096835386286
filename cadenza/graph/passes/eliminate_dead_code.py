"""Dead-code elimination: drop nodes whose value no output needs.

Kept regardless: graph inputs (they are the calling convention) and ``random`` nodes (each draws
from a generator; dropping one would shift every later draw, so compiled results would stop
being bit-identical to eager)."""
from __future__ import annotations

from ..ir import Graph


def run(graph: Graph) -> Graph:
    g = graph.copy()
    live = {v.id for v in g.outputs}
    kept = []
    for n in reversed(g.nodes):
        if n.out.id in live or n.op in ("input", "random"):
            kept.append(n)
            live.update(u.id for u in n.uses())
    g.nodes = kept[::-1]
    return g
