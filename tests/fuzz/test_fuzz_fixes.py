"""Unit tests against PyTorch for the Cadenza fixes the differential fuzzers of this folder
found (each case is one the fuzzers reported, reduced)."""
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import cadenza  # noqa: E402

INF, NAN = math.inf, math.nan


def both(fn):
    """fn(torch) and fn(cadenza): results, or the exception class each raised."""
    out = []
    for lib in (torch, cadenza):
        try:
            out.append(fn(lib))
        except Exception as e:  # noqa: BLE001 - the refusal is compared
            out.append(type(e))
    return out


def same(fn, exc_ok=False):
    t, c = both(fn)
    if isinstance(t, type):
        assert isinstance(c, type) and (issubclass(c, t) or issubclass(t, c)), (t, c)
        return
    assert not isinstance(c, type), f"cadenza raised {c}, torch gave {t}"
    for a, b in zip(t if isinstance(t, tuple) else (t,), c if isinstance(c, tuple) else (c,)):
        assert str(a.dtype).split(".")[-1] == str(b.dtype).split(".")[-1]
        assert tuple(a.shape) == tuple(b.shape)
        np.testing.assert_allclose(b.detach().numpy().astype(np.complex128),
                                   a.detach().float().numpy().astype(np.complex128)
                                   if a.dtype == torch.bfloat16 else
                                   a.detach().numpy().astype(np.complex128), rtol=1e-6)
        assert a.requires_grad == b.requires_grad


B = [True, False]


@pytest.mark.parametrize("fn", [
    lambda t: t.tensor(B) ^ t.tensor(4, dtype=t.int16),   # bool tensor op int: integer
    lambda t: t.tensor(B) & 1, lambda t: 1 | t.tensor(B), lambda t: t.tensor(B) | True,
    lambda t: t.add(t.tensor([1, 2], dtype=t.int8), t.tensor(B), alpha=2),
    lambda t: t.add(t.tensor(B), True, alpha=2), lambda t: t.sub(t.tensor([1, 2]), 1.5, alpha=2),
    lambda t: t.add(t.tensor([1, 2]), t.tensor(B), alpha=1.5),          # float alpha refused
    lambda t: t.where(t.tensor(B), 1, t.tensor([1., 2], dtype=t.bfloat16)),
    lambda t: t.hypot(t.tensor([1, 2]), t.tensor([1., 2], dtype=t.bfloat16)),
    lambda t: t.where(t.tensor(B), -2, t.tensor([1, 2], dtype=t.uint8)),  # -2 wraps to 254
    lambda t: t.float_power(-2 - 1j, t.tensor([1. + 1j, 2], dtype=t.complex64)),
    lambda t: t.float_power(t.tensor([1., 2], dtype=t.complex64), 2),
    lambda t: t.floor_divide(-3, t.tensor([1, 2], dtype=t.uint8)),
    lambda t: t.add(-2, t.tensor([1, 2], dtype=t.uint8), alpha=2),
    lambda t: t.tensor(4.0) ** -0.5, lambda t: t.tensor(4.0, dtype=t.float64) ** -2,
    lambda t: t.tensor(B) ** True, lambda t: t.tensor(B) ** False,
    lambda t: t.tensor(B).pow_(True), lambda t: t.tensor(B) ** t.tensor(B),
    lambda t: True ** t.tensor(B),
    lambda t: t.bincount(t.tensor([1]), weights=t.tensor([1.], dtype=t.float16)),
    lambda t: t.bincount(t.tensor([1, 1]), weights=t.tensor([1, 2], dtype=t.int32)),
    lambda t: t.bincount(t.tensor([1]), weights=t.tensor([1.])),
    lambda t: t.histc(t.tensor(-INF), bins=2), lambda t: t.histc(t.tensor([1., NAN]), bins=2),
    lambda t: t.sort(t.tensor(1.), dim=2), lambda t: t.sort(t.tensor(1.), dim=-1),
    lambda t: t.argsort(t.tensor(-3), dim=2), lambda t: t.argsort(t.tensor(-3), dim=0),
    lambda t: t.norm(t.tensor(float("nan")), p=-math.inf, dim=-1, keepdim=True),
    lambda t: t.fmod(t.tensor(B), True), lambda t: t.remainder(t.tensor(B), t.tensor(B)),
    lambda t: t.floor_divide(t.tensor(B), True),
    lambda t: t.div(t.tensor(B), True, rounding_mode="trunc"),
    lambda t: t.div(t.tensor([1, 2], dtype=t.uint8), -1, rounding_mode="trunc"),
    lambda t: t.div(t.tensor([16777217, -7]), 2, rounding_mode="trunc"),
    lambda t: t.div(7, t.tensor([2, -2], dtype=t.int8), rounding_mode="trunc"),
    lambda t: -1 / t.tensor([4, 8], dtype=t.uint8),
    lambda t: t.div(-1, t.tensor([4], dtype=t.uint8)),
    lambda t: -3 // t.tensor([4, 8], dtype=t.uint8),
    lambda t: t.pow(-3, t.tensor([1, -2, 2], dtype=t.int32)),
    lambda t: t.clamp_max(t.tensor(B), True), lambda t: t.clamp(t.tensor(B), min=False),
    lambda t: t.clamp(t.tensor(B), min=t.tensor(B)),
    lambda t: t.clamp(t.tensor([1 + 1j]), min=0), lambda t: t.tensor([1.]).clamp_min(1j),
    lambda t: t.tensor([1 + 1j], dtype=t.complex128).float_power_(t.tensor(2., dtype=t.half)),
    lambda t: t.tensor([1.], dtype=t.float64).float_power_(1j),
    lambda t: t.any(t.tensor([[1, 0]]), dim=()), lambda t: t.all(t.tensor([[1., 0]]), dim=()),
    lambda t: t.median(t.tensor([True, False]), 0), lambda t: t.nanmedian(t.tensor(B)),
    lambda t: t.norm(t.tensor([1, 2])), lambda t: t.norm(t.tensor([1.]), dtype=t.int64),
    lambda t: t.norm(t.tensor([1.], dtype=t.float64), dtype=t.float32),
    lambda t: t.norm(t.tensor([1.], dtype=t.float16), dtype=t.float32),
    lambda t: t.nanmean(t.tensor([1, 2]), dtype=t.float32),
    lambda t: t.nanmean(t.tensor([1., 2]), dtype=t.int64),
    lambda t: t.var_mean(t.zeros(3, 2, 0), dim=0, keepdim=True),
])
def test_promotion_and_edge_cases(fn):
    same(fn)


