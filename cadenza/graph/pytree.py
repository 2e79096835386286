"""Arguments and results as leaves of a small pytree (tuples, lists, dicts, namedtuples):
``flatten`` gives (leaves, treedef, paths) with a hashable ``treedef``; ``unflatten`` rebuilds."""
from __future__ import annotations


def flatten(obj, path="", leaves=None, paths=None):
    """(leaves, treedef, paths): ``treedef`` is hashable; ``unflatten`` rebuilds."""
    if leaves is None:
        leaves, paths = [], []
    if isinstance(obj, (list, tuple)):
        sub = tuple(flatten(x, f"{path}[{i}]", leaves, paths)[1] for i, x in enumerate(obj))
        if hasattr(obj, "_fields"):   # (values, indices) of max/sort/topk: rebuilt, not kept
            return leaves, ("namedtuple", type(obj), sub), paths
        return leaves, (type(obj).__name__, sub), paths
    parts = getattr(obj, "_graph_parts", None)
    if parts is not None:   # a sparse tensor: its index and value tensors are the leaves
        meta, named = parts()
        sub = tuple(flatten(t, f"{path}.{n}", leaves, paths)[1] for n, t in named)
        return leaves, ("parts", type(obj), meta, sub), paths
    if isinstance(obj, dict):
        keys = tuple(obj)
        sub = tuple(flatten(obj[k], f"{path}[{k!r}]", leaves, paths)[1] for k in keys)
        return leaves, ("dict", keys, sub), paths
    leaves.append(obj)
    paths.append(path)
    return leaves, None, paths


def unflatten(treedef, leaves):
    it = iter(leaves)

    def build(td):
        if td is None:
            return next(it)
        if td[0] == "dict":
            return {k: build(s) for k, s in zip(td[1], td[2])}
        if td[0] == "namedtuple":
            return td[1](*[build(s) for s in td[2]])
        if td[0] == "parts":
            return td[1]._from_graph_parts(td[2], [build(s) for s in td[3]])
        seq = [build(s) for s in td[1]]
        return tuple(seq) if td[0] == "tuple" else seq
    return build(treedef)


def flatten_result(result):
    """For Tracer.finish: (leaves, rebuild(leaves) -> structure)."""
    leaves, td, _ = flatten(result)
    return leaves, (lambda new: unflatten(td, new))
