"""torch.linalg.ldl_factor / ldl_factor_ex / ldl_solve (Bunch-Kaufman, LAPACK's compact
layout) against torch 2.13: the same pivots, LD within rounding, solutions."""
import numpy as np
import pytest
import torch

import cadenza


def _sym(rng, n, small_diag=False):
    a = rng.standard_normal((n, n))
    a = a + a.T
    if small_diag:   # 2x2 pivots
        np.fill_diagonal(a, rng.standard_normal(n) * 1e-3)
    return a


def test_factor_and_solve_match_torch():
    rng = np.random.default_rng(0)
    for trial in range(24):
        n = int(rng.integers(1, 7))
        a = _sym(rng, n, small_diag=trial % 2 == 0)
        tl, tp = torch.linalg.ldl_factor(torch.tensor(a))
        cl, cp = cadenza.linalg.ldl_factor(cadenza.tensor(a))
        np.testing.assert_array_equal(cp.numpy(), tp.numpy())
        assert cp.dtype == cadenza.int32
        np.testing.assert_allclose(cl.numpy(), tl.numpy(), rtol=1e-10, atol=1e-12)
        b = rng.standard_normal((n, 2))
        x = cadenza.linalg.ldl_solve(cl, cp, cadenza.tensor(b))
        np.testing.assert_allclose(a @ x.numpy(), b, atol=1e-8)
    # batches (float32), ex with info, broadcasting B
    a = np.stack([_sym(rng, 4, True), _sym(rng, 4)]).astype(np.float32)
    cl, cp, info = cadenza.linalg.ldl_factor_ex(cadenza.tensor(a))
    tl, tp, tinfo = torch.linalg.ldl_factor_ex(torch.tensor(a))
    np.testing.assert_array_equal(cp.numpy(), tp.numpy())
    np.testing.assert_allclose(cl.numpy(), tl.numpy(), rtol=1e-4, atol=1e-5)
    assert info.tolist() == tinfo.tolist() == [0, 0] and cl.dtype == cadenza.float32
    b = rng.standard_normal((4, 3)).astype(np.float32)
    np.testing.assert_allclose(cadenza.linalg.ldl_solve(cl, cp, cadenza.tensor(b)).numpy(),
                               torch.linalg.ldl_solve(tl, tp, torch.tensor(b)).numpy(),
                               rtol=1e-3, atol=1e-4)


def test_singular_and_bad_inputs():
    z = cadenza.zeros(2, 2, dtype=cadenza.float64)
    LD, piv, info = cadenza.linalg.ldl_factor_ex(z)
    t = torch.linalg.ldl_factor_ex(torch.zeros(2, 2, dtype=torch.float64))
    assert piv.tolist() == t.pivots.tolist() and info.item() == t.info.item() == 1
    with pytest.raises(cadenza.linalg.LinAlgError, match="singular"):
        cadenza.linalg.ldl_factor(z)
    with pytest.raises(RuntimeError, match="square"):
        cadenza.linalg.ldl_factor(cadenza.ones(3, 4))
    with pytest.raises(RuntimeError, match="floating point"):
        cadenza.linalg.ldl_factor(cadenza.ones(3, 3, dtype=cadenza.int64))
    LD, piv = cadenza.linalg.ldl_factor(cadenza.eye(3, dtype=cadenza.float64))
    with pytest.raises(RuntimeError, match="B of shape"):
        cadenza.linalg.ldl_solve(LD, piv, cadenza.ones(4, 1, dtype=cadenza.float64))
    with pytest.raises(RuntimeError, match="same dtype"):
        cadenza.linalg.ldl_solve(LD, piv, cadenza.ones(3, 1))
