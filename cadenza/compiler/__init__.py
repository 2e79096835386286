"""cadenza.compiler, behind the function ``cadenza.compile`` (a module named cadenza.compile
would replace that function on import).

``compile(fn_or_module)`` traces a call into a static Graph (``cadenza.graph``), runs the pass
pipeline and executes the graph on later calls whose guards hold; see compiled.py and
guards.py. ``backend="c"`` (the default; ``"inductor"`` is an alias so torch.compile calls
port unchanged) runs fused kernels generated as C (``cadenza.codegen``); ``backend="numpy"``
interprets the graph with NumPy.

>>> import cadenza
>>> @cadenza.compile
... def f(x):
...     return (x * 2).sum()
>>> f(cadenza.ones(3))
tensor(6.)
"""
from __future__ import annotations

import types

from .._dispatch import stateful_kind
from .compiled import STATS, CompiledFunction, CompiledModule, OptimizedModule
from ..autograd.grad_mode import state
from ..codegen.executor import STATS as KSTATS

_BACKENDS = ("numpy", "c", "inductor", "eager")


def compile(model=None, *, fullgraph=True, dynamic=None, backend="c", mode=None,
            options=None, disable=False, explain=False):
    """Compile a function or Module (also usable as ``@compile`` or ``@compile(...)``).

    ``fullgraph=True`` raises TraceError on Python that cannot be captured;
    ``fullgraph=False`` runs such a function eagerly with one warning. ``explain=True`` (or
    CADENZA_DEBUG=1) prints why each recompile happened. ``dynamic`` and ``mode`` are accepted
    for torch.compile compatibility (shapes are always specialised for now).
    """
    if backend is None:
        backend = "c"
    if not isinstance(backend, str) or backend not in _BACKENDS:
        raise ValueError(f"compile: expected backend in {_BACKENDS}, got {backend!r}")
    if backend == "inductor":
        backend = "c"
    if dynamo_config.suppress_errors:     # torch._dynamo.config.suppress_errors = True
        fullgraph = False

    def wrap(m):
        if disable or backend == "eager":
            return m
        if stateful_kind(m) == "module":
            return CompiledModule(m, fullgraph=fullgraph, explain=explain, backend=backend)
        if not callable(m):
            raise TypeError(f"compile: expected a function or Module, got {type(m).__name__}")
        return CompiledFunction(m, fullgraph=fullgraph, explain=explain, backend=backend)
    if model is None:
        return wrap
    return wrap(model)


def stats() -> dict:
    """Counts since start (or reset_stats): compiles, recompiles, cache_hits, eager_fallbacks,
    warmups (traced calls that changed their own guards, e.g. created optimizer state, whose
    graph was not kept),
    and from codegen: kernels generated, libraries built, libraries found in the disk cache,
    seconds spent building."""
    return {**STATS, **KSTATS}


def reset_stats() -> None:
    for d in (STATS, KSTATS):
        for k in d:
            d[k] = 0


def is_compiling() -> bool:
    """True while ``cadenza.compile`` traces a call (as ``torch.compiler.is_compiling``): code
    can take a capturable path, e.g. a mixture of experts routing densely instead of by
    data-dependent indices."""
    return state.tracer is not None


def is_dynamo_compiling() -> bool:
    return is_compiling()


def disable(fn=None, recursive=True, *, reason=None):
    """``torch.compiler.disable``: torch runs ``fn`` outside the graph. Cadenza's tracer
    records through it instead (the values are the same; code it cannot capture raises
    TraceError, or runs the whole call eagerly with fullgraph=False). Usable as a
    decorator with or without arguments."""
    if fn is None:
        return lambda f: f
    return fn


def allow_in_graph(fn):
    """``torch.compiler.allow_in_graph``: every traceable function is already in the graph."""
    return fn


def assume_constant_result(fn):
    """``torch.compiler.assume_constant_result``: Cadenza specialises on Python values it
    reads while tracing (guards recompile when they change), so ``fn`` is taken as it is."""
    return fn


def reset() -> None:
    """``torch.compiler.reset``: forget the compile statistics; graphs belong to their
    compiled objects and go with them."""
    reset_stats()


# torch._dynamo.config's settings (cadenza._dynamo.config is this object); compile reads
# suppress_errors
dynamo_config = types.SimpleNamespace(
    suppress_errors=False, cache_size_limit=8, accumulated_cache_size_limit=256,
    verbose=False, optimize_ddp=True, capture_scalar_outputs=False,
    automatic_dynamic_shapes=True, recompile_limit=8)


__all__ = ["compile", "stats", "reset_stats", "is_compiling", "CompiledFunction",
           "CompiledModule", "OptimizedModule", "is_dynamo_compiling", "disable", "allow_in_graph",
           "assume_constant_result", "reset", "dynamo_config"]
