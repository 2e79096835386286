"""torch.svd_lowrank / torch.pca_lowrank (cadenza/_torch_extras.py): randomised, so tested by
their properties, by singular values against torch's and the exact SVD, and by gradients
where the result does not depend on the sketch (an exactly rank-q matrix)."""
import numpy as np
import pytest

import cadenza

torch = pytest.importorskip("torch")


def _low_rank(m, n, r, seed=0, noise=0.0):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((m, r)) @ np.diag(np.linspace(5, 1, r)) @ rng.standard_normal((r, n))
    return a + noise * rng.standard_normal((m, n))


@pytest.mark.parametrize("shape", [(9, 6), (5, 11), (2, 8, 7)])
def test_svd_lowrank_reconstructs_and_matches_torch(shape):
    a = _low_rank(*shape[-2:], 3, noise=1e-3)
    a = np.broadcast_to(a, shape).copy()
    cadenza.manual_seed(0)
    U, S, V = cadenza.svd_lowrank(cadenza.tensor(a), q=3, niter=3)
    k = 3
    assert U.shape == (*shape[:-1], k) and S.shape == (*shape[:-2], k)
    assert V.shape == (*shape[:-2], shape[-1], k)
    eye = np.eye(k)
    np.testing.assert_allclose((U.mH @ U).numpy(), np.broadcast_to(eye, (*shape[:-2], k, k)),
                               atol=1e-12)
    np.testing.assert_allclose((V.mH @ V).numpy(), np.broadcast_to(eye, (*shape[:-2], k, k)),
                               atol=1e-12)
    approx = (U * S.unsqueeze(-2)) @ V.mH
    assert np.abs(approx.numpy() - a).max() < 1e-2
    exact = np.linalg.svd(a, compute_uv=False)[..., :k]
    np.testing.assert_allclose(S.numpy(), exact, rtol=1e-6)
    _, ts, _ = torch.svd_lowrank(torch.tensor(a), q=3, niter=3)
    np.testing.assert_allclose(S.numpy(), ts.numpy(), rtol=1e-6)
    # q beyond min(m, n) is clipped, as torch
    assert cadenza.svd_lowrank(cadenza.tensor(a), q=50)[1].shape[-1] == min(shape[-2:])


def test_svd_lowrank_gradient_matches_torch_and_gradcheck():
    a = _low_rank(6, 5, 3, seed=1)
    x = cadenza.tensor(a, requires_grad=True)
    t = torch.tensor(a, requires_grad=True)
    cadenza.svd_lowrank(x, q=3)[1].sum().backward()
    torch.svd_lowrank(t, q=3)[1].sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), atol=1e-8)

    def singular_values(y):
        cadenza.manual_seed(0)
        return cadenza.svd_lowrank(y, q=3, niter=4)[1]
    assert cadenza.autograd.gradcheck(singular_values, (cadenza.tensor(a, requires_grad=True),),
                                      eps=1e-6, atol=1e-5)


def test_pca_lowrank_centers_and_validates():
    a = _low_rank(12, 5, 2, seed=2) + 3.0
    cadenza.manual_seed(0)
    U, S, V = cadenza.pca_lowrank(cadenza.tensor(a), q=2)
    _, ts, tv = torch.pca_lowrank(torch.tensor(a), q=2)
    np.testing.assert_allclose(S.numpy(), ts.numpy(), rtol=1e-8)
    # the same principal directions up to sign
    np.testing.assert_allclose(np.abs(V.numpy().T @ tv.numpy()), np.eye(2), atol=1e-8)
    assert cadenza.pca_lowrank(cadenza.tensor(a))[1].shape == (5,)
    with pytest.raises(ValueError, match="not greater than min"):
        cadenza.pca_lowrank(cadenza.tensor(a), q=6)
    with pytest.raises(ValueError, match="matrix"):
        cadenza.svd_lowrank(cadenza.ones(4))
    with pytest.raises(RuntimeError, match="floating point"):
        cadenza.svd_lowrank(cadenza.ones(4, 3, dtype=cadenza.int64))
    with pytest.raises(TypeError, match="q must be an int"):
        cadenza.svd_lowrank(cadenza.ones(4, 3), q=2.5)
    with pytest.raises(RuntimeError, match="non-negative"):
        cadenza.svd_lowrank(cadenza.ones(4, 3), q=-1)


def _spd(n, seed):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((n, n))
    return a @ a.T + np.eye(n)


@pytest.mark.parametrize("largest", [True, False])
def test_lobpcg_eigenpairs_match_torch(largest):
    a = _spd(12, 3)
    b = np.eye(12) * 2 + 0.1 * np.ones((12, 12))
    for B in (None, b):
        cb = None if B is None else cadenza.tensor(B)
        tb = None if B is None else torch.tensor(B)
        E, X = cadenza.lobpcg(cadenza.tensor(a), k=2, B=cb, largest=largest, tol=1e-10)
        te, tx = torch.lobpcg(torch.tensor(a), k=2, B=tb, largest=largest, tol=1e-10)
        np.testing.assert_allclose(E.numpy(), te.numpy(), rtol=1e-10)
        # the same eigenvectors up to sign, B-orthonormal
        np.testing.assert_allclose(np.abs(X.numpy().T @ (B if B is not None else np.eye(12))
                                          @ tx.numpy()), np.eye(2), atol=1e-6)


def test_lobpcg_gradient_matches_torch_and_gradcheck():
    a = _spd(9, 4)
    w = np.arange(9.0)[:, None]
    A, At = cadenza.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    E, X = cadenza.lobpcg(A, k=2, tol=1e-12)
    (E.sum() + (X ** 2 * cadenza.tensor(w)).sum()).backward()
    te, tx = torch.lobpcg(At, k=2, tol=1e-12)
    (te.sum() + (tx ** 2 * torch.tensor(w)).sum()).backward()
    np.testing.assert_allclose(A.grad.numpy(), At.grad.numpy(), atol=1e-8)

    def f(m):
        cadenza.manual_seed(0)
        e, x = cadenza.lobpcg((m + m.mT) / 2, k=2, tol=1e-13)
        return e, x ** 2
    assert cadenza.autograd.gradcheck(f, (cadenza.tensor(a, requires_grad=True),), eps=1e-6,
                                      atol=1e-5)


def test_lobpcg_validates():
    a = cadenza.tensor(_spd(10, 5))
    with pytest.raises(ValueError, match="smaller than 3 x the number"):
        cadenza.lobpcg(a, k=4)
    with pytest.raises(ValueError, match="square"):
        cadenza.lobpcg(cadenza.ones(4, 3))
    with pytest.raises(ValueError, match="X of shape"):
        cadenza.lobpcg(a, X=cadenza.ones(9, 2, dtype=cadenza.float64))
    E, X = cadenza.lobpcg(a, X=cadenza.randn(10, 2, dtype=cadenza.float64))
    assert E.shape == (2,) and X.shape == (10, 2)
