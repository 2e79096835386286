"""Memory planning: decide which intermediate arrays share storage, and when each value can be
released, from the liveness of every value in the (final, fused) graph.

- Kernel outputs (values a fused kernel writes) get a slot in an arena the executor allocates
  once and reuses on every call: a slot is reused by a later value as soon as the value
  holding it (and every view derived from it) is dead. Values that escape the call (graph
  outputs: returned tensors, new ``.grad``s, saved values for a backward) never get a slot.
- Every other intermediate (NumPy/BLAS results) is released right after its last use, instead
  of living until the call returns.

Views are followed conservatively: the result of a node that may alias its inputs (reshape,
permute, expand, getitem, ...) keeps all its inputs' storage alive as long as it lives.

The plan is attached as ``graph.plan`` (a ``MemoryPlan``); ``graph.plan.report()`` gives the
planned peak bytes against the unplanned peak (every intermediate alive until the end).
"""
from __future__ import annotations

import math

from ..ir import Fused, Graph

FRESH_KINDS = {"elementwise", "reduce", "library"}    # results are new arrays
SLOT_ALIGN = 64


class MemoryPlan:
    """``slots``: byte sizes of the arena's buffers; ``assign``: value id -> slot;
    ``release``: node position -> value ids dead after that node; ``storage_end``: storage
    root id -> the last node position reading it or a view of it (the node count if it
    escapes); peaks in bytes."""

    def __init__(self, slots, assign, release, planned_peak, unplanned_peak, storage_end):
        self.slots = slots
        self.storage_end = storage_end
        self.assign = assign
        self.release = release
        self.planned_peak = planned_peak
        self.unplanned_peak = unplanned_peak

    def report(self) -> str:
        saved = 1 - self.planned_peak / self.unplanned_peak if self.unplanned_peak else 0.0
        gain = f"{saved:.0%} less" if saved > 0 else "no saving: slots are 64-byte aligned"
        return (f"memory plan: planned peak {_fmt(self.planned_peak)} vs unplanned "
                f"{_fmt(self.unplanned_peak)} ({gain}); arena "
                f"{_fmt(sum(self.slots))} in {len(self.slots)} buffers for "
                f"{len(self.assign)} kernel outputs")

    def __repr__(self) -> str:
        return self.report()


def _fmt(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def _nbytes(v) -> int:
    return math.prod(v.shape) * v.dtype.itemsize


def _may_alias(n) -> bool:
    if isinstance(n.op, Fused) or n.op in ("random", "host", "const", "input"):
        return False
    if isinstance(n.op, str):
        return True
    return n.op.view or n.op.may_alias or n.op.kind not in FRESH_KINDS


def run(graph: Graph) -> Graph:
    nodes = graph.nodes
    end = len(nodes)
    outputs = {v.id for v in graph.outputs}
    # storage roots: a value aliasing its inputs shares their roots
    roots: dict[int, set] = {}
    last_use: dict[int, int] = {}
    for i, n in enumerate(nodes):
        for u in n.uses():
            last_use[u.id] = i
        for v in n.outs:
            if _may_alias(n) and n.uses():
                roots[v.id] = set().union(*(roots.get(u.id, {u.id}) for u in n.uses()))
            else:
                roots[v.id] = {v.id}
    # a root lives until the last use of any value sharing it; escapes if any is an output
    root_end: dict[int, int] = {}
    escaped: set[int] = set()
    for vid, rs in roots.items():
        t = end if vid in outputs else last_use.get(vid, -1)
        for r in rs:
            root_end[r] = max(root_end.get(r, -1), t)
            if vid in outputs:
                escaped.add(r)
    kernel_outs = {v.id: v for n in nodes if isinstance(n.op, Fused) for v in n.outs}
    inputs_or_consts = {n.out.id for n in nodes if n.op in ("input", "const")}

    slots: list[int] = []
    free: list[int] = []
    assign: dict[int, int] = {}
    frees_at: dict[int, list[int]] = {}
    release: dict[int, list[int]] = {}
    live_other, peak_other = 0, 0
    dies_at: dict[int, list] = {}
    for i, n in enumerate(nodes):
        for v in n.outs:
            if v.id in inputs_or_consts:
                continue
            if v.id in kernel_outs and v.id not in escaped and root_end.get(v.id, -1) < end:
                need = -(-_nbytes(v) // SLOT_ALIGN) * SLOT_ALIGN
                fit = [s for s in free if slots[s] >= need]
                if fit:
                    s = min(fit, key=lambda s: slots[s])
                    free.remove(s)
                else:
                    s = len(slots)
                    slots.append(need)
                assign[v.id] = s
                frees_at.setdefault(max(root_end.get(v.id, i), i), []).append(s)
            else:
                live_other += _nbytes(v)
                dies_at.setdefault(root_end.get(v.id, i) if v.id not in outputs else end,
                                   []).append(v)
        peak_other = max(peak_other, live_other)
        for s in frees_at.pop(i, []):
            free.append(s)
        for v in dies_at.pop(i, []):
            live_other -= _nbytes(v)

    # values not used after node i: the executor drops its references to them there
    for vid, t in last_use.items():
        if vid not in outputs and vid not in inputs_or_consts:
            release.setdefault(t, []).append(vid)
    unplanned = sum(_nbytes(v) for n in nodes for v in n.outs
                    if v.id not in inputs_or_consts)
    graph.plan = MemoryPlan(slots, assign, release, sum(slots) + peak_other, unplanned,
                            root_end)
    return graph
