"""GEMMs of compiled graphs called straight into NumPy's BLAS (``cadenza.codegen.blas``): float64
products equal NumPy's ``matmul`` bit for bit on every operand layout (contiguous, transposed
views, broadcast batches, strided batches of per-head views), float32 within rounding, the
bias of ``linear``; compiled graphs with products equal eager; products BLAS cannot take fall
back to NumPy."""
import numpy as np
import pytest

import cadenza
from cadenza.backend import blas as backend_blas
from cadenza.codegen import blas
from cadenza.codegen.executor import KernelRunner

from _cc import require_cc


def _lib():
    require_cc()
    lib = blas.library()
    if lib is None:
        pytest.skip("NumPy's BLAS is not an OpenBLAS this module knows")
    return lib


def _numpy(a, b):
    """What eager's Matmul.forward computes (ops.linalg._blas_layout copies, then matmul)."""
    fix = lambda x: x if x.flags.c_contiguous or x.flags.f_contiguous else np.ascontiguousarray(x)
    return np.matmul(fix(a), fix(b))


def _cases(rng, dt):
    r = lambda *s: rng.standard_normal(s).astype(dt)
    q = r(2, 9, 3, 8)                                   # (B, T, H, D) before the head split
    yield r(7, 5), r(5, 6)
    yield r(5, 7).T, r(5, 6)                            # transposed left operand
    yield r(7, 5), r(6, 5).T                            # transposed right operand
    yield r(3, 7, 5), r(3, 5, 6)
    yield r(3, 1, 7, 5), r(4, 5, 6)                     # broadcast batch
    yield r(7, 5), r(4, 5, 6)
    yield q.transpose(0, 2, 1, 3), q.transpose(0, 2, 3, 1)   # per-head views: q @ k^T
    yield q[:, :, 1].transpose(0, 2, 1), r(2, 9, 4)           # a strided slice, transposed
    yield r(9, 12)[:, ::2], r(6, 4)                     # strided: not a BLAS layout
    if dt == np.float32:                                # single rows/columns (decoding)
        yield r(1, 5), r(6, 5).T
        yield r(2, 1, 5), r(2, 5, 1)
        yield r(3, 5, 4)[:, :1], r(4, 7)


@pytest.mark.parametrize("dt", [np.float64, np.float32])
@pytest.mark.parametrize("threads", [1, 2])
def test_gemm_matches_numpy(dt, threads):
    lib = _lib()
    rng = np.random.default_rng(0)
    for a, b in _cases(rng, dt):
        ref = _numpy(a, b)
        g = blas.Gemm(lib, dt, ref.shape, exact=dt == np.float64, copies=True)
        g.threads = threads
        got = g(a, b)
        if got is None:   # not a BLAS layout: the executor uses NumPy
            assert not (a.flags.c_contiguous or a.flags.f_contiguous) and dt == np.float32
            continue
        assert got.shape == ref.shape and got.dtype == ref.dtype
        if dt == np.float64:
            assert np.array_equal(got, ref), (a.shape, a.strides, b.shape, b.strides)
        else:
            np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dt", [np.float64, np.float32])
def test_gemm_bias_and_row_blocks(dt):
    lib = _lib()
    rng = np.random.default_rng(1)
    x, w, bias = (rng.standard_normal(s).astype(dt) for s in ((300, 40), (50, 40), (50,)))
    ref = np.matmul(x, w.T)
    ref += bias
    g = blas.Gemm(lib, dt, ref.shape, exact=dt == np.float64)
    g.threads = 3      # float32: row blocks over 3 threads
    got = g(x, w.T, bias)
    if dt == np.float64:
        assert np.array_equal(got, ref)
    else:
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)


