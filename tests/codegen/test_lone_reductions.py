"""Issue 12: reductions without an elementwise producer (bias gradients) run as kernels on the
pool (graph/passes/fuse_reductions.py ``standalone``), bit for bit NumPy's sums on any thread
count; an operand that arrives as a view not dense in the recorded order runs NumPy's sum; the
embedding gradient's row scatter-add (ops/index.py ``_add_rows``) runs in C with the bits of
its NumPy form."""
import numpy as np
import pytest

import cadenza
import cadenza.nn.functional as F
from cadenza.backend import cbuild, ckernels
from cadenza.codegen import make_runner
from cadenza.codegen.executor import KernelRunner
from cadenza.graph.interpret import Interpreter
from cadenza.graph.ir import Fused
from cadenza.graph.passes.fuse_reductions import standalone
from cadenza.graph.pipeline import optimize
from cadenza.graph.trace import trace
from cadenza.ops import index as ix

from _cc import require_cc


def _lone(g) -> list:
    return [n.op for n in g.nodes if isinstance(n.op, Fused) and standalone(n.op)]


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_lone_sums_are_kernels_with_numpys_bits(dt):
    require_cc()
    rng = np.random.default_rng(0)
    g2 = rng.standard_normal((300, 520)).astype(dt)
    g3 = rng.standard_normal((4, 90, 200)).astype(dt)
    g3[0, :, :5] = -0.0

    def f(a, b):
        h = a @ a.T[:, :520]                 # a product's value: no producer to fuse
        return (h.sum(0), b.reshape(360, 200).sum(0), b.sum((0, 1)), b.sum(-1), a.sum())
    g = optimize(trace(f, cadenza.from_numpy(g2), cadenza.from_numpy(g3)))
    lone = _lone(g)
    # the column sums and the row sums; the full sum of a (300, 520) stays NumPy (one row)
    assert len(lone) == 4
    runner = make_runner(g, "c")
    assert isinstance(runner, KernelRunner)
    want = Interpreter(g)([g2, g3])
    prev = cbuild.set_kernel_threads()
    try:
        for n in (1, 2, 3):
            cbuild.set_kernel_threads(n)
            for got, w in zip(runner([g2, g3]), want):
                assert got.tobytes() == np.ascontiguousarray(w).tobytes(), n
    finally:
        cbuild.set_kernel_threads(prev)
    eager = [t.numpy() for t in f(cadenza.from_numpy(g2), cadenza.from_numpy(g3))]
    for got, w in zip(want, eager):
        assert got.tobytes() == np.ascontiguousarray(w).tobytes()


def test_lone_sum_of_a_strided_view_runs_numpy():
    """A graph input traced dense, then given as a strided view: NumPy's sum (the order of its
    additions follows the view), not the kernel on a dense copy."""
    require_cc()
    rng = np.random.default_rng(1)
    x = rng.standard_normal((64, 700)).astype(np.float32)
    g = optimize(trace(lambda x: x.sum(-1), cadenza.from_numpy(x)))
    assert len(_lone(g)) == 1
    runner = make_runner(g, "c")
    wide = rng.standard_normal((64, 1400)).astype(np.float32)
    view = wide[:, ::2]
    assert runner([view])[0].tobytes() == view.sum(-1).tobytes()
    assert runner([x])[0].tobytes() == x.sum(-1).tobytes()


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_compiled_linear_step_bias_gradients_bitwise(dt):
    """A float64 training step with lone bias-gradient sums equals eager bit for bit."""
    require_cc()
    tdt = cadenza.float64 if dt == np.float64 else cadenza.float32
    rng = np.random.default_rng(2)
    x = cadenza.from_numpy(rng.standard_normal((256, 96)).astype(dt))
    y = cadenza.from_numpy(rng.integers(0, 7, 256))

    def run(compiled):
        cadenza.manual_seed(0)
        m = cadenza.nn.Sequential(cadenza.nn.Linear(96, 160), cadenza.nn.ReLU(),
                                  cadenza.nn.Linear(160, 7)).to(tdt)
        opt = cadenza.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)

        def step(x, y):
            opt.zero_grad()
            loss = F.cross_entropy(m(x), y)
            loss.backward()
            opt.step()
            return loss
        fn = cadenza.compile(step) if compiled else step
        for _ in range(3):
            fn(x, y)
        return [p.detach().numpy().copy() for p in m.parameters()], fn
    eager, _ = run(False)
    comp, fn = run(True)
    assert len(_lone(fn.cache[-1].run_graph.graph)) >= 1
    for a, b in zip(eager, comp):
        if dt == np.float64:
            assert a.tobytes() == b.tobytes()
        else:
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_add_rows_in_c_equals_numpy(dt, monkeypatch):
    """Repeats (runs over 128: NumPy's pairwise halves), negative indices, signed zeros, rows
    of several dims, on 1 and 2 threads."""
    require_cc()
    if ckernels.lib() is None:
        pytest.skip("the eager C kernels did not build")
    rng = np.random.default_rng(3)
    cases = [((64, 48), 1500, 64), ((5, 3, 7), 900, 5), ((3, 9), 400, 1)]
    prev = cbuild.set_kernel_threads()
    try:
        for shape, n, hi in cases:
            idx = rng.integers(-hi, hi, n) if hi > 1 else np.zeros(n, np.int64)
            v = (rng.standard_normal((n,) + shape[1:]) *
                 10.0 ** rng.uniform(-3, 3, (n,) + (1,) * (len(shape) - 1))).astype(dt)
            v[rng.random(v.shape) < 0.05] = -0.0
            base = rng.standard_normal(shape).astype(dt)
            monkeypatch.setattr(ckernels, "enabled", False)
            want = base.copy()
            ix._add_rows(want, idx, v)
            monkeypatch.setattr(ckernels, "enabled", True)
            for t in (1, 2):
                cbuild.set_kernel_threads(t)
                got = base.copy()
                ix._add_rows(got, idx, v)
                assert got.tobytes() == want.tobytes(), (shape, t)
    finally:
        cbuild.set_kernel_threads(prev)
    with pytest.raises(IndexError):
        ix._add_rows(np.zeros((3, 2), dt), np.array([0, 3]), np.ones((2, 2), dt))