@pytest.mark.parametrize("seq,vals", [
    ([1., 2., NAN], [NAN, 1.5, 3.0]), ([NAN, 1., 2.], [NAN, 1.5, 3.0]),
    ([-3., -1., 0., NAN], [1.1, -2., NAN]), ([1., 5., NAN, NAN], [3., 0., 6.]),
    ([], [1.]), ([[1., NAN, 3.], [0., 1., 2.]], [[2., NAN], [1., 5.]]),
])
@pytest.mark.parametrize("right", [False, True])
def test_searchsorted_nan_as_torch_binary_search(seq, vals, right):
    same(lambda t: t.searchsorted(t.tensor(seq), t.tensor(vals), right=right))


@pytest.mark.parametrize("rows", [[1, INF, 2], [2, INF], [INF, 2], [-INF, 2.16], [1, 2, -INF],
                                  [INF, INF], [NAN, 1], [3., 4.]])
def test_var_mean_mean_follows_welford(rows):
    same(lambda t: t.var_mean(t.tensor(rows), 0))
    same(lambda t: t.std_mean(t.tensor(rows, dtype=t.float64), 0, keepdim=True))


def test_var_mean_welford_over_dims():
    x = [[1., 2.], [INF, 3.]]
    for dim in [0, 1, (0, 1), None]:
        same(lambda t: t.var_mean(t.tensor(x), dim))


def test_zero_gradient_results_require_grad():
    for fn in [lambda t: t.nextafter(t.ones(2, dtype=t.float64, requires_grad=True), t.zeros(2)),
               lambda t: t.norm(t.tensor([1., 0., 3.], requires_grad=True), p=0),
               lambda t: t.linalg.vector_norm(t.tensor([1., 0.], requires_grad=True), ord=0),
               lambda t: t.copysign(t.tensor(B), t.tensor([-1., 2.], requires_grad=True))]:
        same(fn)
    grads = []
    for lib in (torch, cadenza):
        x = lib.ones(2, dtype=lib.float64, requires_grad=True)
        o = lib.tensor([-1., 2.], dtype=lib.float64, requires_grad=True)
        (lib.nextafter(x, o) + lib.copysign(lib.tensor(B), o)).sum().backward()
        grads.append((x.grad.numpy(), o.grad.numpy()))
    np.testing.assert_array_equal(grads[0][0], grads[1][0])
    np.testing.assert_array_equal(grads[0][1], grads[1][1])


def test_norm_fractional_p_of_0d_backward():
    gs = []
    for lib in (torch, cadenza):
        x = lib.tensor(-4.69, dtype=lib.float64, requires_grad=True)
        lib.norm(x, p=0.5, dim=0).backward()
        gs.append(float(x.grad))
    assert gs[0] == pytest.approx(gs[1])


@pytest.mark.parametrize("shape,cls,kw", [
    ((1, 1, 4, 5, 6), "MaxPool3d", dict(kernel_size=3, ceil_mode=True, dilation=2)),
    ((2, 2, 5, 4), "MaxPool2d", dict(kernel_size=3, stride=2, ceil_mode=True, dilation=2)),
    ((2, 2, 5, 4), "MaxPool2d", dict(kernel_size=3, stride=2, dilation=2)),   # too small
])
def test_pool_ceil_mode_window_past_the_end(shape, cls, kw):
    x = np.random.default_rng(0).standard_normal(shape)
    same(lambda t: getattr(t.nn, cls)(**kw)(t.tensor(x)))


A2 = [[2., 1.], [1., 3.]]


