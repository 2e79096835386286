"""cadenza.autograd.functional: jacobian, hessian, vjp, jvp, vhp, hvp over the dynamic graph."""
from __future__ import annotations

import numpy as np
from .._creation import zeros, zeros_like
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
    return _detach(out, create_graph), gs


def _detach(out, create_graph):
    if create_graph:
        return out
    return tuple(o.detach() for o in out) if isinstance(out, tuple) else out.detach()


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False, strategy=None):
    """d func(inputs) / d inputs: shape out.shape + in.shape. As in torch, a tuple of inputs
    gives a tuple over them, a tuple of outputs a tuple over those (of tuples over the
    inputs when both are tuples)."""
    in_tuple, inputs_t = isinstance(inputs, tuple), tuple(
        i.detach().requires_grad_() for i in _tup(inputs))
    outs = func(*inputs_t)
    result = []
    for out in _tup(outs):
        rows = [[] for _ in inputs_t]
        for k in range(out.numel()):
            go = np.zeros(out._data.shape, dtype=out._data.dtype)
            go.flat[k] = 1
            gs = grad([out], inputs_t, [_make(go)], retain_graph=True,
                      create_graph=create_graph, allow_unused=True, materialize_grads=True)
            for r, g in zip(rows, gs):
                r.append(g)
        result.append(tuple(
            stack(r).reshape(tuple(out.shape) + tuple(x.shape)) if r else
            zeros(tuple(out.shape) + tuple(x.shape), dtype=x.dtype)
            for r, x in zip(rows, inputs_t)))
    per_out = [r if in_tuple else r[0] for r in result]
    return tuple(per_out) if isinstance(outs, tuple) else per_out[0]


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False,
            outer_jacobian_strategy="reverse-mode"):
    """Second derivatives of a scalar func: H[i][j] = d2 f / dx_i dx_j for a tuple of inputs."""
    in_tuple = isinstance(inputs, tuple)

    def g(*xs):
        out = func(*xs)
        gs = grad([out], xs, create_graph=True, allow_unused=True, materialize_grads=True)
        return tuple(gs) if in_tuple else gs[0]
    return jacobian(g, inputs, create_graph=create_graph)


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T H) for a scalar func, shaped like the inputs."""
    inputs_t = tuple(i.detach().requires_grad_() for i in _tup(inputs))
    out = func(*inputs_t)
    gs = grad([out], inputs_t, create_graph=True, allow_unused=True, materialize_grads=True)
    vs = _tup(v) if v is not None else tuple(zeros_like(x) + 1 for x in inputs_t)
    res = grad(list(gs), inputs_t, list(vs), create_graph=create_graph, allow_unused=True,
               materialize_grads=True)
    return _detach(out, create_graph), (tuple(res) if isinstance(inputs, tuple) else res[0])


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), H v) for a scalar func: the Hessian of a twice differentiable function
    is symmetric, so H v = v^T H (what torch's double-backward computes)."""
    return vhp(func, inputs, v, create_graph=create_graph, strict=strict)


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
    return _detach(out, create_graph), jv
