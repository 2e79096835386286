"""verify(graph): structural and type checks of a Graph, run after every pass in tests.

- SSA: every Value is defined exactly once, before any use;
- every output is defined;
- every primitive node's recorded shape and dtype equal what its op's ``forward`` produces on
  zero arrays of its input types (``random`` nodes are trusted: running them would draw random
  numbers; ``host`` nodes must be 0-d float64).
"""
from __future__ import annotations

import numpy as np

from .ir import Fused, Graph, Value, substitute_refs, has_refs
from .ir import _refs_in


class GraphError(AssertionError):
    """A malformed graph (a bug in the tracer or in a pass)."""


def verify(graph: Graph, infer: bool = True) -> Graph:
    """Check ``graph``; raise GraphError naming the first bad node. Returns the graph."""
    defined: set[int] = set()
    for v in graph.inputs:
        if v.producer is None or v.producer.op != "input":
            raise GraphError(f"input {v!r} is not defined by an input node")
    for n in graph.nodes:
        for u in n.uses():
            if u.id not in defined:
                raise GraphError(f"{n!r}: uses {u!r} before its definition")
        for out in n.outs:
            if out.id in defined:
                raise GraphError(f"{n!r}: {out!r} is defined twice")
            if out.producer is not n:
                raise GraphError(f"{n!r}: its output {out!r}'s producer is another node")
            defined.add(out.id)
        if isinstance(n.op, Fused):
            _check_fused(n, infer)
        elif infer:
            _check_type(n)
    for v, label in zip(graph.outputs, graph.output_labels):
        if not isinstance(v, Value) or v.id not in defined:
            raise GraphError(f"output {label}={v!r} is not defined")
    return graph


def _check_fused(n, infer: bool) -> None:
    """A fused kernel's members read only its inputs or earlier members, and every value used
    after the kernel is one of its outputs (checked by the caller through ``defined``)."""
    k = n.op
    inner = {v.id for v in k.inputs}
    for m in k.members:
        for u in m.uses():
            if u.id not in inner:
                raise GraphError(f"{n.op.name}: member {m!r} reads {u!r}, which is neither a "
                                 "kernel input nor an earlier member")
        inner.add(m.out.id)
        if infer:
            _check_type(m)
    for v in k.outputs:
        if v.id not in inner or v.id in {u.id for u in k.inputs}:
            raise GraphError(f"{n.op.name}: output {v!r} is not computed by a member")


def _check_type(n) -> None:
    if n.op in ("input", "random"):
        return
    if n.op == "const":
        arr = n.attrs["value"]
        got = (tuple(arr.shape), arr.dtype)
    elif n.op == "host":
        got = ((), np.dtype(np.float64))
    else:
        arrays = [np.zeros(x.shape, x.dtype) if isinstance(x, Value) else x for x in n.inputs]
        attrs = substitute_refs(n.attrs, arrays) if has_refs(n.attrs) else n.attrs
        nargs = len(n.inputs) - _n_refs(n)
        with np.errstate(all="ignore"):
            try:
                out = n.op.forward(np, *arrays[:nargs], **attrs)
            except Exception as e:  # noqa: BLE001 - any failure is a malformed node
                raise GraphError(f"{n!r}: re-running {n.op_name} failed: {e}") from None
        out = np.asarray(out)
        got = (tuple(out.shape), out.dtype)
    want = (n.out.shape, n.out.dtype)
    if got != want:
        raise GraphError(f"{n!r}: recorded type {n.out.type} but {n.op_name} gives "
                         f"{got[1]}{list(got[0])}")


def _n_refs(n) -> int:
    return len({i for a in n.attrs.values() for i in _refs_in(a)})
