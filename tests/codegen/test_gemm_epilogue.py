"""GEMM epilogues (graph/passes/fuse_gemm_epilogue.py): a matmul/linear whose only reader is an
elementwise kernel runs with it as one node, the kernel writing over the product. Compiled
training steps of linear + bias + relu/gelu (forward and backward) equal eager: float64 bit for
bit, float32 within rounding; odd shapes, non-contiguous inputs; the pass fires where it should
and not where the product has another reader or is an output; the NumPy backend and a graph
without BLAS run the same nodes."""
import numpy as np
import pytest

import cadenza
import cadenza.nn.functional as F
from cadenza.codegen import blas
from cadenza.graph import pipeline
from cadenza.graph.passes.fuse_gemm_epilogue import GemmEpilogue

from _cc import require_cc


def _mlp_step(act, dt, shapes, seed=0, transposed_x=False, backend="c"):
    """(eager losses/grads, compiled losses/grads, compiled function) of 3 SGD-free steps of
    a 2-layer MLP with activation ``act`` over inputs of ``shapes`` = (n, d_in, d_hid, d_out)."""
    n, d_in, d_hid, d_out = shapes
    rng = np.random.default_rng(seed)
    params = [rng.standard_normal(s).astype(dt) * 0.3 for s in
              ((d_hid, d_in), (d_hid,), (d_out, d_hid), (d_out,))]
    if transposed_x:
        xs = [rng.standard_normal((d_in, n)).astype(dt).T for _ in range(3)]
    else:
        xs = [rng.standard_normal((n, d_in)).astype(dt) for _ in range(3)]
    fn = {"relu": F.relu, "gelu": lambda h: F.gelu(h, approximate="tanh"),
          "gelu_erf": F.gelu, "tanh": cadenza.tanh}[act]

    def run(compiled):
        w1, b1, w2, b2 = (cadenza.tensor(p.copy(), requires_grad=True) for p in params)

        def step(x):
            for p in (w1, b1, w2, b2):
                p.grad = None
            h = fn(F.linear(x, w1, b1))
            loss = (F.linear(h, w2, b2) ** 2).mean()
            loss.backward()
            return loss
        f = cadenza.compile(step, backend=backend) if compiled else step
        out = []
        for x in xs:
            loss = f(cadenza.from_numpy(x))
            out.append([loss.detach().numpy().copy()] +
                       [p.grad.numpy().copy() for p in (w1, b1, w2, b2)])
        return out, f
    eager, _ = run(False)
    comp, f = run(True)
    return eager, comp, f


def _epilogues(f):
    s = f.cache[-1]
    return [n.op for n in s.graph.nodes if isinstance(n.op, GemmEpilogue)] if s.graph else []


def _check(eager, comp, dt, exact=True):
    for e_step, c_step in zip(eager, comp):
        for e, c in zip(e_step, c_step):
            if dt == np.float64 and exact:
                assert np.array_equal(e, c)
            else:
                np.testing.assert_allclose(c, e, rtol=2e-5, atol=2e-6)


def _without_pass(monkeypatch):
    monkeypatch.setattr(pipeline, "PASSES",
                        [p for p in pipeline.PASSES if p[0] != "fuse_gemm_epilogue"])


@pytest.mark.parametrize("dt", [np.float64, np.float32])
@pytest.mark.parametrize("act", ["relu", "gelu", "gelu_erf", "tanh"])
@pytest.mark.parametrize("shapes", [(160, 64, 130, 10), (37, 19, 53, 7), (3, 2, 5, 3)])
def test_linear_activation_step_equals_eager(act, dt, shapes, monkeypatch):
    """float64 relu steps equal eager bit for bit; activations computed by libm in a kernel
    (tanh, erf) are within a few ulp of NumPy's already without epilogues: there the steps
    equal the compiled steps without the pass bit for bit."""
    require_cc()
    eager, comp, f = _mlp_step(act, dt, shapes)
    _check(eager, comp, dt, exact=act == "relu")
    if act != "relu":
        with monkeypatch.context() as m:
            _without_pass(m)
            _, plain, g = _mlp_step(act, dt, shapes)
        assert not _epilogues(g)
        _check(plain, comp, np.float64)
    eps = _epilogues(f)
    # forward: linear -> activation where the backward reads the activation's output, not
    # its input (relu, tanh; gelu's backward reads the product); backward: the activation's
    # gradient applied to the hidden layer's gradient product. An activation computed by libm,
    # not NumPy, joins only where fuse_elementwise made it a kernel already (1 << 14 elements)
    big = shapes[0] * shapes[2] >= 1 << 14
    if act == "relu" or act == "tanh" and big:
        assert any(e.product.op_name == "linear" for e in eps), [e.name for e in eps]
    if act == "relu" or big:
        assert any(e.product.op_name == "matmul" for e in eps), [e.name for e in eps]