def test_float32_bias_enters_the_product_in_every_block():
    # float32 linear: each block of C filled with its columns' bias, the product added by
    # BLAS (beta = 1: one pass over C fewer), on one thread, in row and in column blocks
    lib = _lib()
    rng = np.random.default_rng(2)
    # (260 x 70)(70 x 600): above SMALL_FLOPS, so split over the pool's threads
    x, w, bias = (rng.standard_normal(s).astype(np.float32) for s in ((260, 70), (600, 70),
                                                                       (600,)))
    ref = x.astype(np.float64) @ w.T.astype(np.float64) + bias
    for threads, how in ((1, None), (3, "rows"), (3, "auto")):
        g = blas.Gemm(lib, np.float32, ref.shape, exact=False)
        g.threads, g.split = threads, True
        if how is not None:
            g._layout(x, w.T)
            key = next(iter(g.memo))
            got = g.memo[key]
            g.memo[key] = got[:-1] + (backend_blas.split(260, 600, threads, how),)
        np.testing.assert_allclose(g(x, w.T, bias), ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("rows", [64, 1024])
def test_float32_product_on_the_pool_same_bytes_on_every_thread_count(monkeypatch, rows):
    """One float32 product of SMALL_FLOPS up to POOL_BELOW_FLOPS (W4's linear head; 64 rows)
    and, with CADENZA_GEMM_SPLIT=1, one above it (1024 rows) run in blocks over the pool fixed
    by the shape, not on OpenBLAS's threads: the same bytes on 1, 2 and 3 threads, eager
    matmul/linear (blas.product) the same as the compiled call; within rounding of NumPy."""
    lib = _lib()
    if not backend_blas._state.get("threads_local"):
        pytest.skip("no per-thread BLAS thread control")
    monkeypatch.setattr(backend_blas, "_eager", {})
    if rows == 1024:
        monkeypatch.setattr(backend_blas, "SPLIT_PRODUCTS", True)
        monkeypatch.setitem(backend_blas._state, "eager", True)
    rng = np.random.default_rng(4)
    x, w, bias = (rng.standard_normal(s).astype(np.float32) for s in ((rows, 512), (300, 512),
                                                                       (300,)))
    assert backend_blas.SMALL_FLOPS <= 2 * 64 * 512 * 300 < backend_blas.POOL_BELOW_FLOPS
    assert 2 * 1024 * 512 * 300 >= backend_blas.POOL_BELOW_FLOPS
    got = set()
    for threads in (1, 2, 3):
        g = blas.Gemm(lib, np.float32, (rows, 300), exact=False)
        g.threads = threads
        got.add((g(x, w.T).tobytes(), g(x, w.T, bias).tobytes()))
    assert len(got) == 1
    plain, biased = got.pop()
    cx, cw, cb = (cadenza.from_numpy(a) for a in (x, w, bias))
    assert cadenza.matmul(cx, cw.T).numpy().tobytes() == plain
    assert cadenza.nn.functional.linear(cx, cw, cb).numpy().tobytes() == biased
    ref = x.astype(np.float64) @ w.T.astype(np.float64) + bias
    np.testing.assert_allclose(np.frombuffer(biased, np.float32).reshape(rows, 300), ref,
                               rtol=1e-5, atol=1e-4)


def test_compiled_products_equal_eager_float64():
    _lib()
    cadenza.manual_seed(0)
    lin = cadenza.nn.Linear(12, 7).double()
    q = cadenza.randn(2, 5, 3, 4, dtype=cadenza.float64, requires_grad=True)

    def f(x, q):
        h = lin(x).relu()
        qh = q.transpose(1, 2)
        att = (qh @ qh.transpose(-2, -1)) @ qh
        return h.sum() + att.sum(), h @ h.T

    x = cadenza.randn(9, 12, dtype=cadenza.float64)
    cf = cadenza.compile(f)
    for _ in range(3):
        want = f(x, q)
        got = cf(x, q)
        for w_, g_ in zip(want, got):
            assert np.array_equal(w_.detach().numpy(), g_.detach().numpy())
    runner = cf.cache[-1].run_graph
    assert isinstance(runner, KernelRunner)


def test_products_only_graph_uses_blas(monkeypatch):
    _lib()
    calls = []
    orig = blas.Gemm.__call__
    monkeypatch.setattr(blas.Gemm, "__call__",
                        lambda self, *a: calls.append(1) or orig(self, *a))
    a = cadenza.randn(6, 5)
    b = cadenza.randn(3, 5, 4)
    cf = cadenza.compile(lambda a, b: a @ b)
    for _ in range(2):
        got = cf(a, b)
    np.testing.assert_allclose(got.numpy(), (a @ b).numpy(), rtol=1e-6, atol=1e-6)
    assert calls


def test_without_blas_the_interpreter_runs(monkeypatch):
    monkeypatch.setitem(blas._state, "lib", None)
    a = cadenza.randn(6, 5, dtype=cadenza.float64)
    cf = cadenza.compile(lambda a: a @ a.T + 1)
    got = cf(a)
    assert np.array_equal(got.numpy(), (a @ a.T + 1).numpy())


def test_pool_from_several_threads_at_once():
    """Concurrent callers (ctypes releases the GIL): one job runs on the pool, the others on
    their own thread; every result is right."""
    import threading
    lib = _lib()
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((2, 16, 70, 30)).astype(np.float32), \
        rng.standard_normal((2, 16, 30, 40)).astype(np.float32)
    ref = np.matmul(a, b)
    g = blas.Gemm(lib, np.float32, ref.shape, exact=False)
    g.threads = 2
    bad = []

    def work():
        for _ in range(20):
            if not np.allclose(g(a, b), ref, rtol=1e-5, atol=1e-5):
                bad.append(1)
    ts = [threading.Thread(target=work) for _ in range(3)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not bad
    assert set(blas.stats()) == {"shared_jobs", "backoffs", "waited_s", "worked_s",
                                 "worker_tasks", "jobs", "shared_tasks"}


def test_profile_of_a_compiled_step():
    cadenza.manual_seed(0)
    lin = cadenza.nn.Linear(8, 4)
    f = cadenza.compile(lambda x: (lin(x).relu() @ lin.weight).sum())
    prof = f(cadenza.randn(5, 8)) and f.profile(cadenza.randn(5, 8), calls=2)
    assert prof.calls == 2 and len(prof.rows) == len([n for n in f.graph.nodes
                                                      if n.op != "input"])
    # linear -> relu runs as one node: the product and its epilogue
    assert "linear+epilogue" in prof.by_op() and all(t >= 0 for t, _ in prof.rows)
    assert "slowest nodes" in str(prof)


def test_address_equals_ctypes_data():
    """blas.address (the buffer's address, or ctypes for what exports no writeable C buffer)
    is the first element's address on every layout a kernel or product receives."""
    a = np.arange(24, dtype=np.float32).reshape(4, 6)
    ro = a.copy()
    ro.flags.writeable = False
    for x in (a, a.T, a[1:], a[:, 2:], a[::2], a[:, ::-1], ro, ro.T, a.reshape(2, 3, 4),
              a.reshape(2, 3, 4).transpose(1, 0, 2), np.empty((0, 3)), np.float64(1.0) * a[:1],
              a[:1], a[:, :1]):
        assert blas.address(x) == x.ctypes.data, (x.shape, x.strides)


@pytest.mark.parametrize("how", ["rows", "auto"])
@pytest.mark.parametrize("right_t", [False, True])
def test_float32_blocks_of_rows_or_columns(how, right_t):
    """One float32 product split over the pool in row blocks or (``auto``, n > m) column
    blocks, with a bias, a transposed or plain right operand: NumPy's result within rounding."""
    lib = _lib()
    rng = np.random.default_rng(3)
    x = rng.standard_normal((70, 40)).astype(np.float32)
    w = rng.standard_normal((300, 40)).astype(np.float32)
    bias = rng.standard_normal(300).astype(np.float32)
    right = w.T if right_t else np.ascontiguousarray(w.T)
    assert blas.split(70, 300, 3, how) == (-3 if how == "auto" else 1)
    assert blas.split(300, 70, 3, how) == 3
    ref = np.matmul(x, right) + bias
    g = blas.Gemm(lib, np.float32, ref.shape, exact=False)
    g.threads, g.split = 3, True
    old = backend_blas.SPLIT_DIM
    try:
        backend_blas.SPLIT_DIM = how
        got = g(x, right, bias)
    finally:
        backend_blas.SPLIT_DIM = old
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-4)
    # the same with the operands swapped (m > n: row blocks either way)
    ref2 = np.matmul(right.T, x.T)
    g2 = blas.Gemm(lib, np.float32, ref2.shape, exact=False)
    g2.threads, g2.split = 3, True
    np.testing.assert_allclose(g2(right.T, x.T), ref2, rtol=1e-5, atol=1e-4)
