"""torch.autograd.forward_ad (dual_level / make_dual / unpack_dual) against PyTorch."""
import numpy as np
import pytest
import torch as T

import cadenza as C
import cadenza.autograd.forward_ad as fwAD


def _pair(a):
    return C.tensor(a), T.tensor(a)


def _fn(lib, x, w):
    return lib.tanh(x @ w).sin().sum(dim=1) * lib.exp(x[:, 0])


def test_tangent_matches_torch_for_two_duals():
    rs = np.random.RandomState(0)
    xa, wa, vx, vw = (rs.randn(*s) for s in ((3, 4), (4, 2), (3, 4), (4, 2)))
    with fwAD.dual_level():
        out = _fn(C, fwAD.make_dual(C.tensor(xa), C.tensor(vx)),
                  fwAD.make_dual(C.tensor(wa), C.tensor(vw)))
        primal, tangent = fwAD.unpack_dual(out)
    with T.autograd.forward_ad.dual_level():
        make = T.autograd.forward_ad.make_dual
        ref = T.autograd.forward_ad.unpack_dual(
            _fn(T, make(T.tensor(xa), T.tensor(vx)), make(T.tensor(wa), T.tensor(vw))))
    np.testing.assert_allclose(primal.numpy(), ref.primal.numpy(), rtol=1e-12)
    np.testing.assert_allclose(tangent.numpy(), ref.tangent.numpy(), rtol=1e-10)
    assert not primal.requires_grad and not tangent.requires_grad


def test_dual_itself_unrelated_and_closed_level():
    x, _ = _pair([1.0, 2.0])
    v = C.tensor([0.5, -1.0])
    with fwAD.dual_level():
        d = fwAD.make_dual(x, v)
        assert fwAD.unpack_dual(d).tangent is v or C.equal(fwAD.unpack_dual(d).tangent, v)
        assert fwAD.unpack_dual(C.ones(2) * 3).tangent is None     # no dual dependence
        p, t = fwAD.unpack_dual(d * 0 + 1)                          # depends, J = 0
        assert C.equal(t, C.zeros(2))
        d.mul_(2)                                                   # in-place on a dual
        assert C.allclose(fwAD.unpack_dual(d.sum()).tangent, C.tensor(-1.0))
    assert fwAD.unpack_dual(d).tangent is None                      # level closed
    with pytest.raises(RuntimeError, match="make_dual: no forward AD level"):
        fwAD.make_dual(x, v)
    with fwAD.dual_level():
        with pytest.raises(RuntimeError, match="tangent to have the primal's shape"):
            fwAD.make_dual(x, C.zeros(3))
        with pytest.raises(ValueError, match="floating point"):
            fwAD.make_dual(C.tensor([1, 2]), C.tensor([1, 2]))


def test_primal_requiring_grad_keeps_its_reverse_graph():
    w = C.tensor([1.0, -2.0], requires_grad=True)
    with fwAD.dual_level():
        d = fwAD.make_dual(w, C.tensor([1.0, 1.0]))
        y = (d ** 3).sum()
        assert C.allclose(fwAD.unpack_dual(y).tangent, C.tensor(15.0))
    y.backward()
    assert C.allclose(w.grad, C.tensor([3.0, 12.0]))
