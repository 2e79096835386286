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
