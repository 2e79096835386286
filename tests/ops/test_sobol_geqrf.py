"""``torch.quasirandom.SobolEngine`` (unscrambled points bit for bit against torch; scrambled
ones by their net property, since they come from Cadenza's random stream) and ``torch.geqrf``
with ``orgqr``/``ormqr`` against torch (the op table has their value entries too)."""
import numpy as np
import pytest
import torch

import cadenza
from cadenza.quasirandom import SobolEngine


def _same(ours, theirs):
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]


@pytest.mark.parametrize("dim", [1, 2, 7, 21, 64, 1111])
def test_sobol_points_are_torchs(dim):
    a, b = torch.quasirandom.SobolEngine(dim), SobolEngine(dim)
    _same(b.sobolstate, a.sobolstate)
    _same(b.draw(5), a.draw(5))
    _same(b.quasi, a.quasi)
    a.fast_forward(300), b.fast_forward(300)
    _same(b.quasi, a.quasi)
    _same(b.draw(200, dtype=cadenza.float64), a.draw(200, dtype=torch.float64))
    assert b.num_generated == a.num_generated == 505
    a.reset(), b.reset()
    _same(b.draw_base2(3), a.draw_base2(3))


def test_sobol_api():
    e = SobolEngine(3)
    assert (e.MAXBIT, e.dimension, e.scramble, e.seed) == (30, 3, False, None)
    assert repr(e) == repr(torch.quasirandom.SobolEngine(3)) == "SobolEngine(dimension=3)"
    out = cadenza.empty(0)
    assert e.draw(4, out=out) is out and out.shape == (4, 3)
    with pytest.raises(ValueError, match="power of 2"):
        e.draw_base2(1)
    cadenza.set_default_dtype(cadenza.float64)
    try:
        assert e.draw().dtype == cadenza.float64
    finally:
        cadenza.set_default_dtype(cadenza.float32)
    with pytest.raises(ValueError, match=r"\[1, 1111\]"):
        SobolEngine(1112)
    with pytest.raises(ValueError, match="dimension"):
        SobolEngine(0)


def test_scrambled_sobol_is_a_seeded_net():
    e = SobolEngine(5, scramble=True, seed=3)
    assert repr(e) == "SobolEngine(dimension=5, scramble=True, seed=3)"
    x = e.draw_base2(6).numpy()
    assert x.dtype == np.float32 and (x >= 0).all() and (x < 1).all()
    assert not np.array_equal(x[:4], SobolEngine(5).draw(4).numpy())
    for m in range(7):  # each 2^m block: one point per interval of length 2^-m, per coordinate
        for block in x.reshape(-1, 2 ** m, 5):
            cells = np.sort(np.floor(block * 2 ** m), axis=0)
            np.testing.assert_array_equal(cells, np.arange(2 ** m)[:, None].repeat(5, 1))
    np.testing.assert_array_equal(SobolEngine(5, scramble=True, seed=3).draw(64).numpy(), x)
    cadenza.manual_seed(0)
    y = SobolEngine(5, scramble=True).draw(8).numpy()
    cadenza.manual_seed(0)
    np.testing.assert_array_equal(SobolEngine(5, scramble=True).draw(8).numpy(), y)


@pytest.mark.parametrize("shape", [(4, 3), (3, 5), (2, 3, 3), (0, 2, 2)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_geqrf_is_torchs(shape, dtype):
    a = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    ours, theirs = cadenza.geqrf(cadenza.tensor(a)), torch.geqrf(torch.tensor(a))
    assert type(ours).__name__ == "geqrf" and ours._fields == ("a", "tau")
    tol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(ours.a.numpy(), theirs.a.numpy(), atol=tol)
    np.testing.assert_allclose(ours.tau.numpy(), theirs.tau.numpy(), atol=tol)
    np.testing.assert_allclose(cadenza.tensor(a).geqrf()[1].numpy(), theirs.tau.numpy(),
                               atol=tol)
    if shape[-2] >= shape[-1]:  # Q R is the input again
        q = cadenza.orgqr(*ours)
        r = ours.a.triu()[..., :shape[-1], :]
        np.testing.assert_allclose((q @ r).numpy(), a, atol=tol * 10)


def test_geqrf_has_no_derivative_and_ormqr_has_one():
    a = cadenza.randn(4, 3, dtype=cadenza.float64, requires_grad=True)
    with pytest.raises(NotImplementedError, match="derivative for 'geqrf'"):
        cadenza.geqrf(a).a.sum().backward()
    with pytest.raises(RuntimeError, match="geqrf"):
        cadenza.geqrf(cadenza.ones(3))
    h, tau = cadenza.geqrf(a.detach())
    h.requires_grad_(), tau.requires_grad_()
    c = np.random.default_rng(1).standard_normal((2, 4))
    ours = cadenza.ormqr(h, tau, cadenza.tensor(c), left=False, transpose=True)
    ours.square().sum().backward()
    th, ttau = torch.tensor(h.detach().numpy(), requires_grad=True), \
        torch.tensor(tau.detach().numpy(), requires_grad=True)
    theirs = torch.ormqr(th, ttau, torch.tensor(c), left=False, transpose=True)
    theirs.square().sum().backward()
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(h.grad.numpy(), th.grad.numpy(), atol=1e-10)
    np.testing.assert_allclose(tau.grad.numpy(), ttau.grad.numpy(), atol=1e-10)
    with pytest.raises(RuntimeError, match="ormqr"):
        cadenza.ormqr(h, tau[:2], cadenza.tensor(c), left=False)
    out = (cadenza.empty(0, dtype=cadenza.float64), cadenza.empty(0, dtype=cadenza.float64))
    assert cadenza.geqrf(a.detach(), out=out)[0] is out[0]
    np.testing.assert_array_equal(out[1].numpy(), tau.detach().numpy())
