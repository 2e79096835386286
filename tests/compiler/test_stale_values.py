"""A compiled call must never replay the traced call's bytes for a value it computes (issue 14,
item 1). The tracer identifies values by memory key (address, shape, strides, dtype); a view
with its input's key (the transpose of a (1, 1) tensor) used to lose that key when the input
died first, so the next op read the view as a graph input frozen at the traced call's value."""
import numpy as np
import pytest

import cadenza
import cadenza.nn as nn
from cadenza.errors import TraceError
from cadenza._tensor import _make
from cadenza.ops.views import sum_to

BACKENDS = ["c", "numpy"]


def _grad_step(x, set_to_none):
    def step(inp):
        if set_to_none == "attr":
            x.grad = None
        s = x.sum(dim=(0, 1), keepdim=True).transpose(0, 1)
        (s * x * inp).sum().backward()
        return x.grad.clone()
    return step


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("set_to_none", ["attr", "outside"])
def test_gradient_through_transposed_keepdim_sum_follows_the_input(backend, set_to_none):
    # the case: calls with x = 1, 2, 3 gave the traced call's gradient every time
    x = nn.Parameter(cadenza.ones(2, 2, dtype=cadenza.float64))
    step = _grad_step(x, set_to_none)
    compiled = cadenza.compile(step, backend=backend)
    inp = cadenza.ones(2, 2, dtype=cadenza.float64)
    for v in (1.0, 2.0, 3.0):
        with cadenza.no_grad():
            x.copy_(cadenza.full((2, 2), v, dtype=cadenza.float64))
        x.grad = None
        want = step(inp).numpy()
        x.grad = None
        got = compiled(inp).numpy()
        assert np.array_equal(got, want), (v, got, want)
        assert want[0, 0] == 8 * v


@pytest.mark.parametrize("backend", BACKENDS)
def test_zero_grad_set_to_none_inside_with_an_optimizer(backend):
    torch_like = []
    for compiled in (False, True):
        cadenza.manual_seed(0)
        w = nn.Parameter(cadenza.randn(3, 3, dtype=cadenza.float64))
        opt = cadenza.optim.SGD([w], lr=0.1)

        def step(inp):
            opt.zero_grad(set_to_none=True)
            s = (w * inp).sum(dim=(0, 1), keepdim=True).transpose(0, 1)
            loss = (s * w).mean()
            loss.backward()
            opt.step()
            return loss

        f = cadenza.compile(step, backend=backend) if compiled else step
        losses = [f(cadenza.full((3, 3), float(i + 1), dtype=cadenza.float64)).item()
                  for i in range(4)]
        torch_like.append((losses, w.detach().numpy().copy()))
    (le, we), (lc, wc) = torch_like
    assert le == lc
    assert np.array_equal(we, wc)


def test_input_gradient_through_transposed_keepdim_sum():
    def f(x):
        s = x.sum(dim=(0, 1), keepdim=True).transpose(0, 1)
        (g,) = cadenza.autograd.grad((s * x).sum(), [x])
        return g

    compiled = cadenza.compile(f)
    for v in (1.0, 2.0, 3.0):
        x = cadenza.full((2, 2), v, dtype=cadenza.float64, requires_grad=True)
        assert np.array_equal(compiled(x).numpy(), f(x).numpy())


def test_a_view_of_traced_memory_made_outside_the_ops_is_refused_after_its_keys_die():
    # the safety net: even when every array keyed on a traced value has died, memory that a
    # traced value lives in is never lifted as an input (it would replay this call's bytes)
    def f(x):
        y = sum_to(x, (1, 2))         # a view of an array no tensor holds (its root)
        v = _make(y._data[None])      # a raw NumPy view: not a recorded op
        del y
        return v + 1

    with pytest.raises(TraceError, match="outside the recorded ops"):
        cadenza.compile(f)(cadenza.ones(2, 2))


@pytest.mark.parametrize("backend", BACKENDS)
def test_in_place_op_whose_backward_reads_the_old_value(backend):
    # y.mul_(w): backward needs y before the write; eager snapshots it, and that snapshot was
    # a raw copy the trace lifted as an input, so every replay used the traced call's y
    runs = []
    for compiled in (False, True):
        w = nn.Parameter(cadenza.tensor(np.random.default_rng(0).standard_normal((3, 2))))
        opt = cadenza.optim.SGD([w], lr=0.1)

        def step():
            opt.zero_grad(set_to_none=True)
            y = w * 1.0
            y.mul_(w)
            loss = y.sum() ** 2
            loss.backward()
            opt.step()
            return loss.detach()
        f = cadenza.compile(step, backend=backend) if compiled else step
        runs.append([f().item() for _ in range(5)])
    assert runs[0] == runs[1]


def test_compiled_replays_check_index_ranges():
    """A replayed graph checks every call's indices as eager does (issue 14): -1 into
    embedding/gather/index_select must raise, not read the last row."""
    import cadenza.nn.functional as F
    w = cadenza.randn(5, 3)
    x = cadenza.randn(5)
    cases = [
        (lambda i: F.embedding(i, w) * 2, IndexError),
        (lambda i: cadenza.gather(x, 0, i) * 2, RuntimeError),
        (lambda i: cadenza.index_select(w, 0, i) * 2, IndexError),
        (lambda i: cadenza.zeros(5).scatter_add(0, i, cadenza.ones(2)) * 2, RuntimeError),
    ]
    for fn, err in cases:
        f = cadenza.compile(fn)
        good = cadenza.tensor([1, 2])
        assert cadenza.equal(f(good), fn(good))
        assert cadenza.equal(f(good), fn(good))   # replayed
        for bad in ([-1, 2], [1, 5]):
            with pytest.raises(err, match="out of range"):
                f(cadenza.tensor(bad))


class _WithAux(cadenza.nn.Module):
    """Sets a tensor attribute while it runs, as MoE layers set ``aux_loss``."""

    def __init__(self):
        super().__init__()
        self.lin = cadenza.nn.Linear(3, 3)
        self.aux = None

    def forward(self, x):
        y = self.lin(x)
        self.aux = (y * y).mean()
        return y


@pytest.mark.parametrize("backend", ["numpy", "c"])
def test_tensor_attributes_set_inside_are_replayed(backend):
    cadenza.manual_seed(0)
    m = _WithAux()

    def step(x):
        with cadenza.no_grad():
            return m(x).sum()
    f = cadenza.compile(step, backend=backend)
    for _ in range(4):
        x = cadenza.randn(2, 3)
        f(x)
        with cadenza.no_grad():
            want = (m.lin(x) ** 2).mean()
        assert float(m.aux) == pytest.approx(float(want), rel=1e-6)


def test_tensor_attributes_that_cannot_be_replayed_are_refused():
    m = _WithAux()
    with pytest.raises(cadenza.TraceError, match="aux"):
        cadenza.compile(m)(cadenza.randn(2, 3, requires_grad=True))   # backward outside
    lazy = cadenza.compile(m, fullgraph=False)
    with pytest.warns(UserWarning, match="aux"):
        lazy(cadenza.randn(2, 3, requires_grad=True))
    x2 = cadenza.randn(2, 3, requires_grad=True)
    lazy(x2)
    with cadenza.no_grad():
        assert float(m.aux) == pytest.approx(float((m.lin(x2) ** 2).mean()), rel=1e-6)

    class Keeps(cadenza.nn.Module):
        def forward(self, x):
            self.last = x                 # an argument, not a computed value
            return x * 2
    with pytest.raises(cadenza.TraceError, match="last"):
        cadenza.compile(Keeps())(cadenza.ones(2))
