"""Issue 12 (W1's non-GEMM time): a layer norm's weight and bias gradients from one pass
(``layer_norm_weight_grad`` with ``bias=True``, eager and compiled, per-task partial sums added
in task order), a linear's bias gradient summed inside the kernel that produces its gradient
(graph/passes/fuse_reductions.py, through the (B*T, C) reshape), and the row kernels' vector
row maxima (NaN rows stay NaN)."""
import math

import numpy as np
import pytest
import torch

import cadenza
import cadenza.nn.functional as F
from cadenza.backend import cbuild
from cadenza.codegen import make_runner
from cadenza.graph.interpret import Interpreter
from cadenza.graph.ir import Fused
from cadenza.graph.pipeline import optimize
from cadenza.graph.trace import trace

from _cc import require_cc


def _block(dt):
    """Two pre-norm residual blocks x + proj(ln(x)), then a loss: the first projection's bias
    gradient is the sum of the residual gradient the add of the second block's norm gradient
    produces (as in W1), and the norms' bias gradients come with their weight gradients."""
    cadenza.manual_seed(0)
    mods = [cadenza.nn.LayerNorm(128).to(dt), cadenza.nn.Linear(128, 128).to(dt),
            cadenza.nn.LayerNorm(128).to(dt), cadenza.nn.Linear(128, 128).to(dt)]
    x = cadenza.randn(4, 64, 128, dtype=dt)
    params = [p for m in mods for p in m.parameters()]

    def step(x):
        h = x + mods[1](mods[0](x))
        h = h + mods[3](mods[2](h))
        (h * h).sum().backward()
        return tuple(p.grad.clone() for p in params)

    def run(fn):
        for p in params:
            p.grad = None
        return [t.numpy().copy() for t in fn(x)]
    return step, run


@pytest.mark.parametrize("dt", [cadenza.float64, cadenza.float32])
def test_block_bias_gradients_compiled_vs_eager(dt):
    require_cc()
    step, run = _block(dt)
    eager = run(step)
    fn = cadenza.compile(step)
    run(fn)
    got = run(fn)
    for a, b in zip(got, eager):
        if dt is cadenza.float64:
            assert a.tobytes() == b.tobytes()
        else:
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-4)
    g = fn.cache[-1].run_graph.graph
    ops = [n.op_name for n in g.nodes]
    wgrad = [n for n in g.nodes if n.op_name == "layer_norm_weight_grad"]
    assert len(wgrad) == 2 and all(n.attrs.get("bias") is True for n in wgrad), ops
    # the projection's bias gradient is summed inside the residual-gradient add's kernel
    red = [n.op for n in g.nodes if isinstance(n.op, Fused) and n.op.reduction is not None]
    assert any(len(k.members) > 1 and k.reduction.op_name == "sum" for k in red), ops
    assert ops.count("sum") <= 1, ops    # the last block's: its gradient is an epilogue's


def test_layer_norm_param_grads_match_torch_and_double_backward():
    rng = np.random.default_rng(3)
    xn, gn = rng.standard_normal((4, 50, 40)), rng.standard_normal((4, 50, 40))
    wn, bn = rng.standard_normal(40), rng.standard_normal(40)
    for dt, tdt, tol in ((cadenza.float32, torch.float32, 1e-4),
                         (cadenza.float64, torch.float64, 1e-10)):
        x, w, b = (cadenza.tensor(a, dtype=dt, requires_grad=True) for a in (xn, wn, bn))
        gg = cadenza.tensor(gn, dtype=dt, requires_grad=True)
        gx, gw, gb = cadenza.autograd.grad(F.layer_norm(x, (40,), w, b), (x, w, b), gg,
                                           create_graph=True)
        (gw.sum() + (gb * gb).sum() + (gx * gx).sum()).backward()
        tx, tw, tb = (torch.tensor(a, dtype=tdt, requires_grad=True) for a in (xn, wn, bn))
        tg = torch.tensor(gn, dtype=tdt, requires_grad=True)
        ux, uw, ub = torch.autograd.grad(torch.nn.functional.layer_norm(tx, (40,), tw, tb),
                                         (tx, tw, tb), tg, create_graph=True)
        (uw.sum() + (ub * ub).sum() + (ux * ux).sum()).backward()
        for a, t in ((gw, uw), (gb, ub), (gg.grad, tg.grad), (x.grad, tx.grad),
                     (w.grad, tw.grad)):
            np.testing.assert_allclose(a.detach().numpy(), t.detach().numpy(), rtol=tol,
                                       atol=tol)


def test_param_grads_kernel_same_bytes_on_every_thread_count():
    require_cc()
    if cbuild.runtime() is None:
        pytest.skip("the pool's runtime did not build")
    rng = np.random.default_rng(4)
    g = rng.standard_normal((600, 96)).astype(np.float32)
    x = rng.standard_normal((600, 96)).astype(np.float32)
    from cadenza.ops.normalization import LayerNormWeightGrad
    graph = optimize(trace(lambda g, x: cadenza.ops.apply(LayerNormWeightGrad, g, x, bias=True),
                           cadenza.from_numpy(g), cadenza.from_numpy(x)))
    runner = make_runner(graph, "c")
    prev = cbuild.set_kernel_threads()
    try:
        got = {}
        for n in (1, 2, 3):
            cbuild.set_kernel_threads(n)
            got[n] = (LayerNormWeightGrad.forward(np, g, x, bias=True).tobytes(),
                      runner([g, x])[0].tobytes())
        assert got[1] == got[2] == got[3]
    finally:
        cbuild.set_kernel_threads(prev)
    want = Interpreter(graph)([g.astype(np.float64), x.astype(np.float64)])[0]
    np.testing.assert_allclose(np.frombuffer(got[1][0], np.float32).reshape(2, 96), want,
                               rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(want[1], g.astype(np.float64).sum(0), rtol=1e-12)


@pytest.mark.parametrize("compiled", [False, True])
def test_row_maxima_keep_nan_rows_and_infinities(compiled):
    require_cc()
    x = np.random.default_rng(5).standard_normal((64, 300)).astype(np.float32) * 30
    x[3, 17] = np.nan
    x[5, :] = -np.inf
    x[5, 7] = 2.0
    x[9, 250] = np.inf
    t = np.arange(64) % 300

    def f(x, t):
        return (F.cross_entropy(x, t, reduction="none"), x.softmax(-1), x.log_softmax(-1))
    fn = cadenza.compile(f) if compiled else f
    if compiled:
        fn(cadenza.from_numpy(x), cadenza.from_numpy(t))
    got = [a.numpy() for a in fn(cadenza.from_numpy(x), cadenza.from_numpy(t))]
    tx, tt = torch.from_numpy(x), torch.from_numpy(t)
    want = [torch.nn.functional.cross_entropy(tx, tt, reduction="none").numpy(),
            tx.softmax(-1).numpy(), tx.log_softmax(-1).numpy()]
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
        assert np.array_equal(np.isnan(a), np.isnan(b))
    assert math.isnan(got[0][3]) and not math.isnan(got[0][5])
