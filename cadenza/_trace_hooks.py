"""The two tracing hooks that eager code calls on its hot paths (random creation functions and
the optimizers' host-side scalar maths). Kept apart from the tracer so that ``import cadenza``
does not load the graph IR: they only read the tracer slot in grad_mode.state."""
from __future__ import annotations

import functools

from .autograd.grad_mode import state as _state


def traced_random(fn):
    """Decorator for random creation functions: recorded as ``random`` nodes while tracing."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        tr = _state.tracer
        if tr is None or tr.paused:
            return fn(*args, **kwargs)
        return tr.random(fn, args, kwargs)
    wrapper.__wrapped_random__ = fn
    return wrapper


def host_scalar(fn, *tensors):
    """Python float maths on 0-d tensors: ``fn(*[t.item()])`` in eager mode (a float), a ``host``
    node returning a 0-d float64 Tensor while tracing (same maths, evaluated on each call)."""
    tr = _state.tracer
    if tr is None or tr.paused:
        return fn(*[t.item() for t in tensors])
    return tr.host(fn, tensors)


def untraceable(what: str, hint: str, *tensors) -> None:
    """Called before raw array maths on ``tensors`` that compile cannot record: while tracing
    (unless every one is a constant of the trace) a TraceError naming the user's line, or with
    fullgraph=False the eager fallback; never a graph that replays the first call's values."""
    tr = _state.tracer
    if tr is None or tr.paused or all(tr.is_const(t) for t in tensors):
        return
    from .graph.trace import user_line
    tr.fail(f"compile: {what} is not supported in compiled mode ({user_line()}); {hint}")
