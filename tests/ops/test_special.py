"""cadenza.special against torch.special over wide ranges (negative and large arguments, the
tails, poles and non-finite values), float64; the op table (tests/ops/opinfo_linalg.py) covers
gradients, gradgradcheck, float32 and compiled mode on moderate samples."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import cadenza
import cadenza.special as CS

RNG = np.random.default_rng(0)
EDGES = np.array([0.0, -0.0, -1.0, -2.0, 1.0, 2.0, 0.5, -0.5, 1e-8, 1e3, 1e5, 170.5, -170.5,
                  np.inf, -np.inf, np.nan])
WIDE = np.concatenate([RNG.uniform(-50, 50, 2000), RNG.uniform(-5, 5, 2000),
                       RNG.uniform(0, 1, 500), EDGES])
UNIT = np.concatenate([RNG.uniform(-1, 1, 3000), 1 - 10.0 ** -RNG.uniform(1, 16, 300),
                       -1 + 10.0 ** -RNG.uniform(1, 16, 300), [0.0, 1.0, -1.0, 2.0, np.nan,
                                                               1e-300]])
PROB = np.concatenate([RNG.uniform(0, 1, 3000), 10.0 ** -RNG.uniform(1, 300, 300),
                       1 - 10.0 ** -RNG.uniform(1, 16, 300), [0.0, 1.0, 0.5, -1.0, 2.0, np.nan]])


def _check(cd, th, x, rtol, atol=0.0):
    want = th(torch.tensor(x)).numpy()
    got = cd(cadenza.tensor(x)).numpy()
    assert got.dtype == np.float64
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(np.where(np.isinf(got), got, 0), np.where(np.isinf(want),
                                                                           want, 0))
    fin = np.isfinite(want)
    np.testing.assert_allclose(got[fin], want[fin], rtol=rtol, atol=atol)


CASES = {
    "gammaln": (WIDE, 1e-13, 1e-13),
    "digamma": (WIDE, 1e-11, 1e-12),
    "erfinv": (UNIT, 1e-14, 0),
    "i0": (np.concatenate([WIDE, RNG.uniform(-700, 700, 500)]), 1e-14, 0),
    "i0e": (np.concatenate([WIDE, RNG.uniform(-700, 700, 500)]), 1e-14, 0),
    "i1": (np.concatenate([WIDE, RNG.uniform(-700, 700, 500)]), 1e-14, 0),
    "i1e": (np.concatenate([WIDE, RNG.uniform(-700, 700, 500)]), 1e-14, 0),
    "erfcx": (np.concatenate([WIDE, RNG.uniform(-26, 100, 500), [1e10, 1e300, -30.0]]), 1e-14,
              0),
    "log_ndtr": (np.concatenate([WIDE, RNG.uniform(-1000, 40, 500)]), 1e-12, 0),
    "ndtri": (PROB, 1e-14, 1e-15),
    "sinc": (WIDE[np.isfinite(WIDE)], 1e-14, 1e-15),
    "entr": (WIDE, 1e-14, 0),
    "expit": (WIDE, 1e-15, 0),
    "logit": (UNIT, 1e-14, 0),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_torch_over_wide_ranges(name):
    x, rtol, atol = CASES[name]
    _check(getattr(CS, name), getattr(torch.special, name), x, rtol, atol)


def test_polygamma_and_zeta():
    x = WIDE[np.isfinite(WIDE) & (WIDE != np.floor(WIDE))]
    for n in (1, 2, 3, 5):
        # (PyTorch's trigamma is good to ~1e-9 only: n = 1 is also checked against mpmath)
        _check(lambda t: CS.polygamma(n, t), lambda t: torch.special.polygamma(n, t), x,
               1e-8 if n == 1 else 1e-12)
    mpmath = pytest.importorskip("mpmath")
    for v in (10.7, 3.3, -2.7, 0.4, 1e-3, 250.5):
        got = CS.polygamma(1, cadenza.tensor(v, dtype=cadenza.float64)).item()
        assert abs(got - float(mpmath.polygamma(1, v))) <= 1e-14 * abs(got)
    s, q = RNG.uniform(1.01, 30, 1000), RNG.uniform(0.1, 20, 1000)
    np.testing.assert_allclose(CS.zeta(cadenza.tensor(s), cadenza.tensor(q)).numpy(),
                               torch.special.zeta(torch.tensor(s), torch.tensor(q)).numpy(),
                               rtol=1e-14)
    s2 = np.array([2.0, 3.0, 4.0, 2.0, 2.0, 0.5, 1.0])
    q2 = np.array([-1.5, -2.5, -0.5, 0.0, -1.0, 2.0, 3.0])
    np.testing.assert_allclose(CS.zeta(cadenza.tensor(s2), cadenza.tensor(q2)).numpy(),
                               torch.special.zeta(torch.tensor(s2), torch.tensor(q2)).numpy(),
                               rtol=1e-14)


def test_incomplete_gamma():
    a, x = RNG.uniform(0, 20, 3000), RNG.uniform(0, 30, 3000)
    a = np.concatenate([a, [0.0, 1.0, 2.0, -1.0, 3.0, 5.0]])
    x = np.concatenate([x, [1.0, 0.0, 2.0, 1.0, -1.0, np.inf]])
    for f in ("gammainc", "gammaincc"):
        want = getattr(torch.special, f)(torch.tensor(a), torch.tensor(x)).numpy()
        got = getattr(CS, f)(cadenza.tensor(a), cadenza.tensor(x)).numpy()
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        fin = np.isfinite(want)
        np.testing.assert_allclose(got[fin], want[fin], rtol=1e-9, atol=1e-13)
    # large a, where PyTorch's own result is good to ~1e-9 only: against mpmath
    mpmath = pytest.importorskip("mpmath")
    for av, xv in ((483.9, 392.4), (545.7, 642.2), (3.5, 0.01), (50.0, 120.0)):
        got = CS.gammainc(cadenza.tensor(av, dtype=cadenza.float64),
                          cadenza.tensor(xv, dtype=cadenza.float64)).item()
        ref = float(mpmath.gammainc(av, 0, xv, regularized=True))
        assert abs(got - ref) <= 1e-11 * abs(ref)


def test_ndtr_is_accurate_in_the_lower_tail():
    # (PyTorch's ndtr goes through 1 + erf and gives 0 below about -8.3; Cadenza keeps the
    # tail: ndtr = exp(log_ndtr))
    x = np.array([-3.0, -8.5, -20.0])
    got = CS.ndtr(cadenza.tensor(x)).numpy()
    np.testing.assert_allclose(got, np.exp(torch.special.log_ndtr(torch.tensor(x)).numpy()),
                               rtol=1e-13)
    _check(CS.ndtr, torch.special.ndtr, RNG.uniform(-8, 8, 1000), 1e-13, 1e-16)


def test_aliases_and_methods():
    assert CS.gammaln is cadenza.lgamma and CS.psi is cadenza.digamma
    assert CS.expit is cadenza.sigmoid and CS.erf is cadenza.erf
    x = cadenza.tensor([0.3, 1.7, 4.0], dtype=cadenza.float64)
    t = torch.tensor([0.3, 1.7, 4.0], dtype=torch.float64)
    for m in ("lgamma", "digamma", "erfinv", "i0", "sinc", "logit"):
        a = getattr(x / 5 if m == "erfinv" else x / 5 if m == "logit" else x, m)().numpy()
        b = getattr(t / 5 if m in ("erfinv", "logit") else t, m)().numpy()
        np.testing.assert_allclose(a, b, rtol=1e-14, err_msg=m)
    np.testing.assert_allclose(x.polygamma(2).numpy(), t.polygamma(2).numpy(), rtol=1e-14)
    np.testing.assert_allclose(x.mvlgamma(2).numpy(), t.mvlgamma(2).numpy(), rtol=1e-14)
    y = x.clone()
    y.lgamma_()
    np.testing.assert_allclose(y.numpy(), t.lgamma().numpy(), rtol=1e-14)
    np.testing.assert_allclose(CS.logsumexp(x, 0).numpy(), torch.special.logsumexp(t, 0).numpy())
    np.testing.assert_allclose(CS.softmax(x, 0).numpy(), torch.special.softmax(t, 0).numpy())


def test_float32_results_stay_float32_and_quiet(recwarn):
    x = cadenza.tensor([-1.0, 0.0, 0.5, 3.0])
    for f in (CS.gammaln, CS.digamma, CS.erfinv, CS.i0, CS.i1e, CS.erfcx, CS.ndtri,
              CS.log_ndtr, CS.entr):
        assert f(x).dtype == cadenza.float32
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]
