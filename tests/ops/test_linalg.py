"""cadenza.linalg beyond the op table (tests/ops/opinfo_linalg.py): errors and their messages,
result types, Tensor methods, decompositions that reconstruct their input, dtypes."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import cadenza
import cadenza.linalg as CL


def _pair(a):
    return cadenza.tensor(a), torch.tensor(a)


def test_linalg_error_is_a_runtime_error_as_torch():
    assert issubclass(CL.LinAlgError, RuntimeError)
    sing = np.ones((3, 3))
    c, t = _pair(sing)
    with pytest.raises(torch.linalg.LinAlgError):
        torch.linalg.inv(t)
    with pytest.raises(CL.LinAlgError, match="linalg.inv: .*singular"):
        CL.inv(c)
    with pytest.raises(CL.LinAlgError, match="linalg.solve"):
        CL.solve(c, cadenza.ones(3, dtype=cadenza.float64))
    with pytest.raises(CL.LinAlgError, match="not positive-definite"):
        CL.cholesky(-cadenza.eye(2))


def test_shape_and_dtype_messages_name_the_op():
    with pytest.raises(RuntimeError, match=r"linalg.inv: A must be batches of square "
                                           r"matrices, but they are 2 by 3 matrices"):
        CL.inv(cadenza.ones(2, 3))
    with pytest.raises(RuntimeError, match="linalg.det: The input tensor A must have at least "
                                           "2 dimensions"):
        cadenza.det(cadenza.ones(3))
    with pytest.raises(RuntimeError, match="Long|int64"):
        CL.inv(cadenza.eye(2, dtype=cadenza.int64))


def test_ex_variants_report_failure_in_info():
    r = CL.inv_ex(cadenza.ones(2, 2))
    assert int(r.info) == 1 and r.info.dtype == cadenza.int32
    with pytest.raises(CL.LinAlgError):
        CL.inv_ex(cadenza.ones(2, 2), check_errors=True)
    ok = CL.cholesky_ex(cadenza.eye(3) * 4)
    assert int(ok.info) == 0 and np.allclose(ok.L.numpy(), 2 * np.eye(3))


def test_named_results_and_tensor_methods():
    a = np.random.default_rng(0).standard_normal((2, 4, 3))
    c, t = _pair(a)
    q, r = CL.qr(c)
    assert CL.qr(c).Q is not None and tuple(q.shape) == (2, 4, 3) and tuple(r.shape) == (2, 3, 3)
    u, s, vh = CL.svd(c)   # full_matrices=True by default
    assert tuple(u.shape) == (2, 4, 4) and tuple(vh.shape) == (2, 3, 3)
    us = u[..., :3] * s.unsqueeze(-2)
    np.testing.assert_allclose((us @ vh).numpy(), a, atol=1e-12)
    U, S, V = c.svd()      # PyTorch's older form: V, reduced by default
    assert tuple(U.shape) == (2, 4, 3)
    np.testing.assert_allclose(((U * S.unsqueeze(-2)) @ V.mT).numpy(), a, atol=1e-12)
    sq = a[:, :3, :] + 3 * np.eye(3)
    cs, ts = _pair(sq)
    sign, logabs = cs.slogdet()
    np.testing.assert_allclose(cs.det().numpy(), ts.det().numpy())
    np.testing.assert_allclose(logabs.numpy(), torch.linalg.slogdet(ts).logabsdet.numpy())
    np.testing.assert_allclose(cs.inverse().numpy(), ts.inverse().numpy(), atol=1e-12)
    np.testing.assert_allclose(cs.matrix_power(2).numpy(), ts.matrix_power(2).numpy(),
                               atol=1e-12)
    np.testing.assert_allclose(cs.matrix_exp().numpy(), ts.matrix_exp().numpy(), atol=1e-10)
    np.testing.assert_allclose(cs.pinverse().numpy(), ts.pinverse().numpy(), atol=1e-10)
    w, v = CL.eigh(cs + cs.mT)
    assert CL.eigh(cs + cs.mT).eigenvalues is not None
    np.testing.assert_allclose(((v * w.unsqueeze(-2)) @ v.mT).numpy(),
                               (cs + cs.mT).numpy(), atol=1e-12)


def test_float32_stays_float32_and_batches_broadcast():
    rng = np.random.default_rng(1)
    a = (rng.standard_normal((2, 1, 3, 3)) + 3 * np.eye(3)).astype(np.float32)
    b = rng.standard_normal((4, 3, 2)).astype(np.float32)
    (ca, ta), (cb, tb) = _pair(a), _pair(b)
    x = CL.solve(ca, cb)
    assert x.dtype == cadenza.float32 and tuple(x.shape) == (2, 4, 3, 2)
    np.testing.assert_allclose(x.numpy(), torch.linalg.solve(ta, tb).numpy(), rtol=1e-4,
                               atol=1e-5)
    for f in ("inv", "det", "matrix_exp", "svdvals", "pinv"):
        assert getattr(CL, f)(ca).dtype == cadenza.float32, f


def test_gradient_flows_through_a_loss_like_torch():
    """A Gaussian log-likelihood (cholesky, solve_triangular, logdet) as programs write it."""
    rng = np.random.default_rng(2)
    k = rng.standard_normal((4, 4))
    k = k @ k.T + 4 * np.eye(4)
    y = rng.standard_normal((4, 1))
    grads = []
    for lib in (cadenza, torch):
        kk = lib.tensor(k, requires_grad=True)
        yy = lib.tensor(y, requires_grad=True)
        L = lib.linalg.cholesky(kk)
        alpha = lib.cholesky_solve(yy, L)
        nll = 0.5 * (yy * alpha).sum() + lib.log(L.diagonal(0, -2, -1)).sum()
        nll = nll + 0.5 * lib.logdet(kk)
        nll.backward()
        grads.append((float(nll.detach()), kk.grad.numpy(), yy.grad.numpy()))
    assert abs(grads[0][0] - grads[1][0]) < 1e-12
    for g0, g1 in zip(grads[0][1:], grads[1][1:]):
        np.testing.assert_allclose(g0, g1, atol=1e-12)


def test_compiled_matches_eager():
    rng = np.random.default_rng(3)
    a = cadenza.tensor(rng.standard_normal((3, 3)) + 3 * np.eye(3))

    def f(x):
        return CL.inv(x) @ CL.cholesky(x @ x.mT) + CL.det(x) * CL.matrix_exp(x / 4)
    np.testing.assert_array_equal(cadenza.compile(f)(a).numpy(), f(a).numpy())
