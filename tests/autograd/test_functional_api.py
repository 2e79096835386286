"""torch.autograd.functional's structure and values: jacobian over tuples of inputs and of
outputs, hessian over a tuple of inputs (tuple of tuples), vhp / hvp, and the returned
outputs detached unless create_graph, each against torch."""
import numpy as np
import pytest

import cadenza
import cadenza.autograd.functional as CAF

torch = pytest.importorskip("torch")
TAF = torch.autograd.functional

A = np.array([[0.3, -0.2, 0.5], [1.0, 0.4, -0.7]])


def _both(fn_builder, args_np):
    out = []
    for lib, af in ((cadenza, CAF), (torch, TAF)):
        args = tuple(lib.tensor(a, dtype=lib.float64) for a in args_np)
        out.append(fn_builder(lib, af, args))
    return out


def _flat(x):
    if isinstance(x, (tuple, list)):
        return [y for e in x for y in _flat(e)]
    return [x.detach().numpy()]


def _check(c, t):
    fc, ft = _flat(c), _flat(t)
    assert len(fc) == len(ft)
    for a, b in zip(fc, ft):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_jacobian_tuple_inputs_and_outputs():
    f = lambda lib: (lambda a, b: (a * b.sum(), lib.sin(a).prod() + b[0] ** 2))
    c, t = _both(lambda lib, af, xs: af.jacobian(f(lib), xs), (A[0], A[1, :2]))
    assert isinstance(c, tuple) and isinstance(c[0], tuple)
    _check(c, t)
    c, t = _both(lambda lib, af, xs: af.jacobian(lambda a: (a.exp(), a.sum()), xs[0]), (A[0],))
    _check(c, t)


def test_hessian_tuple_inputs():
    f = lambda a, b: (a.pow(3) * b.sum()).sum() + (a[:2] * b).exp().sum()
    c, t = _both(lambda lib, af, xs: af.hessian(f, xs), (A[0], A[1, :2]))
    assert len(c) == 2 and len(c[0]) == 2
    _check(c, t)
    c, t = _both(lambda lib, af, xs: af.hessian(lambda a: a.pow(4).sum(), xs), (A[0],))
    _check(c, t)


@pytest.mark.parametrize("name", ["hvp", "vhp"])
def test_hvp_vhp(name):
    f = lambda lib: (lambda x: (x.sin() * x.roll(1)).sum() + x.pow(3).sum())
    c, t = _both(lambda lib, af, xs: getattr(af, name)(f(lib), xs[0], xs[1]), (A[0], A[1]))
    _check(c, t)
    assert not c[0].requires_grad and not t[0].requires_grad
    c, t = _both(lambda lib, af, xs: getattr(af, name)(
        lambda a, b: (a * b * b).sum(), (xs[0], xs[1]), (xs[1], xs[0])), (A[0], A[1]))
    _check(c, t)


def test_outputs_detached_unless_create_graph():
    x = cadenza.tensor([0.5, 1.5], requires_grad=True)
    out, _ = CAF.vjp(lambda a: a.exp(), x, cadenza.ones(2))
    assert not out.requires_grad
    out, _ = CAF.jvp(lambda a: a.exp(), x, cadenza.ones(2))
    assert not out.requires_grad
    out, g = CAF.vjp(lambda a: a.exp(), x, cadenza.ones(2), create_graph=True)
    assert out.requires_grad and g.requires_grad
