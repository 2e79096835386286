"""State changed between compiled calls that a replay used to ignore (silent stale numbers):
each case mutates something after two compiled calls and compares with eager on the same
state. Found by a probe over ~80 mutations (hooks, closure/global rebinding, containers,
module callables and containers, default dtype, autocast, argument strides and views)."""
from __future__ import annotations

import numpy as np
import pytest

import cadenza
import cadenza.nn as nn
from cadenza.errors import TraceError


def _close(a, b):
    assert a.dtype == b.dtype
    np.testing.assert_allclose(a.detach().float().numpy(), b.detach().float().numpy(),
                               rtol=1e-6, atol=1e-6)


def _mlp():
    cadenza.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))


X = cadenza.randn(3, 4)


def _warm(f, *args):
    with cadenza.no_grad():
        f(*args)
        f(*args)


@pytest.mark.parametrize("where", ["sub", "top", "pre"])
def test_hook_registered_after_compiling(where):
    m = _mlp()
    f = cadenza.compile(m)
    _warm(f, X)
    if where == "sub":
        h = m[0].register_forward_hook(lambda mod, i, o: o * 2)
    elif where == "top":
        h = m.register_forward_hook(lambda mod, i, o: o * 2)
    else:
        h = m[2].register_forward_pre_hook(lambda mod, i: (i[0] * 3,))
    with cadenza.no_grad():
        _close(f(X), m(X))
        h.remove()
        _close(f(X), m(X))


class _Holder(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 4)
        self.act = cadenza.relu
        self.scales = [1.0, 2.0]
        self.cfg = {"a": 1.0}
        self.ts = [cadenza.randn(4)]

    def forward(self, t):
        return self.act(self.lin(t)) * self.scales[1] * self.cfg["a"] * self.ts[0]


def test_module_callable_and_container_attributes():
    m = _Holder()
    f = cadenza.compile(m)
    _warm(f, X)
    with cadenza.no_grad():
        for change in (lambda: setattr(m, "act", cadenza.tanh),
                       lambda: m.scales.__setitem__(1, 5.0),
                       lambda: m.cfg.__setitem__("a", 3.0),
                       lambda: m.ts.__setitem__(0, cadenza.randn(4))):
            change()
            _close(f(X), m(X))


CFG = {"scale": 2.0}
BUF = [cadenza.randn(4)]
GM = nn.Linear(4, 4)


def _uses_globals(t):
    return GM(t) * CFG["scale"] * BUF[0]


def test_global_containers_and_rebound_module():
    global GM
    f = cadenza.compile(_uses_globals)
    _warm(f, X)
    with cadenza.no_grad():
        CFG["scale"] = 5.0
        _close(f(X), _uses_globals(X))
        BUF[0] = cadenza.randn(4)
        _close(f(X), _uses_globals(X))
        GM = nn.Linear(4, 4)
        _close(f(X), _uses_globals(X))


def test_closure_rebinding_and_list_length():
    mm = nn.Linear(4, 4)
    ws = [cadenza.randn(4)]
    act = cadenza.relu

    def g(t):
        out = act(mm(t))
        for w in ws:
            out = out * w
        return out
    f = cadenza.compile(g)
    _warm(f, X)
    with cadenza.no_grad():
        ws.append(cadenza.randn(4))
        _close(f(X), g(X))
        mm = nn.Linear(4, 4)       # noqa: F841  (read by g through its closure)
        _close(f(X), g(X))
        act = cadenza.tanh         # noqa: F841
        _close(f(X), g(X))


def test_closure_optimizer_rebound():
    m = _mlp()
    opt = cadenza.optim.SGD(m.parameters(), lr=0.1)

    def step():
        opt.zero_grad()
        m(X).sum().backward()
        opt.step()
    f = cadenza.compile(step)
    f()
    f()
    opt = cadenza.optim.SGD(m.parameters(), lr=0.0)     # noqa: F841
    before = [p.detach().clone() for p in m.parameters()]
    f()
    for a, p in zip(before, m.parameters()):
        _close(a, p)


def test_call_that_appends_to_a_closure_list_is_refused():
    outs = [cadenza.zeros(3)]

    def g(t):
        outs.append(t * 2)
        return t + 1
    with pytest.raises(TraceError, match="outs"):
        cadenza.compile(g)(cadenza.ones(3))


def test_default_dtype_and_autocast():
    def g(t):
        return t + cadenza.zeros(3) + cadenza.tensor(1.5)
    f = cadenza.compile(g)
    t = cadenza.randn(3)
    _warm(f, t)
    cadenza.set_default_dtype(cadenza.float64)
    try:
        _close(f(t), g(t))
    finally:
        cadenza.set_default_dtype(cadenza.float32)
    _close(f(t), g(t))
    m = _mlp()
    fm = cadenza.compile(m)
    _warm(fm, X)
    with cadenza.no_grad(), cadenza.autocast("cpu", dtype=cadenza.bfloat16):
        _close(fm(X), m(X))
    with cadenza.no_grad():
        _close(fm(X), m(X))


def test_argument_strides_and_views_of_one_buffer():
    def g(t):
        return t.view(-1) * 2 if t.is_contiguous() else t.reshape(-1) * 3
    f = cadenza.compile(g)
    _warm(f, cadenza.randn(4, 4))
    b = cadenza.randn(4, 4).t()
    _close(f(b), g(b))

    def h(a, b):
        a.add_(1.0)
        return b * 2
    fh = cadenza.compile(h)
    fh(cadenza.randn(4), cadenza.randn(4))
    fh(cadenza.randn(4), cadenza.randn(4))
    base = cadenza.randn(4)
    base2 = base.clone()
    _close(fh(base, base[:]), h(base2, base2[:]))
    _close(base, base2)


def test_global_forward_hook_and_module_backward_hook_after_compiling():
    from cadenza.nn.modules.module import register_module_forward_hook
    m = _mlp()
    f = cadenza.compile(m)
    _warm(f, X)
    h = register_module_forward_hook(
        lambda mod, i, o: o * 2 if isinstance(o, cadenza.Tensor) else o)
    try:
        with cadenza.no_grad():
            _close(f(X), m(X))
    finally:
        h.remove()
    grads = []
    for run in (f, m):
        m.zero_grad()
        run(X).sum().backward()
        grads.append(m[0].weight.grad.clone())
        if run is f:
            m[2].register_full_backward_hook(lambda mod, gi, go: (gi[0] * 3,))
            m.zero_grad()
            f(X).sum().backward()
            grads[0] = m[0].weight.grad.clone()
    _close(*grads)
