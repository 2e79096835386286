"""linalg.eig / linalg.eigvals against torch: complex eigenvalues and unit eigenvectors of real
and complex (batched) matrices, their dtypes, and gradients through torch's backward (the loss
must not depend on the eigenvectors' phase: torch refuses such a loss, and so does Cadenza);
mH/H/adjoint conjugate complex tensors."""
import numpy as np
import pytest
import torch

import cadenza
from complex_helpers import carray, check, rarray


def _phase_free(lib, w, v):
    """Eigenvalues, |V| and each eigenvector times the conjugate of its first entry (no
    dependence on the phase LAPACK picks)."""
    return w, v.abs(), v * v[..., :1, :].conj()


@pytest.mark.parametrize("make", [
    lambda: rarray(3, 3), lambda: rarray(2, 4, 4, seed=1), lambda: carray(3, 3, seed=2),
    lambda: carray(2, 3, 3, seed=3)])
def test_eig_values_and_gradients(make):
    check(lambda lib, a: _phase_free(lib, *lib.linalg.eig(a)), make(), rtol=1e-6, atol=1e-8)


def test_eig_float32():
    check(lambda lib, a: _phase_free(lib, *lib.linalg.eig(a)), rarray(3, 3, dtype=np.float32),
          rtol=1e-3, atol=1e-4)
    check(lambda lib, a: _phase_free(lib, *lib.linalg.eig(a)),
          carray(3, 3, dtype=np.complex64), rtol=1e-3, atol=1e-4)


def test_eigvals():
    check(lambda lib, a: lib.linalg.eigvals(a), rarray(2, 3, 3, seed=4))
    check(lambda lib, a: lib.linalg.eigvals(a), carray(4, 4, seed=5))


def test_eig_real_eigenvalues_still_complex():
    a = np.diag([1.0, 2.0, 3.0])
    for lib in (torch, cadenza):
        w, v = lib.linalg.eig(lib.tensor(a))
        assert w.is_complex() and v.is_complex()
        np.testing.assert_allclose(np.sort(w.numpy().real), [1, 2, 3])
    r = cadenza.linalg.eig(cadenza.tensor(a))
    assert type(r).__name__ == "linalg_eig" and r.eigenvalues is r[0]


def test_eig_phase_dependent_loss_refused():
    for lib in (torch, cadenza):
        a = lib.tensor(carray(3, 3, seed=6), requires_grad=True)
        w, v = lib.linalg.eig(a)
        with pytest.raises(RuntimeError, match="specified up to multiplication by e"):
            v.real.sum().backward()


def test_eig_errors():
    for lib in (torch, cadenza):
        with pytest.raises(RuntimeError):
            lib.linalg.eig(lib.ones(2, 3))
        with pytest.raises(RuntimeError):
            lib.linalg.eig(lib.ones(3))
        with pytest.raises(RuntimeError):
            lib.linalg.eig(lib.ones(2, 2, dtype=lib.int64))


def test_conjugate_transposes():
    check(lambda lib, a: (a.mH, a.adjoint(), lib.adjoint(a), a.mT), carray(2, 3, 4, seed=7))
    check(lambda lib, a: a.H, carray(3, 4, seed=8))
    check(lambda lib, a: (a.mH, a.H), rarray(3, 4, seed=9))
