"""cadenza.autograd.functional: jacobian, hessian, vjp, jvp over the dynamic graph."""
from __future__ import annotations

import numpy as np
from .._creation import zeros_like
from .._tensor_base import _make
from ..ops import stack
from .engine import grad


def _tup(x):
    return x if isinstance(x, tuple) else (x,)


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    inputs_t = tuple(i.detach().requires_grad_() for i in _tup(inputs))
    out = func(*inputs_t)
    gs = grad(_tup(out), inputs_t, None if v is None else _tup(v), create_graph=create_graph,
              allow_unused=True, materialize_grads=True)
    gs = gs if isinstance(inputs, tuple) else gs[0]
    return out, gs


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False, strategy=None):
    """d func(inputs) / d inputs: shape out.shape + in.shape (tuples when inputs is a tuple)."""
    single = not isinstance(inputs, tuple)
    inputs_t = tuple(i.detach().requires_grad_() for i in _tup(inputs))
    out = func(*inputs_t)
    rows = [[] for _ in inputs_t]
    for k in range(out.numel()):
        go = np.zeros(out._data.shape, dtype=out._data.dtype)
        go.flat[k] = 1
        gs = grad([out], inputs_t, [_make(go)], retain_graph=True, create_graph=create_graph,
                  allow_unused=True, materialize_grads=True)
        for r, g in zip(rows, gs):
            r.append(g)
    res = tuple(stack(r).reshape(tuple(out.shape) + tuple(x.shape)) for r, x in
                zip(rows, inputs_t))
    return res[0] if single else res


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False):

    def g(*xs):
        out = func(*xs)
        gs = grad([out], xs, create_graph=True, allow_unused=True, materialize_grads=True)
        return gs[0] if len(gs) == 1 else gs
    return jacobian(g, inputs, create_graph=create_graph)


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """Forward-mode product through the double-vjp trick."""
    inputs_t = tuple(i.detach().requires_grad_() for i in _tup(inputs))
    out = func(*inputs_t)
    u = zeros_like(out).requires_grad_()
    gs = grad([out], inputs_t, [u], create_graph=True, allow_unused=True,
              materialize_grads=True)
    vs = _tup(v) if v is not None else tuple(zeros_like(x) + 1 for x in inputs_t)
    (jv,) = grad(gs, [u], vs, create_graph=create_graph, allow_unused=True,
                 materialize_grads=True)
    return out, jv
