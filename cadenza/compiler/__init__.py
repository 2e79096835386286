"""cadenza.compiler, behind the function ``cadenza.compile`` (a module named cadenza.compile
would replace that function on import).

``compile(fn_or_module)`` traces a call into a static Graph (``cadenza.graph``), runs the pass
pipeline and executes the graph on later calls whose guards hold; see compiled.py and
guards.py. Only the NumPy interpreter backend exists yet: ``backend="c"`` runs it with a
one-line notice.

>>> import cadenza
>>> @cadenza.compile
... def f(x):
...     return (x * 2).sum()
>>> f(cadenza.ones(3))
tensor(6.)
"""
from __future__ import annotations

import warnings

from .compiled import STATS, CompiledFunction, CompiledModule

_BACKENDS = ("numpy", "c", "inductor", "eager")
_noticed = set()


def compile(model=None, *, fullgraph=True, dynamic=None, backend="numpy", mode=None,
            options=None, disable=False, explain=False):
    """Compile a function or Module (also usable as ``@compile`` or ``@compile(...)``).

    ``fullgraph=True`` raises TraceError on Python that cannot be captured;
    ``fullgraph=False`` runs such a function eagerly with one warning. ``explain=True`` (or
    CADENZA_DEBUG=1) prints why each recompile happened. ``dynamic`` and ``mode`` are accepted
    for torch.compile compatibility (shapes are always specialised for now).
    """
    if backend is None:
        backend = "numpy"
    if not isinstance(backend, str) or backend not in _BACKENDS:
        raise ValueError(f"compile: expected backend in {_BACKENDS}, got {backend!r}")
    if backend in ("c", "inductor") and backend not in _noticed:
        _noticed.add(backend)
        warnings.warn(f"cadenza.compile: backend={backend!r} is not available yet; using the "
                      "NumPy graph interpreter", stacklevel=2)

    def wrap(m):
        if disable or backend == "eager":
            return m
        from ..nn.modules.module import Module
        if isinstance(m, Module):
            return CompiledModule(m, fullgraph=fullgraph, explain=explain)
        if not callable(m):
            raise TypeError(f"compile: expected a function or Module, got {type(m).__name__}")
        return CompiledFunction(m, fullgraph=fullgraph, explain=explain)
    if model is None:
        return wrap
    return wrap(model)


def stats() -> dict:
    """Counts since start (or reset_stats): compiles, recompiles, cache_hits, eager_fallbacks."""
    return dict(STATS)


def reset_stats() -> None:
    for k in STATS:
        STATS[k] = 0


__all__ = ["compile", "stats", "reset_stats", "CompiledFunction", "CompiledModule"]
