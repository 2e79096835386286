"""Run one function on PyTorch and on Cadenza with the same (real or complex) inputs and a
real loss, and compare the outputs and every input's gradient."""
import numpy as np
import torch

import cadenza


def rng(seed=0):
    return np.random.default_rng(seed)


def carray(*shape, seed=0, dtype=np.complex128):
    r = rng(seed)
    return (r.standard_normal(shape) + 1j * r.standard_normal(shape)).astype(dtype)


def rarray(*shape, seed=0, dtype=np.float64):
    return rng(seed).standard_normal(shape).astype(dtype)


def _loss(lib, out, w):
    """A real loss with weights w that reaches every part of out (real and imaginary)."""
    if out.is_complex():
        out = lib.view_as_real(out.resolve_conj())
    return (out * lib.tensor(w.reshape(tuple(out.shape)), dtype=out.dtype)).sum()


def _np(t):
    return t.detach().resolve_conj().numpy()


def check(fn, *arrays, grad=True, rtol=1e-6, atol=1e-8, requires=None):
    """fn(lib, *tensors) on torch and cadenza; outputs (one tensor or a tuple) and the
    gradients of a weighted real loss must agree (values and dtypes)."""
    results = []
    for lib in (torch, cadenza):
        ts = []
        for i, a in enumerate(arrays):
            if isinstance(a, np.ndarray):
                want = grad and a.dtype.kind in "fc" and (requires is None or i in requires)
                ts.append(lib.tensor(a, requires_grad=want))
            else:
                ts.append(a)
        out = fn(lib, *ts)
        outs = out if isinstance(out, (tuple, list)) else (out,)
        grads = []
        if grad:
            w = rng(99)
            loss = sum(_loss(lib, o, w.standard_normal(o.numel() * (2 if o.is_complex() else 1)))
                       for o in outs if o.requires_grad)
            loss.backward()
            grads = [t.grad for t in ts if isinstance(t, lib.Tensor) and t.requires_grad]
        results.append((outs, grads))
    (t_outs, t_grads), (c_outs, c_grads) = results
    assert len(t_outs) == len(c_outs)
    for a, b in zip(t_outs, c_outs):
        assert str(a.dtype).split(".")[1] == b.dtype.name, (a.dtype, b.dtype)
        assert tuple(a.shape) == tuple(b.shape)
        np.testing.assert_allclose(_np(b), _np(a), rtol=rtol, atol=atol)
    assert len(t_grads) == len(c_grads)
    for a, b in zip(t_grads, c_grads):
        assert (a is None) == (b is None)
        if a is not None:
            assert str(a.dtype).split(".")[1] == b.dtype.name, (a.dtype, b.dtype)
            np.testing.assert_allclose(_np(b), _np(a), rtol=rtol, atol=atol)
    return c_outs
