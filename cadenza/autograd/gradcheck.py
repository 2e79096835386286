"""Finite-difference checks of gradients: gradcheck (first order) and gradgradcheck
(second order), with PyTorch's signatures. Use float64 inputs."""
from __future__ import annotations

import warnings

import numpy as np
from .._tensor_base import TensorBase as Tensor, _make
from .engine import grad as autograd_grad
from .grad_mode import enable_grad, no_grad


class GradcheckError(RuntimeError):
    pass


def _as_tuple(x):
    return x if isinstance(x, tuple) else (x,)


def _flat_outputs(fn, inputs):
    outs = _as_tuple(fn(*inputs))
    return [o for o in outs if isinstance(o, Tensor) and o.is_floating_point()]


def _numerical_jacobian(fn, inputs, i, eps):
    """d(all outputs, flattened)/d(inputs[i]) by central differences."""
    x = inputs[i]
    base = x._data
    cols = []
    with no_grad():
        for k in range(base.size):
            orig = base.flat[k]
            base.flat[k] = orig + eps
            plus = np.concatenate([o._data.ravel().astype(np.float64)
                                   for o in _flat_outputs(fn, inputs)] or [np.zeros(0)])
            base.flat[k] = orig - eps
            minus = np.concatenate([o._data.ravel().astype(np.float64)
                                    for o in _flat_outputs(fn, inputs)] or [np.zeros(0)])
            base.flat[k] = orig
            cols.append((plus - minus) / (2 * eps))
    if not cols:
        n_out = sum(o._data.size for o in _flat_outputs(fn, inputs))
        return np.zeros((n_out, 0))
    return np.stack(cols, axis=1)


def _analytical_jacobian(fn, inputs, i):
    outs = _flat_outputs(fn, inputs)
    rows = []
    x = inputs[i]
    for o in outs:
        for k in range(o._data.size):
            go = np.zeros(o._data.shape, dtype=o._data.dtype)
            go.flat[k] = 1
            (g,) = autograd_grad([o], [x], [_make(go)], retain_graph=True, allow_unused=True)
            rows.append(np.zeros(x._data.size) if g is None else g._data.ravel())
    return np.stack(rows, axis=0) if rows else np.zeros((0, x._data.size))


def gradcheck(func, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True,
              nondet_tol=0.0, check_undefined_grad=True, fast_mode=False, **_):
    """True if analytical gradients of ``func`` match finite differences at ``inputs``."""
    inputs = _as_tuple(inputs)
    for i, x in enumerate(inputs):
        if not (isinstance(x, Tensor) and x.requires_grad):
            continue
        if x.dtype.name != "float64":
            warnings.warn(f"gradcheck: input {i} is {x.dtype.name}, not float64; the check may "
                          "fail from rounding alone")
        num = _numerical_jacobian(func, inputs, i, eps)
        ana = _analytical_jacobian(func, inputs, i)
        if num.shape != ana.shape or not np.allclose(ana, num, atol=atol, rtol=rtol):
            if raise_exception:
                err = np.abs(ana - num).max() if num.shape == ana.shape else "shape mismatch"
                raise GradcheckError(f"Jacobian mismatch for output 0 with respect to input {i},"
                                     f"\nnumerical:{num}\nanalytical:{ana}\nmax abs diff: {err}")
            return False
    return True


def gradgradcheck(func, inputs, grad_outputs=None, *, eps=1e-6, atol=1e-5, rtol=1e-3,
                  raise_exception=True, gen_non_contig_grad_outputs=False, **_):
    """gradcheck of the map (inputs, grad_outputs) -> d(outputs)/d(inputs) . grad_outputs."""
    inputs = _as_tuple(inputs)
    outs = _flat_outputs(func, inputs)
    if grad_outputs is None:
        rng = np.random.default_rng(0)
        grad_outputs = tuple(_make(rng.standard_normal(o._data.shape).astype(o._data.dtype))
                             .requires_grad_() for o in outs)
    grad_outputs = _as_tuple(grad_outputs)
    diff_idx = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]

    def first_grads(*args):
        ins, gos = args[:len(inputs)], args[len(inputs):]
        # the numerical Jacobian calls this under no_grad: the first derivative still needs a graph
        with enable_grad():
            o = _flat_outputs(func, ins)
            gs = autograd_grad(o, [ins[i] for i in diff_idx], gos, create_graph=True,
                               allow_unused=True)
        return tuple(g for g in gs if g is not None)

    return gradcheck(first_grads, inputs + tuple(grad_outputs), eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception)
