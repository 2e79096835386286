"""The backend's BLAS choice (``cadenza.backend.blas``): float32 products on NumPy's BLAS
exactly as before by default (and whenever MKL is absent), on oneMKL with ``CADENZA_BLAS=mkl``
and the ``mkl`` extra installed, eager and compiled alike; float64 always NumPy's OpenBLAS, bit
for bit. Tests that need MKL skip without it; the switch and the fallback run in fresh
processes (the choice is made once per process), the rest under the ``mkl`` fixture."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import cadenza
from cadenza.backend import blas

from _cc import require_cc

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# what a fresh process reports: the float32 library, whether eager products go through the
# backend, and whether eager float32/float64 matmul and linear equal NumPy's bit for bit
PROBE = r"""
import json, sys
import numpy as np
import cadenza
from cadenza.backend import blas
if "hide" in sys.argv:
    blas.mkl_path = lambda: None          # as without the mkl wheel
calls = []
product = blas.product
blas.product = lambda *a: calls.append(1) or product(*a)
rng = np.random.default_rng(0)
same = {}
for dt in (np.float32, np.float64):
    a, b = rng.standard_normal((96, 80)).astype(dt), rng.standard_normal((80, 64)).astype(dt)
    w, bias = rng.standard_normal((64, 80)).astype(dt), rng.standard_normal(64).astype(dt)
    mm = (cadenza.from_numpy(a) @ cadenza.from_numpy(b)).numpy()
    lin = cadenza.nn.functional.linear(cadenza.from_numpy(a), cadenza.from_numpy(w),
                                       cadenza.from_numpy(bias)).numpy()
    ref_lin = np.matmul(a, w.T)
    ref_lin += bias
    same[np.dtype(dt).name] = bool(np.array_equal(mm, np.matmul(a, b)) and
                                   np.array_equal(lin, ref_lin))
print(json.dumps({"f32": blas.float32_library(), "eager": blas.eager_float32(),
                  "calls": len(calls), "same": same}))
"""


def _probe(*args, **env):
    e = dict(os.environ, **env)
    p = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True,
                       env=e, cwd=ROOT, timeout=300)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout.strip().splitlines()[-1])


def _reset():
    blas._state.clear()
    blas._eager.clear()


@pytest.fixture
def mkl(monkeypatch):
    """This process with float32 products on MKL (CADENZA_BLAS=mkl); afterwards the helper is
    bound again to the process's own choice."""
    require_cc()
    if blas.mkl_path() is None:
        pytest.skip("the mkl extra (pip install cadenza[blas]) is not installed")
    monkeypatch.setenv("CADENZA_BLAS", "mkl")
    _reset()
    try:
        if blas.float32_library() != "mkl":
            pytest.skip("the installed MKL is too old a build (no cblas_sgemm_64)")
        yield
    finally:
        monkeypatch.undo()
        _reset()
        blas.library()


@pytest.mark.parametrize("env", [{}, {"CADENZA_BLAS": "numpy"}, {"CADENZA_BLAS": "mkl"}])
def test_without_mkl_eager_is_numpy_exactly(env):
    """The default, the switch to NumPy, and MKL asked for but absent: today's calls."""
    hide = () if env == {} or "numpy" in env.values() else ("hide",)
    e = dict(env) if env else {"CADENZA_BLAS": ""}
    got = _probe(*hide, **e)
    assert got["f32"] == "numpy" and got["eager"] is False and got["calls"] == 0
    assert got["same"] == {"float32": True, "float64": True}


def test_split_products_reach_eager_too():
    """CADENZA_GEMM_SPLIT=1: eager float32 products run on the pool (NumPy's OpenBLAS, one
    thread per block) as compiled ones do; float64 stays NumPy's call."""
    require_cc()
    got = _probe(CADENZA_BLAS="numpy", CADENZA_GEMM_SPLIT="1")
    assert got["f32"] == "numpy" and got["eager"] is True and got["calls"] >= 2
    assert got["same"]["float64"] is True


def test_switch_uses_mkl_when_installed():
    require_cc()
    if blas.mkl_path() is None:
        pytest.skip("the mkl extra (pip install cadenza[blas]) is not installed")
    got = _probe(CADENZA_BLAS="mkl")
    assert got["f32"] == "mkl" and got["eager"] is True and got["calls"] >= 2
    # float64 stays on NumPy's OpenBLAS: eager float64 equals np.matmul bit for bit
    assert got["same"]["float64"] is True