@pytest.mark.parametrize("dt", [np.float64, np.float32])
def test_non_contiguous_input(dt):
    require_cc()
    eager, comp, f = _mlp_step("relu", dt, (33, 24, 40, 5), transposed_x=True)
    _check(eager, comp, dt)
    assert _epilogues(f)


@pytest.mark.parametrize("dt", [np.float64, np.float32])
def test_batched_matmul_epilogue(dt):
    """A batched product (strided per-head views) whose result feeds an elementwise kernel."""
    require_cc()
    rng = np.random.default_rng(3)
    q = rng.standard_normal((2, 9, 3, 8)).astype(dt)
    k = rng.standard_normal((2, 9, 3, 8)).astype(dt)

    def f(q, k):
        s = cadenza.matmul(q.transpose(1, 2), k.permute(0, 2, 3, 1))
        return cadenza.relu(s * 0.5 + 1.0) - s.abs() * 0.25
    tq, tk = cadenza.from_numpy(q), cadenza.from_numpy(k)
    ref = f(tq, tk).numpy()
    cf = cadenza.compile(f)
    for _ in range(2):
        got = cf(tq, tk).numpy()
        if dt == np.float64:
            assert np.array_equal(got, ref)
        else:
            np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)
    assert _epilogues(cf)


def test_product_with_other_readers_is_not_fused():
    """The product has another reader (a second product) or is the function's output: no
    epilogue (the kernel may not write over it). One kernel reading it twice is one reader."""
    require_cc()
    rng = np.random.default_rng(4)
    x = cadenza.from_numpy(rng.standard_normal((16, 8)))
    w = cadenza.from_numpy(rng.standard_normal((8, 8)))

    def twice(x, w):
        y = x @ w
        return F.relu(y) @ y.mT

    def returned(x, w):
        y = x @ w
        return y, F.relu(y)

    def one_kernel(x, w):
        y = x @ w
        return F.relu(y) + y * 2
    for fn, fused in ((twice, False), (returned, False), (one_kernel, True)):
        cf = cadenza.compile(fn)
        ref = fn(x, w)
        got = cf(x, w)
        ref = ref if isinstance(ref, tuple) else (ref,)
        got = got if isinstance(got, tuple) else (got,)
        for r, g in zip(ref, got):
            assert np.array_equal(r.detach().numpy(), g.detach().numpy())
        assert bool(_epilogues(cf)) == fused, fn.__name__


@pytest.mark.parametrize("backend", ["numpy", "c"])
def test_backends_and_no_blas(backend, monkeypatch):
    """The NumPy interpreter runs an epilogue node member by member; without BLAS the C backend
    runs the product with NumPy and still writes the kernel over it."""
    if backend == "c":
        require_cc()
        monkeypatch.setattr(blas, "library", lambda: None)
    eager, comp, f = _mlp_step("relu", np.float64, (20, 6, 12, 4), backend=backend)
    _check(eager, comp, np.float64)
    assert _epilogues(f)


@pytest.mark.parametrize("dt", [np.float64, np.float32])
def test_reshaped_product_epilogue(dt):
    """linear over a (batch, time, features) input runs on its rows and reshapes back: the
    reshape joins the epilogue (a residual add and relu after it; their gradients too)."""
    require_cc()
    rng = np.random.default_rng(5)
    x = rng.standard_normal((4, 7, 12)).astype(dt)
    params = [rng.standard_normal(s).astype(dt) * 0.3 for s in ((20, 12), (20,), (12, 20), (12,))]

    def run(compiled):
        ts = [cadenza.tensor(p.copy(), requires_grad=True) for p in params]
        xt = cadenza.tensor(x.copy())

        def step(xt):
            for t in ts:
                t.grad = None
            h = F.relu(F.linear(xt, ts[0], ts[1]))
            y = xt + F.linear(h, ts[2], ts[3])
            loss = (y * y).sum()
            loss.backward()
            return loss
        f = cadenza.compile(step) if compiled else step
        out = []
        for _ in range(3):
            loss = f(xt)
            out.append([loss.detach().numpy().copy()] +
                       [t.grad.numpy().copy() for t in ts])
        return out, f
    eager, _ = run(False)
    comp, f = run(True)
    _check(eager, comp, dt)
    assert any(e.views for e in _epilogues(f)), [e.name for e in _epilogues(f)]
