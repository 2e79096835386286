"""LBFGS against torch.optim.LBFGS: the same float64 problems, step for step (losses, parameters
and the stored history), with and without the strong-Wolfe line search."""
import numpy as np
import pytest
import torch

import cadenza
import cadenza.optim as optim


def _rosenbrock(lib, x):
    return ((1 - x[:-1]) ** 2 + 100 * (x[1:] - x[:-1] ** 2) ** 2).sum()


def _run(lib, opt_cls, x0, kw, steps, loss_fn):
    x = lib.tensor(x0, requires_grad=True)
    opt = opt_cls([x], **kw)
    losses = []

    def closure():
        opt.zero_grad()
        loss = loss_fn(lib, x)
        loss.backward()
        return loss
    for _ in range(steps):
        losses.append(float(opt.step(closure).detach()))
    return x, opt, losses


def _quadratic(lib, x):
    n = x.shape[0]
    scale = lib.arange(1, n + 1, dtype=x.dtype)
    return (scale * (x - 0.5) ** 2).sum() + 0.1 * (x[0] * x[-1])


KWS = [dict(), dict(line_search_fn="strong_wolfe"),
       dict(lr=0.5, max_iter=7, history_size=3),
       dict(lr=0.8, history_size=4, line_search_fn="strong_wolfe", max_iter=30),
       dict(tolerance_grad=1e-3, tolerance_change=1e-4, max_eval=9)]


@pytest.mark.parametrize("kw", KWS, ids=[str(k) for k in KWS])
@pytest.mark.parametrize("problem", [_rosenbrock, _quadratic], ids=["rosenbrock", "quadratic"])
def test_matches_torch(problem, kw):
    x0 = np.random.default_rng(0).uniform(-1.5, 1.5, 6)
    xc, oc, lc = _run(cadenza, optim.LBFGS, x0, kw, 5, problem)
    xt, ot, lt = _run(torch, torch.optim.LBFGS, x0, kw, 5, problem)
    # dot products sum in BLAS order (not bitwise torch's); Rosenbrock amplifies the last bits
    np.testing.assert_allclose(lc, lt, rtol=1e-7, atol=1e-12)
    np.testing.assert_allclose(xc.detach().numpy(), xt.detach().numpy(), rtol=1e-7,
                               atol=1e-9)
    sc, st = oc.state[xc], ot.state[xt]
    assert sc["func_evals"] == st["func_evals"] and sc["n_iter"] == st["n_iter"]
    assert len(sc["old_dirs"]) == len(st["old_dirs"])
    for a, b in zip(sc["old_dirs"], st["old_dirs"]):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-6)