def _layouts(rng):
    r = lambda *s: rng.standard_normal(s).astype(np.float32)
    q, k = r(2, 40, 3, 48), r(2, 40, 3, 48)
    yield r(70, 50), r(50, 60)
    yield r(50, 70).T, r(50, 60)                        # transposed left operand (g^T x)
    yield r(70, 50), r(60, 50).T                        # transposed right operand (x W^T)
    yield r(3, 70, 50), r(3, 50, 60)
    yield r(3, 1, 70, 50), r(4, 50, 60)                 # broadcast batch
    yield r(70, 50), r(4, 50, 60)
    yield q.transpose(0, 2, 1, 3), k.transpose(0, 2, 3, 1)   # per-head views
    yield r(300, 256), r(256, 200)                      # row blocks over the pool


def test_product_float32_matches_numpy_within_rounding(mkl):
    rng = np.random.default_rng(0)
    for a, b in _layouts(rng):
        ref = np.matmul(a.astype(np.float64), b.astype(np.float64))
        got = blas.product(a, b)
        assert got is not None and got.shape == ref.shape and got.dtype == np.float32
        np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())
    x, w, bias = (rng.standard_normal(s).astype(np.float32) for s in ((300, 40), (50, 40), (50,)))
    got = blas.product(x, w.T, bias)
    np.testing.assert_allclose(got, x.astype(np.float64) @ w.T + bias, rtol=1e-4, atol=1e-4)


def test_product_declines_what_it_does_not_take(mkl):
    rng = np.random.default_rng(1)
    a = rng.standard_normal((64, 48)).astype(np.float32)
    assert blas.product(a, a[:1].T.copy()) is None                  # a dimension of 1
    assert blas.product(a[:4, :4], a[:4, :4].copy()) is None        # too small to pay
    assert blas.product(a.astype(np.float64), a.T.astype(np.float64)) is None   # float64
    assert blas.product(rng.standard_normal((90, 64)).astype(np.float32)[:, ::2],
                        a[:32]) is None                               # strided: not BLAS's
    # what does not fit never reaches BLAS: the op's own error
    assert blas.product(a, a) is None                                 # 48 != 64
    assert blas.product(a, a.T.copy(), np.ones(3, np.float32)) is None   # bias of 3, not 64
    with pytest.raises(cadenza.ShapeError, match=r"matmul: expected a.shape\[-1\]"):
        cadenza.ones(32, 1568) @ cadenza.ones(784, 10)
    with pytest.raises(cadenza.ShapeError, match="linear"):
        cadenza.nn.functional.linear(cadenza.ones(32, 64), cadenza.ones(48, 64),
                                     cadenza.ones(3))


def test_eager_float32_ops_and_gradients_vs_torch(mkl, monkeypatch):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, 33, 64)).astype(np.float32)
    w = rng.standard_normal((48, 64)).astype(np.float32)
    bias = rng.standard_normal(48).astype(np.float32)
    m = rng.standard_normal((4, 48, 40)).astype(np.float32)
    calls = []
    product = blas.product
    monkeypatch.setattr(blas, "product", lambda *a: calls.append(1) or product(*a))
    got = []
    for lib in (cadenza, torch):
        xs, ws, bs, ms = (lib.tensor(v, requires_grad=True) for v in (x, w, bias, m))
        h = lib.nn.functional.linear(xs, ws, bs)
        out = lib.bmm(h, ms)
        (out * out).sum().backward()
        got.append([t.detach().numpy() for t in (out, xs.grad, ws.grad, bs.grad, ms.grad)])
        if lib is cadenza:
            assert calls, "eager float32 products did not reach MKL"
    for c, t in zip(*got):
        np.testing.assert_allclose(c, t, rtol=2e-4, atol=2e-4 * np.abs(t).max())


def test_compiled_float32_equals_eager_on_mkl_and_float64_bitwise(mkl):
    cadenza.manual_seed(0)
    lin = cadenza.nn.Linear(96, 80)
    f = lambda x: (lin(x).relu() @ lin.weight).sum(0)
    x = cadenza.randn(128, 96)
    cf = cadenza.compile(f)
    for _ in range(2):
        np.testing.assert_allclose(cf(x).detach().numpy(), f(x).detach().numpy(), rtol=1e-5,
                                   atol=1e-4)
    lin64 = cadenza.nn.Linear(96, 80).double()
    g = lambda x: (lin64(x).relu() @ lin64.weight).sum(0)
    x64 = cadenza.randn(128, 96, dtype=cadenza.float64)
    cg = cadenza.compile(g)
    for _ in range(2):
        assert np.array_equal(cg(x64).detach().numpy(), g(x64).detach().numpy())
