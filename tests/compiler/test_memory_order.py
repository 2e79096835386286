"""Compiled float64 results equal eager's bit for bit when operands are transposed (issue 14's
residue). NumPy's ufuncs keep their operands' memory order (``x.T * 2`` is F-ordered) and its
reductions walk the operand in memory order (pairwise sums along the innermost memory axis), so
the sum of an elementwise result over transposed operands adds in another order than the same
values laid out C-contiguously. Kernels now write every output in the memory order eager gave
it (``Value.order``) and fused reductions iterate in their operand's memory order."""
import numpy as np
import pytest

import cadenza
from cadenza.codegen import executor


def _rand(*shape, seed=0):
    g = np.random.default_rng(seed)
    # values of mixed magnitude so that the order of the additions shows in the last bits
    return cadenza.tensor(g.standard_normal(shape) * 10.0 ** g.integers(-3, 4, shape))


def _check(fn, *args):
    want = fn(*args)
    compiled = cadenza.compile(fn, backend="c")
    for _ in range(3):          # traced call, then replays
        got = compiled(*args)
        wants = want if isinstance(want, tuple) else (want,)
        gots = got if isinstance(got, tuple) else (got,)
        for w, g in zip(wants, gots):
            assert w.shape == g.shape
            np.testing.assert_array_equal(g.numpy(), w.numpy())
            assert g.numpy().tobytes() == w.numpy().tobytes()


CASES = {
    "sum of all": lambda a, b: (a.t() * b.t()).sum(),
    "sum dim 0": lambda a, b: (a.t() * 3.0 + b.t()).sum(0),
    "sum dim 1": lambda a, b: (a.t() - b.t()).sum(1),
    "mean keepdim": lambda a, b: (a.t() * b.t()).mean(1, keepdim=True),
    "square then sum": lambda a, b: a.t().square().sum(),
    "mixed orders": lambda a, b: (a.t() * b).sum(),
    "not fused (two uses)": lambda a, b: (lambda y: (y.sum(), y * 2))(a.t() * b.t() + 1.0),
    "amax dim 0": lambda a, b: (a.t() * b.t()).amax(0),
}


@pytest.mark.parametrize("name", list(CASES))
def test_reduction_of_transposed_elementwise_is_bitwise_eager(name):
    a, b = _rand(37, 37, seed=1), _rand(37, 37, seed=2)
    _check(CASES[name], a, b)


@pytest.mark.parametrize("dims", [(0,), (1,), (2,), (0, 1), (1, 2), (0, 2), None])
@pytest.mark.parametrize("perm", [(2, 1, 0), (1, 0, 2), (0, 2, 1), (2, 0, 1)])
def test_permuted_3d_reductions_are_bitwise_eager(perm, dims):
    x, y = _rand(9, 17, 11, seed=3), _rand(9, 17, 11, seed=4)

    def f(x, y):
        z = x.permute(*perm) * y.permute(*perm) + 0.5
        return z.sum() if dims is None else z.sum(dims)
    _check(f, x, y)


def test_partial_reduction_output_keeps_eager_order_for_the_next_sum():
    # the first sum's result is F-ordered in eager (it follows its operand): summing it again
    # must add in that order too
    x = _rand(12, 10, 9, seed=5)
    _check(lambda x: (x.permute(2, 1, 0) * 2.0).sum(2).mul(3.0).sum(), x)


def test_gradient_through_transposed_operands_is_bitwise_eager():
    w = cadenza.nn.Parameter(_rand(24, 24, seed=6))

    def step(inp):
        w.grad = None
        ((w.t() * inp).square().mean() + (w * inp.t()).sum(0).square().sum()).backward()
        return w.grad.clone()
    _check(step, _rand(24, 24, seed=7))


def test_kernel_reads_a_transposed_input_without_a_copy(monkeypatch):
    # an input laid out as eager had it (a transposed view) is passed as it is
    copies = []
    real = executor.empty_in_order

    def spy(shape, dtype, order):
        copies.append(order)
        return real(shape, dtype, order)
    monkeypatch.setattr(executor, "empty_in_order", spy)
    a = _rand(300, 200, seed=8)
    f = cadenza.compile(lambda a: (a.t() * 2.0 + 1.0).exp(), backend="c")
    for _ in range(3):
        out = f(a)
    want = (a.t() * 2.0 + 1.0).exp()
    np.testing.assert_allclose(out.numpy(), want.numpy(), rtol=1e-15)
    assert out.numpy().flags.f_contiguous          # the layout eager gives it
    assert copies and all(o == (1, 0) for o in copies), copies   # outputs only, no input copy