def test_sine_wave_lstm_like_torch():
    """The time-sequence-prediction example's shape: two LSTMCells and a Linear in float64,
    MSE loss, LBFGS(lr=0.8) with a closure; same weights, same losses step for step."""
    class Sequence:
        def __init__(self, lib):
            self.lib = lib
            self.lstm1 = lib.nn.LSTMCell(1, 8).double()
            self.lstm2 = lib.nn.LSTMCell(8, 8).double()
            self.linear = lib.nn.Linear(8, 1).double()
            self.mods = [self.lstm1, self.lstm2, self.linear]

        def parameters(self):
            return [p for m in self.mods for p in m.parameters()]

        def __call__(self, x, future=0):
            lib = self.lib
            outputs = []
            h_t = lib.zeros(x.size(0), 8, dtype=lib.double)
            c_t = lib.zeros(x.size(0), 8, dtype=lib.double)
            h_t2 = lib.zeros(x.size(0), 8, dtype=lib.double)
            c_t2 = lib.zeros(x.size(0), 8, dtype=lib.double)
            output = None
            for input_t in x.split(1, dim=1):
                h_t, c_t = self.lstm1(input_t, (h_t, c_t))
                h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
                output = self.linear(h_t2)
                outputs += [output]
            for _ in range(future):
                h_t, c_t = self.lstm1(output, (h_t, c_t))
                h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
                output = self.linear(h_t2)
                outputs += [output]
            return lib.cat(outputs, dim=1)

    rng = np.random.default_rng(2)
    T, N, L = 20, 4, 10
    xs = np.arange(L) + rng.integers(-4 * T, 4 * T, N).reshape(N, 1)
    data = np.sin(xs / T).astype(np.float64)

    torch.manual_seed(0)
    ref = Sequence(torch)
    ours = Sequence(cadenza)
    for m_c, m_t in zip(ours.mods, ref.mods):
        m_c.load_state_dict({k: cadenza.tensor(v.detach().numpy())
                             for k, v in m_t.state_dict().items()})

    def train(lib, model, steps=2):
        inp, target = lib.tensor(data[:, :-1]), lib.tensor(data[:, 1:])
        opt = lib.optim.LBFGS(model.parameters(), lr=0.8, max_iter=8)
        crit = lib.nn.MSELoss()
        losses = []

        def closure():
            opt.zero_grad()
            loss = crit(model(inp), target)
            losses.append(loss.item())
            loss.backward()
            return loss
        for _ in range(steps):
            opt.step(closure)
        with lib.no_grad():
            pred = model(inp[:2], future=5)
        return losses, pred.numpy()
    lc, pc = train(cadenza, ours)
    lt, pt = train(torch, ref)
    assert len(lc) == len(lt)
    np.testing.assert_allclose(lc, lt, rtol=1e-9)
    np.testing.assert_allclose(pc, pt, rtol=1e-8, atol=1e-10)


def test_api_and_errors():
    w = cadenza.zeros(3, requires_grad=True)
    opt = optim.LBFGS([w])
    ref = torch.optim.LBFGS([torch.zeros(3, requires_grad=True)])
    assert {k: v for k, v in opt.param_groups[0].items() if k != "params"} == \
        {k: v for k, v in ref.param_groups[0].items() if k != "params"}
    with pytest.raises(ValueError, match="per-parameter options"):
        optim.LBFGS([{"params": [w]}, {"params": [cadenza.zeros(1, requires_grad=True)]}])
    with pytest.raises(ValueError, match="per-parameter options"):
        opt.add_param_group({"params": [cadenza.zeros(1, requires_grad=True)]})
    with pytest.raises(ValueError, match="Invalid learning rate"):
        optim.LBFGS([w], lr=-1)
    bad = optim.LBFGS([w], line_search_fn="armijo")

    def closure():
        bad.zero_grad()
        loss = ((w - 1) ** 2).sum()
        loss.backward()
        return loss
    with pytest.raises(RuntimeError, match="only 'strong_wolfe' is supported"):
        bad.step(closure)
    # state_dict round trip mid-run continues like the original
    x0 = np.linspace(-1, 1, 5)
    a = cadenza.tensor(x0, requires_grad=True)
    b = cadenza.tensor(x0, requires_grad=True)
    oa, ob = optim.LBFGS([a], history_size=3), optim.LBFGS([b], history_size=3)

    def make(opt, x):
        def c():
            opt.zero_grad()
            loss = _rosenbrock(cadenza, x)
            loss.backward()
            return loss
        return c
    oa.step(make(oa, a))
    ob.step(make(ob, b))
    fresh = cadenza.tensor(b.detach().numpy(), requires_grad=True)
    oc = optim.LBFGS([fresh], history_size=3)
    oc.load_state_dict(ob.state_dict())
    oa.step(make(oa, a))
    oc.step(make(oc, fresh))
    np.testing.assert_array_equal(a.detach().numpy(), fresh.detach().numpy())


def test_compile_refuses_lbfgs_step():
    w = cadenza.tensor([2.0, -1.0], requires_grad=True)
    opt = optim.LBFGS([w])

    def closure():
        opt.zero_grad()
        loss = ((w - 1) ** 2).sum()
        loss.backward()
        return loss
    f = cadenza.compile(lambda: opt.step(closure), fullgraph=True)
    with pytest.raises(Exception, match="LBFGS.step is not supported in compiled mode"):
        f()