@pytest.mark.parametrize("call", [
    lambda t, o: t.linalg.inv(t.tensor(A2), out=o),
    lambda t, o: t.linalg.solve(t.tensor(A2), t.tensor([1., 2.]), out=o),
    lambda t, o: t.linalg.norm(t.tensor(A2), out=o),
    lambda t, o: t.linalg.matrix_power(t.tensor(A2), 3, out=o),
    lambda t, o: t.cat([t.ones(2), t.zeros(1)], out=o),
    lambda t, o: t.stack([t.ones(2), t.zeros(2)], out=o),
    lambda t, o: t.max(t.tensor(A2), out=o),
])
def test_out_is_written_and_returned(call):
    """out= was accepted and ignored (the result returned, out left as it was)."""
    vals = []
    for lib in (torch, cadenza):
        o = lib.empty(0)
        assert call(lib, o) is o
        vals.append(o.numpy())
    np.testing.assert_allclose(vals[1], vals[0], rtol=1e-6)


def test_out_tuples_and_refusals():
    for lib in (torch, cadenza):
        q, r = lib.empty(0), lib.empty(0)
        res = lib.linalg.qr(lib.tensor(A2), out=(q, r))
        assert res[0] is q and res[1] is r
        np.testing.assert_allclose((q @ r).numpy(), np.array(A2), rtol=1e-6)
        v, i = lib.empty(0), lib.empty(0, dtype=lib.int64)
        lib.max(lib.tensor(A2), 1, out=(v, i))
        assert i.tolist() == [0, 1]
    same(lambda t: t.cat([t.ones(2)], out=t.empty(0, dtype=t.int64)))
    same(lambda t: t.linalg.inv(t.tensor(A2, requires_grad=True), out=t.empty(0)))


def test_hessian_of_a_function_linear_in_x_is_zeros():
    """The gradient does not depend on x: torch.func gives a zero Hessian (Cadenza raised)."""
    hs = []
    for lib in (torch, cadenza):
        y = lib.tensor([[1., 2.], [3., 4.]], dtype=lib.float64)
        hs.append(lib.func.hessian(lambda x: (x * y).sum())(lib.ones(2, 2, dtype=lib.float64)))
        assert lib.func.grad(lambda x: (x * 3.0).sum())(lib.ones(2)).tolist() == [3.0, 3.0]
    np.testing.assert_array_equal(hs[0].numpy(), hs[1].numpy())


def test_empty_batch_decompositions():
    for fn in [lambda t: t.linalg.qr(t.zeros(0, 3, 2, dtype=t.float64)),
               lambda t: t.linalg.eigh(t.zeros(2, 0, 3, 3, dtype=t.float64)),
               lambda t: t.linalg.svd(t.zeros(0, 2, 3, dtype=t.float64)),
               lambda t: t.linalg.svdvals(t.zeros(0, 3, 3))]:
        same(fn)


def test_vector_norm_without_identity_on_an_empty_dim():
    for o in (-1, math.inf, -math.inf):
        same(lambda t: t.linalg.vector_norm(t.zeros(3, 0), ord=o, dim=-1))


@pytest.mark.parametrize("fn", [
    lambda t: t.tensor([[1.5, -2.]], dtype=t.float64).t().addcdiv_(
        t.tensor([[0.3, 0.7]], dtype=t.half), t.tensor([[0.9, 1.1]], dtype=t.half)),
    lambda t: t.addcmul(t.zeros(2, dtype=t.float64), t.tensor([0.1, 0.3], dtype=t.half),
                        t.tensor([0.7, 0.9], dtype=t.half)),
    lambda t: t.addcdiv(t.zeros(2), t.tensor([1, 2]), t.tensor([3, 4])),
    lambda t: t.lerp(t.zeros(2), t.tensor([1, 2]), 0.5),
    lambda t: t.lerp(t.zeros(2), t.ones(2, dtype=t.float64), 0.5),
    lambda t: t.lerp(t.zeros(2, dtype=t.int32), t.ones(2, dtype=t.int32), t.ones(2, dtype=t.int32)),
])
def test_addc_and_lerp_dtypes(fn):
    same(fn)


def test_inplace_through_a_0d_view_reaches_the_base():
    for lib in (torch, cadenza):
        b = lib.tensor([[1., 2.], [3., 4.]])
        b[1, 0].zero_()
        b[0][1].add_(5)
        assert b.tolist() == [[1., 7.], [0., 4.]]


def test_bool_accumulate_and_fill_overflow():
    same(lambda t: t.zeros(2, 2, dtype=t.bool).index_put_(
        (t.tensor([0, 0]),), t.tensor([[True, False], [False, True]]), accumulate=True))
    same(lambda t: t.tensor([1, 2], dtype=t.uint8).fill_(-1.5))


@pytest.mark.parametrize("reduce", ["amax", "amin", "sum", "prod"])
def test_bool_scatter_reduce_without_self(reduce):
    same(lambda t: t.tensor([[False], [True]]).scatter_reduce_(
        1, t.tensor([[0], [0]]), t.tensor([[True], [False]]), reduce, include_self=False))
