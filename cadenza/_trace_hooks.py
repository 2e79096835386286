"""The two tracing hooks that eager code calls on its hot paths (random creation functions and
the optimizers' host-side scalar maths). Kept apart from the tracer so that ``import cadenza``
does not load the graph IR: they only read the tracer slot in grad_mode.state."""
from __future__ import annotations

import functools

from ._dispatch import state as _state, user_line


# inside torch.func.vmap: the function that draws for a batch as the vmap's randomness mode
# says (cadenza._batching sets it while a vmap runs), called as hook(fn, args, kwargs)
vmap_random = [None]


def traced_random(fn):
    """Decorator for random creation functions: recorded as ``random`` nodes while tracing;
    inside vmap drawn as its randomness mode says."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if vmap_random[0] is not None:    # (its draws come back here, traced as any)
            return vmap_random[0](wrapper, args, kwargs)
        tr = _state.tracer
        if tr is None or tr.paused:
            if _state.profiler is not None:  # a profile records it as aten::<name>
                return _state.profiler.call("aten::" + fn.__name__.rstrip("_"), fn, args,
                                            kwargs)
            return fn(*args, **kwargs)
        return tr.random(fn, args, kwargs)
    wrapper.__wrapped_random__ = fn
    return wrapper


def host_scalar(fn, *args):
    """Python float maths on 0-d tensors (or plain numbers): ``fn(*floats)`` in eager mode (a
    float), a ``host`` node returning a 0-d float64 Tensor while tracing (the same maths,
    evaluated on each call; plain numbers are constants of it)."""
    tr = _state.tracer
    if tr is None or tr.paused:
        return fn(*[a if isinstance(a, (int, float)) else a.item() for a in args])
    if all(not isinstance(a, (int, float)) for a in args):
        return tr.host(fn, args)
    tensors = [a for a in args if not isinstance(a, (int, float))]
    if not tensors:
        return fn(*args)

    def bound(*ts, _args=tuple(args)):
        it = iter(ts)
        return fn(*[a if isinstance(a, (int, float)) else next(it) for a in _args])
    bound.__name__ = getattr(fn, "__name__", "host")
    return tr.host(bound, tensors)


def hyper(group: dict, key: str):
    """An optimizer hyperparameter read by ``step()`` (``group["lr"]``): its float in eager
    mode; while tracing, a 0-d graph input read from ``group[key]`` on every call, so an
    LR scheduler changing it does not recompile the step. Use it through ``host_scalar`` and
    tensor ops (never ``alpha=``, which needs a number)."""
    tr = _state.tracer
    if tr is None or tr.paused:
        return number(group[key])
    return tr.hyper_input(group, key)


def number(v):
    """A hyperparameter as a Python number (one given as a 1-element Tensor via ``.item()``)."""
    return v if isinstance(v, (int, float)) else v.item()


def untraceable(what: str, hint: str, *tensors) -> None:
    """Called before raw array maths on ``tensors`` that compile cannot record: while tracing
    (unless every one is a constant of the trace) a TraceError naming the user's line, or with
    fullgraph=False the eager fallback; never a graph that replays the first call's values."""
    tr = _state.tracer
    if tr is None or tr.paused or all(tr.is_const(t) for t in tensors):
        return
    tr.fail(f"compile: {what} is not supported in compiled mode ({user_line()}); {hint}")
