"""Algebraic simplification: rewrites that remove or merge nodes without changing any result.

- ``x*1``, ``1*x``, ``x/1``, ``x-0`` -> ``x``; ``x+0``, ``0+x`` -> ``x`` where exact (below);
  ``cast(x, dtype=x's dtype)`` -> ``x``. Only when the node's recorded shape and dtype equal
  ``x``'s, so a broadcast (``x[3] * ones[2, 3]``) or a promotion (``int * 1.0``) is never lost.
  The 1 or 0 is a Python scalar or a ``const`` node whose every element is that value.
  Signed zeros decide what is exact for floating ``x``: ``-0.0 + 0.0`` is ``+0.0``, so float
  ``x + 0.0`` / ``x - (-0.0)`` stay (results must stay bit-identical to eager), while
  ``x + (-0.0)`` and ``x - 0.0`` are ``x`` for every x. For integers and bools any 0 is exact.
- ``permute(permute(x, a), b)`` -> ``x`` when the two compose to the identity, else one permute;
  ``permute(x, identity)`` -> ``x``.
- ``reshape(reshape(x, a), b)`` -> ``reshape(x, b)``; ``reshape(x, x's shape)`` -> ``x``.
- ``clone(x)`` -> ``x`` when ``x`` is a new array made in this graph by a computing primitive
  (elementwise, reduction, matmul...; not a view, cast or contiguous, which may hand back
  their input) and not exposed: the copy only protected memory nothing else can reach
  (autograd clones the first gradient it accumulates; in a graph that is one wasted pass).

Removing a node replaces every later use of its value, and graph outputs, by ``x`` (SSA is
kept; the removed node's value no longer appears). Aliasing: eager ``x * 1`` returns a new
buffer while ``x`` may be a graph input, a constant, or share memory with a result the caller
gets. A value is *exposed* when it is a graph output or a view op (permute, reshape, expand...)
of an exposed value. An exposed value is replaced (or its reshape chain merged) only when ``x``
is a fresh buffer that is not exposed (made by a non-view primitive), and ``x`` is exposed from
then on; otherwise the caller could get a tensor sharing memory with its argument or with another
result where eager gives it its own. Identity permutes and same-shape reshapes are views of
``x`` in eager mode too, so those are replaced regardless (``x`` is already exposed through
them). Merged producers that lose their last use are left for the next dead-code elimination.
"""
from __future__ import annotations

import numpy as np

from ..ir import Graph, Node, Value

_SCALARS = (bool, int, float, np.generic)


def _scalar_of(a, consts):
    """The single value ``a`` stands for (a Python scalar or an all-equal constant), or None."""
    if isinstance(a, Value):
        arr = consts.get(a.id)
        if arr is None or arr.size == 0:
            return None
        first = arr.flat[0]
        if not np.all(arr == first) or (arr.dtype.kind == "f" and
                                        not np.all(np.signbit(arr) == np.signbit(first))):
            return None
        return first
    if isinstance(a, _SCALARS):
        return a
    return None


def _is_one(s) -> bool:
    return s is not None and not isinstance(s, np.ndarray) and s == 1


def _is_zero(s, x: Value, negative: bool) -> bool:
    """``s`` is a zero that leaves ``x`` bit-identical: for float x, ``negative`` asks -0.0."""
    if s is None or s != 0:
        return False
    if x.dtype.kind == "c":
        return False   # the imaginary part's zero sign would need its own check: left alone
    if x.dtype.kind != "f":
        return True
    return bool(np.signbit(np.float64(s))) == negative


def _same_type(n: Node, x) -> bool:
    return isinstance(x, Value) and x.shape == n.out.shape and x.dtype == n.out.dtype


def _identity_operand(n: Node, consts):
    """The ``x`` that ``n`` merely returns (arithmetic identities and no-op casts), or None."""
    name = n.op_name
    ins = n.inputs
    if name == "cast" and len(ins) == 1:
        return ins[0] if _same_type(n, ins[0]) else None
    if name not in ("mul", "add", "sub", "div") or len(ins) != 2 or n.attrs:
        return None
    a, b = ins
    sa, sb = _scalar_of(a, consts), _scalar_of(b, consts)
    if name == "mul":
        if _is_one(sb) and _same_type(n, a):
            return a
        if _is_one(sa) and _same_type(n, b):
            return b
    elif name == "div":
        if _is_one(sb) and _same_type(n, a):
            return a
    elif name == "add":
        if _same_type(n, a) and _is_zero(sb, a, negative=True):
            return a
        if _same_type(n, b) and _is_zero(sa, b, negative=True):
            return b
    elif name == "sub":
        if _same_type(n, a) and _is_zero(sb, a, negative=False):
            return a
    return None


