"""Single-row products of compiled graphs (``cadenza.codegen.gemv``): NumPy's own gemv call run
on the calling thread, bitwise equal to NumPy's ``matmul`` for float32 and float64 on the
layouts NumPy hands to gemv_t (a weight's transpose, strided rows, column slices); other
layouts are refused (the executor keeps NumPy); compiled single-row linear/matmul graphs equal
eager bit for bit and go through it."""
import numpy as np
import pytest

import cadenza
import cadenza.nn.functional as F
from cadenza.backend import gemv as backend_gemv
from cadenza.codegen import executor, gemv

from _cc import require_cc


def _lib():
    require_cc()
    lib = gemv.library()
    if lib is None:
        pytest.skip("NumPy's BLAS is not an OpenBLAS this module knows")
    return lib


def _operands(rng, dt, k, n):
    r = lambda *s: rng.standard_normal(s).astype(dt)
    yield "weight.T", r(1, k), r(n, k).T
    yield "rows of a wider weight", r(1, k), r(n + 3, k)[:n].T
    yield "columns of a taller weight", r(1, k), r(n, k + 5)[:, :k].T
    yield "strided row", r(3, 2 * k)[1:2, ::2], r(n, k).T


@pytest.mark.parametrize("dt", [np.float64, np.float32])
@pytest.mark.parametrize("k,n", [(256, 1024), (1024, 256), (300, 5000), (7, 3), (2, 2)])
def test_gemv_equals_numpy_bitwise(dt, k, n):
    lib = _lib()
    rng = np.random.default_rng(k * n)
    for what, x, b in _operands(rng, dt, k, n):
        bias = rng.standard_normal(n).astype(dt)
        for with_bias in (False, True):
            ref = np.matmul(x, b)
            if with_bias:
                ref += bias
            got = gemv.Gemv(lib, dt, n)(x, b, bias if with_bias else None)
            assert got is not None, what
            assert got.shape == ref.shape and got.dtype == ref.dtype
            assert np.array_equal(got, ref), (what, dt, k, n, with_bias)


def test_gemv_refuses_layouts_numpy_computes_otherwise():
    lib = _lib()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 6))
    g = gemv.Gemv(lib, np.float64, 5)
    assert g(x, rng.standard_normal((6, 5))) is None            # row-major: gemv_n
    assert g(x, rng.standard_normal((12, 10))[::2, ::2]) is None  # no unit stride
    assert g(x[:, ::-1], rng.standard_normal((5, 6)).T) is None   # a reversed row
    assert not gemv.suits((2, 6), (6, 5), np.float64)            # two rows: a GEMM
    assert not gemv.suits((1, 6), (6, 1), np.float64)            # one output: a dot
    assert not gemv.suits((1, 6), (6, 5), np.int64)
    assert gemv.suits((1, 6), (6, 5), np.float32)


def _calls(monkeypatch):
    """Counts Gemv calls that returned a product."""
    seen = []
    call = gemv.Gemv.__call__

    def counted(self, *a, **k):
        r = call(self, *a, **k)
        seen.append(r is not None)
        return r
    monkeypatch.setattr(gemv.Gemv, "__call__", counted)
    return seen


@pytest.mark.parametrize("dt", [cadenza.float64, cadenza.float32])
def test_compiled_single_row_products_equal_eager(dt, monkeypatch):
    _lib()
    seen = _calls(monkeypatch)
    # the executor's closures (programs call gemv from C: tests/codegen/test_program.py)
    monkeypatch.setattr(executor, "c_programs", lambda: False)
    cadenza.manual_seed(0)
    w1, b1 = cadenza.randn(48, 32, dtype=dt), cadenza.randn(48, dtype=dt)
    w2 = cadenza.randn(16, 48, dtype=dt)
    m = cadenza.randn(20, 48, dtype=dt).T    # F-ordered, as a weight.T

    def f(x):
        h = F.gelu(F.linear(x, w1, b1), approximate="tanh")   # product + epilogue kernel
        return F.linear(h, w2), h @ m                          # no bias; a matmul (1, 48)(48, 20)

    cf = cadenza.compile(f)
    for i in range(3):
        x = cadenza.randn(1, 32, dtype=dt)
        want = f(x)
        got = cf(x)
        for g, w in zip(got, want):
            assert np.array_equal(g.numpy(), w.numpy())
    assert len(seen) >= 6 and all(seen)     # 3 products per replay, through gemv


@pytest.mark.parametrize("dt", [np.float64, np.float32])
@pytest.mark.parametrize("parts", [2, 3])
def test_gemv_split_over_the_pool_is_bitwise_one_call(dt, parts):
    """CADENZA_GEMV_SPLIT's output blocks (``Gemv.parts``): each output one dot product over
    the whole row, whichever thread computes it: the values of NumPy's single call."""
    lib = _lib()
    rng = np.random.default_rng(parts)
    for k, n in ((256, 1024), (1024, 256), (300, 5000), (128, 1040), (64, 40)):
        x, w, bias = (rng.standard_normal(s).astype(dt) for s in ((1, k), (n, k), (n,)))
        ref = np.matmul(x, w.T)
        ref += bias
        g = gemv.Gemv(lib, dt, n, k)
        g.parts = parts
        assert np.array_equal(g(x, w.T, bias), ref), (k, n)


@pytest.mark.parametrize("dt", [np.float64, np.float32])
def test_eager_single_row_linear_is_numpys_gemv(dt, monkeypatch):
    """Eager linear on one row calls the same gemv (backend/gemv.py ``product``): NumPy's
    bits, with and without bias, a strided row, a 3-d (1, 1, k) input; two rows stay a GEMM."""
    _lib()
    seen = []
    product = backend_gemv.product

    def counted(a, b, bias=None):
        r = product(a, b, bias)
        seen.append(r is not None)
        return r
    monkeypatch.setattr(backend_gemv, "product", counted)
    rng = np.random.default_rng(1)
    w, b = rng.standard_normal((40, 24)).astype(dt), rng.standard_normal(40).astype(dt)
    rows = [rng.standard_normal((1, 24)).astype(dt),
            rng.standard_normal((1, 48)).astype(dt)[:, ::2],
            rng.standard_normal((1, 1, 24)).astype(dt)]
    for _ in range(2):          # the second time from the kept decision
        for x in rows:
            for bias in (b, None):
                got = F.linear(cadenza.from_numpy(x), cadenza.from_numpy(w),
                               None if bias is None else cadenza.from_numpy(bias)).numpy()
                want = x @ w.T
                if bias is not None:
                    want += bias
                assert got.dtype == dt and np.array_equal(got, want)
    assert len(seen) == 12 and all(seen)
    two = rng.standard_normal((2, 24)).astype(dt)
    assert np.array_equal(F.linear(cadenza.from_numpy(two), cadenza.from_numpy(w)).numpy(),
                          two @ w.T)
    assert backend_gemv.product(two, w.T) is None
