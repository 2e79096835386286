"""Unit tests against PyTorch for the Cadenza fixes found by the fuzzers with seeds 501-510,
each reduced to its smallest case."""
import os
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _diff import both  # noqa: E402

NAN = float("nan")


def same(fn):
    t, c = both(fn)
    if isinstance(t, type):
        assert isinstance(c, type) and (issubclass(c, t) or issubclass(t, c)), (t, c)
        return
    assert not isinstance(c, type), f"cadenza raised {c}, torch gave {t}"
    t, c = (v if isinstance(v, (tuple, list)) else (v,) for v in (t, c))
    assert len(t) == len(c)
    for a, b in zip(t, c):
        assert str(a.dtype).split(".")[-1] == str(b.dtype).split(".")[-1]
        assert tuple(a.shape) == tuple(b.shape)
        a, b = ((x.detach().double() if x.is_floating_point() else x.detach()).numpy()
                for x in (a, b))   # bfloat16 has no NumPy dtype
        np.testing.assert_array_equal(b, a)


@pytest.mark.parametrize("p", [-1.0, -0.5, -2.5])
def test_negative_p_norm_keeps_nan_beside_zero(p):
    # op_fuzz seed 501 call 5692: a zero made the norm 0 even with a NaN in the row
    same(lambda L: L.linalg.vector_norm(L.tensor([[0.0, NAN, 1.0], [0.0, 2.0, 1.0],
                                                   [3.0, 2.0, 1.0]], dtype=L.float64), p, 1))


def test_histc_bins_as_torch():
    # op_fuzz seed 501 call 22488: NumPy's histogram edges put elements one bin off torch's
    # floor((x - lo) * bins / (hi - lo)) in the input's dtype
    rng = np.random.default_rng(0)
    for k in range(150):
        dt = ("float32", "float64")[k % 2]
        a = np.round(rng.standard_normal(int(rng.integers(1, 6))) * 3, int(rng.integers(0, 3)))
        bins = int(rng.integers(1, 8))
        lo = 0.0 if k % 3 else float(np.round(rng.standard_normal(), 1))
        hi = 0.0 if k % 3 else lo + float(np.round(rng.random() * 4, 1))
        same(lambda L: L.histc(L.tensor(a, dtype=getattr(L, dt)), bins=bins, min=lo, max=hi))


def _clamp_grads(L, kind):
    x = L.tensor([NAN, 1.0, 1.0, -5.0, 0.5, 2.0, -1.0], dtype=L.float64, requires_grad=True)
    lo = L.tensor([0.0, NAN, 1.0, -1.0, 1.0, 0.0, -1.0], dtype=L.float64, requires_grad=True)
    hi = L.tensor([1.0, 1.0, 0.0, -2.0, 0.0, NAN, -1.0], dtype=L.float64, requires_grad=True)
    y = {"min": lambda: x.clamp(min=lo), "max": lambda: L.clamp(x, max=hi),
         "both": lambda: x.clamp(lo, hi), "clamp_min": lambda: L.clamp_min(x, lo)}[kind]()
    (y * L.arange(1.0, 8.0, dtype=L.float64)).sum().backward()
    return y, x.grad, lo.grad if lo.grad is not None else L.zeros(7, dtype=L.float64), \
        hi.grad if hi.grad is not None else L.zeros(7, dtype=L.float64)


@pytest.mark.parametrize("kind", ["min", "max", "both", "clamp_min"])
def test_clamp_tensor_bound_gradient_ties_go_to_input(kind):
    # op_fuzz seed 503 call 19074: clamp with tensor bounds split a tie like maximum()
    same(lambda L: _clamp_grads(L, kind))


@pytest.mark.parametrize("shape,dim", [((0, 4, 0), 2), ((0, 4), 1), ((3, 0), 0), ((0, 4), 0),
                                       ((3, 0), 1)])
def test_unique_dim_of_empty(shape, dim):
    # op_fuzz seed 504 call 24128
    same(lambda L: L.unique(L.ones(shape, dtype=L.int64), dim=dim, return_counts=True))


def test_masked_scatter_source_too_short_for_broadcast_mask():
    # op_fuzz seed 505 call 11866: a stride-0 mask of two True took one source element twice
    same(lambda L: L.masked_scatter(L.tensor(0.0), L.tensor([True]).expand(2),
                                    L.tensor([-3.0])))
    same(lambda L: L.masked_scatter(L.zeros(3), L.tensor([True, False, True]),
                                    L.tensor([1.0, 2.0, 3.0])))


@pytest.mark.parametrize("shape,dim", [((4, 1), 1), ((1, 1), 0), ((4,), 0)])
def test_index_copy_zero_d_source(shape, dim):
    # op_fuzz seed 505 call 24115: a 0-d source was broadcast over a row of 4
    same(lambda L: L.index_copy(L.zeros(shape), dim, L.tensor([0]), L.tensor(-2.0)))


@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "int64"])
def test_fill_with_float_tensor_truncates_and_wraps(dtype):
    # op_fuzz seed 505 call 25570: -1.25 into uint8 (torch 255) was refused
    for v in (-1.25, 70300.7, -0.5):
        same(lambda L: L.tensor([1, 2], dtype=getattr(L, dtype)).fill_(
            L.tensor(v, dtype=L.float64)))


@pytest.mark.parametrize("values,rng", [([1.0, -np.inf], None), ([NAN, 1.0], None),
                                        ([1.0, 2.0], (0.0, np.inf))])
def test_histogram_range_not_finite_is_runtime_error(values, rng):
    # op_fuzz seed 501 call 1326: NumPy's ValueError where torch raises RuntimeError
    same(lambda L: L.histogram(L.tensor(values), bins=3, range=rng))


def test_vector_norm_and_normalize_of_float16():
    # functional_fuzz variants: vector_norm refused float16 (torch accumulates in float32 and
    # rounds once); normalize rounds the norm, clamps by eps in float16 (1e-12 -> 0), divides
    a = np.array([[0.0, 0.0, 0.0], [0.3, -1.7, 2.2]])
    same(lambda L: L.linalg.vector_norm(L.tensor(a, dtype=L.float16), 2, 1))
    for p in (2.0, 1.0, float("inf")):
        same(lambda L: L.nn.functional.normalize(L.tensor(a, dtype=L.bfloat16), p, 1))
        same(lambda L: L.nn.functional.normalize(L.tensor(a, dtype=L.float16), p, 1, 1e-3))


def test_einsum_of_expanded_operand_keeps_nan():
    # op_fuzz seed 506 call 11133: NumPy's einsum factored the stride-0 operand out of the sum
    b = np.array([[-0.7061553, -0.2829187], [-0.9428674, 1.9479729]], dtype=np.float32)
    same(lambda L: L.einsum("ij,jk->ik", L.tensor([[float("inf")]]).expand(1, 2),
                            L.tensor(b.T.copy()).t()))
    same(lambda L: L.einsum("ij,jk->ik", L.tensor([[0.1], [3.0]]).expand(2, 3),
                            L.tensor(np.arange(12.0, dtype=np.float32).reshape(3, 4) / 7)))