def _fresh(x: Value, producer: dict, exposed: set) -> bool:
    """``x`` is a buffer of its own that no caller sees: a non-view primitive's result that is
    not exposed."""
    p = producer.get(x.id)
    return (p is not None and not isinstance(p.op, str) and not getattr(p.op, "view", False)
            and x.id not in exposed)


def _computes_new_array(p: Node) -> bool:
    return not isinstance(p.op, str) and not getattr(p.op, "view", False) and \
        p.op.kind in ("elementwise", "reduce", "library") and \
        p.op.name not in ("cast", "contiguous", "to_device", "clone")


def _norm_dims(dims, ndim):
    return tuple(int(d) % ndim for d in dims) if ndim else tuple(dims)


def run(graph: Graph) -> Graph:
    g = graph.copy()
    exposed = {v.id for v in g.outputs}
    for n in reversed(g.nodes):
        if n.out.id in exposed and not isinstance(n.op, str) and getattr(n.op, "view", False):
            exposed.update(u.id for u in n.uses())
    consts = {n.out.id: n.attrs["value"] for n in g.nodes if n.op == "const"}
    producer: dict[int, Node] = {}       # value id -> its node in the new graph
    replace: dict[int, Value] = {}
    kept = []
    for n in g.nodes:
        if replace:
            n.inputs = [replace.get(x.id, x) if isinstance(x, Value) else x for x in n.inputs]
        if isinstance(n.op, str):
            kept.append(n)
            producer[n.out.id] = n
            continue
        name = n.op_name
        x = None
        if n.out.id not in exposed:
            x = _identity_operand(n, consts)
        else:
            y = _identity_operand(n, consts)
            if y is not None and _fresh(y, producer, exposed):
                x = y
        if x is None and name == "permute" and len(n.inputs) == 1 \
                and isinstance(n.inputs[0], Value):
            src = n.inputs[0]
            dims = _norm_dims(n.attrs.get("dims", ()), len(src.shape))
            p = producer.get(src.id)
            if p is not None and p.op_name == "permute" and len(p.inputs) == 1:
                inner = p.inputs[0]
                d1 = _norm_dims(p.attrs.get("dims", ()), len(inner.shape))
                dims = tuple(d1[d] for d in dims)
                src = inner
            if dims == tuple(range(len(dims))) and _same_type(n, src):
                x = src
            elif src is not n.inputs[0]:
                n.inputs = [src]
                n.attrs = {**n.attrs, "dims": dims}
        if x is None and name == "reshape" and len(n.inputs) == 1 \
                and isinstance(n.inputs[0], Value):
            src = n.inputs[0]
            p = producer.get(src.id)
            if p is not None and p.op_name == "reshape" and len(p.inputs) == 1 and (
                    n.out.id not in exposed or _fresh(p.inputs[0], producer, exposed)):
                # eager may have copied in the middle reshape where the merged one views src
                src = p.inputs[0]
            if _same_type(n, src):
                x = src
            elif src is not n.inputs[0]:
                n.inputs = [src]
                if n.out.id in exposed:
                    exposed.add(src.id)
        if x is None and name == "clone" and len(n.inputs) == 1 \
                and isinstance(n.inputs[0], Value) and not n.attrs.get("memory_format"):
            src = n.inputs[0]
            p = producer.get(src.id)
            if p is not None and _computes_new_array(p) and src.id not in exposed \
                    and _same_type(n, src):
                x = src
        if x is not None:
            replace[n.out.id] = x
            if n.out.id in exposed:
                exposed.add(x.id)
            continue
        kept.append(n)
        producer[n.out.id] = n
    g.nodes = kept
    g.outputs = [replace.get(v.id, v) for v in g.outputs]
    return g
