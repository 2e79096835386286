"""Edge cases where Cadenza once gave a silently wrong answer (issue 14 items 3-6): integer
reductions, out-of-range and 0-d indices, float16 accumulation, NaN ordering, gradients at
degenerate points. Each case is checked against PyTorch, the oracle."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import cadenza


def _same(c, t, rtol=0.0):
    """Cadenza result c equals torch result t: dtype, shape and values (NaN == NaN), exactly
    or within rtol."""
    assert str(c.dtype).split(".")[-1] == str(t.dtype).split(".")[-1], (c.dtype, t.dtype)
    assert tuple(c.shape) == tuple(t.shape), (c.shape, t.shape)
    if t.dtype == torch.bfloat16:  # torch has no NumPy bfloat16
        c, t = c.float(), t.float()
    np.testing.assert_allclose(c.detach().numpy(), t.detach().numpy(), rtol=rtol, atol=0)


def _raises_like(fn):
    """fn(lib) raises in torch; Cadenza raises the same exception class."""
    with pytest.raises(Exception) as te:
        fn(torch)
    with pytest.raises(type(te.value)):
        fn(cadenza)


# ----------------------------------------------------------------------- integer reductions
@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "bool"])
@pytest.mark.parametrize("op", ["sum", "prod", "cumsum", "cumprod"])
def test_integer_reductions_promote_to_int64(op, dtype):
    vals = [True, True] if dtype == "bool" else [200, 100] if dtype == "uint8" else [100, 100]
    args = () if op in ("sum", "prod") else (0,)
    c = getattr(cadenza.tensor(vals, dtype=getattr(cadenza, dtype)), op)(*args)
    t = getattr(torch.tensor(vals, dtype=getattr(torch, dtype)), op)(*args)
    _same(c, t)
    _same(c + 1, t + 1)
    assert repr(c)


def test_uint8_sum_with_dim_and_explicit_dtype():
    a = [[200, 100], [255, 1]]
    _same(cadenza.tensor(a, dtype=cadenza.uint8).sum(1), torch.tensor(a, dtype=torch.uint8).sum(1))
    _same(cadenza.tensor(a, dtype=cadenza.uint8).sum(dtype=cadenza.uint8),
          torch.tensor(a, dtype=torch.uint8).sum(dtype=torch.uint8))


# ----------------------------------------------------------------------- out-of-range indices
_X = [0., 1., 2., 3., 4.]

OUT_OF_RANGE = {
    "embedding -1": lambda m: m.nn.functional.embedding(m.tensor([-1]), m.ones(3, 2)),
    "embedding n": lambda m: m.nn.functional.embedding(m.tensor([[0, 3]]), m.ones(3, 2)),
    "gather -1": lambda m: m.gather(m.tensor(_X), 0, m.tensor([-1])),
    "gather n": lambda m: m.gather(m.tensor([_X]), 1, m.tensor([[5]])),
    "gather 0-d input": lambda m: m.gather(m.tensor(3.), 0, m.tensor([1])),
    "scatter -1": lambda m: m.scatter(m.tensor(_X), 0, m.tensor([-1]), m.tensor([9.])),
    "scatter_add -1": lambda m: m.scatter_add(m.tensor(_X), 0, m.tensor([-1]), m.tensor([1.])),
    "scatter_add n": lambda m: m.scatter_add(m.tensor(_X), 0, m.tensor([5]), m.tensor([1.])),
    "index_select -1": lambda m: m.index_select(m.tensor(_X), 0, m.tensor([-1])),
    "index_select n": lambda m: m.index_select(m.tensor([_X]), 1, m.tensor([5])),
    "index_add -1": lambda m: m.index_add(m.tensor(_X), 0, m.tensor([-1]), m.tensor([9.])),
    "index_copy -1": lambda m: m.index_copy(m.tensor(_X), 0, m.tensor([-1]), m.tensor([9.])),
    "index_fill -6": lambda m: m.index_fill(m.tensor(_X), 0, m.tensor([-6]), 9.),
    "kthvalue 0": lambda m: m.kthvalue(m.tensor(_X), 0),
    "kthvalue -1": lambda m: m.kthvalue(m.tensor(_X), -1),
    "kthvalue n+1": lambda m: m.kthvalue(m.tensor(_X), 6),
    "int // 0": lambda m: m.tensor([3, 4]) // 0,
    "int // tensor 0": lambda m: m.tensor([3, 4]) // m.tensor([1, 0]),
    "int rfloordiv 0": lambda m: 5 // m.tensor([0, 1]),
    "int % 0": lambda m: m.tensor([3]) % 0,
    "uint8 remainder 0": lambda m: m.remainder(m.tensor([3], dtype=m.uint8),
                                               m.tensor([0], dtype=m.uint8)),
    "int fmod 0": lambda m: m.fmod(m.tensor([3]), 0),
    "int div trunc 0": lambda m: m.div(m.tensor([3]), 0, rounding_mode="trunc"),
    "int div floor 0": lambda m: m.div(m.tensor([3]), m.tensor([0]), rounding_mode="floor"),
}


@pytest.mark.parametrize("case", sorted(OUT_OF_RANGE))
def test_out_of_range_raises_like_torch(case):
    _raises_like(OUT_OF_RANGE[case])


def test_in_range_still_works():
    # the checks must not reject what PyTorch accepts: index_fill wraps negatives, floats
    # divide by zero to inf, the last valid index and k = n are fine
    for fn in (lambda m: m.index_fill(m.tensor(_X), 0, m.tensor([-1, 4]), 9.),
               lambda m: m.gather(m.tensor(_X), 0, m.tensor([4, 0])),
               lambda m: m.kthvalue(m.tensor(_X), 5).values,
               lambda m: m.tensor([3., -3., 0.]) // 0,
               lambda m: m.tensor([3]) % 0.0,
               lambda m: m.fmod(m.tensor([3.]), 0),
               lambda m: m.index_select(m.tensor(_X), 0, m.tensor([], dtype=m.int64))):
        with np.errstate(all="ignore"):
            _same(fn(cadenza), fn(torch))


@pytest.mark.parametrize("op", ["index_select", "index_add", "index_copy"])
@pytest.mark.parametrize("shape,dim", [((5,), 0), ((2, 5), 1), ((5, 2), 0), ((2, 3, 5), 2)])
@pytest.mark.parametrize("bad", [-1, 5])
def test_index_dim_ops_out_of_range(op, shape, dim, bad):
    def fn(m):
        x, i = m.ones(shape), m.tensor([bad])
        if op == "index_select":
            return m.index_select(x, dim, i)
        return getattr(m, op)(x, dim, i, m.ones(shape[:dim] + (1,) + shape[dim + 1:]))
    _raises_like(fn)


# ----------------------------------------------------------------------- 0-d index tensors
ZERO_D = {
    "scatter": lambda m: m.scatter(m.tensor(_X), 0, m.tensor(1), m.tensor(9.)),
    "scatter src 1-d": lambda m: m.scatter(m.tensor(_X), 0, m.tensor(1), m.tensor([9., 8.])),
    "scatter value": lambda m: m.scatter(m.tensor(_X), 0, m.tensor(1), 7.),
    "scatter 0-d input": lambda m: m.scatter(m.tensor(3.), 0, m.tensor(0), m.tensor(9.)),
    "scatter_add": lambda m: m.scatter_add(m.tensor(_X), 0, m.tensor(1), m.tensor(9.)),
    "gather": lambda m: m.gather(m.tensor(_X), 0, m.tensor(0)),
    "gather 0-d input": lambda m: m.gather(m.tensor(3.), 0, m.tensor(0)),
    "index_select": lambda m: m.index_select(m.tensor(_X), 0, m.tensor(2)),
}


@pytest.mark.parametrize("case", sorted(ZERO_D))
def test_zero_dim_index_selects_one_element(case):
    _same(ZERO_D[case](cadenza), ZERO_D[case](torch))


def test_zero_dim_index_gradients():
    for lib in (cadenza, torch):
        x = lib.tensor(_X, requires_grad=True)
        src = lib.tensor(2., requires_grad=True)
        (lib.gather(x, 0, lib.tensor(3)) * 5 + lib.scatter_add(x, 0, lib.tensor(1), src).sum()
         ).backward()
        if lib is cadenza:
            cx, cs = x.grad, src.grad
    _same(cx, x.grad)
    _same(cs, src.grad)


# ----------------------------------------------------------------------- numerics
NAN, INF = float("nan"), float("inf")

NUMERICS = {
    "softplus float16": lambda m: m.nn.functional.softplus(
        m.tensor([12., -30., 25., 1e-3], dtype=m.float16)),
    "softplus bfloat16 beta": lambda m: m.nn.functional.softplus(
        m.tensor([12., 2.], dtype=m.bfloat16), beta=2, threshold=10),
    "norm float16": lambda m: m.norm(m.tensor([300., 300.], dtype=m.float16)),
    "norm float16 dim p=3": lambda m: m.norm(m.tensor([[60., 70.]], dtype=m.float16), 3, 1),
    "norm bfloat16 dim": lambda m: m.norm(m.tensor([[300., 300.]], dtype=m.bfloat16), dim=1),
    "median NaN": lambda m: m.tensor([1., NAN, 2.]).median(),
    "median NaN dim": lambda m: m.tensor([[1., NAN, NAN], [3., 2., 1.]]).median(1).values,
    "median NaN dim index": lambda m: m.tensor([[1., NAN, NAN], [3., 2., 1.]]).median(1).indices,
    "median NaN keepdim": lambda m: m.tensor([[1., NAN], [3., 2.]]).median(0, True).indices,
    "median empty": lambda m: m.zeros(0).median(),
    "median 0-d": lambda m: m.tensor(3.).median(0).values,
    "median int": lambda m: m.tensor([3, 1, 2, 4]).median(),
    "sort descending NaN": lambda m: m.sort(m.tensor([1., NAN, 2., NAN, -INF, INF]),
                                           descending=True).values,
    "sort descending NaN indices": lambda m: m.sort(m.tensor([1., NAN, 2., NAN, -INF, INF]),
                                                   descending=True).indices,
    "argsort descending int8 min": lambda m: m.argsort(m.tensor([-128, 5, 127, -128],
                                                                dtype=m.int8), descending=True),
    "topk NaN": lambda m: m.topk(m.tensor([1., NAN, 2.]), 2).indices,
    "sign NaN": lambda m: m.sign(m.tensor([NAN, -0., 2., -INF])),
    "sign NaN float16": lambda m: m.sign(m.tensor([NAN, 1.], dtype=m.float16)),
    "sign NaN bfloat16": lambda m: m.sign(m.tensor([NAN, -1.], dtype=m.bfloat16)),
    "sgn NaN 0-d": lambda m: m.sgn(m.tensor(NAN, dtype=m.float64)),
    "int, None, mask": lambda m: m.arange(24.).reshape(2, 3, 4)[
        0, None, m.tensor([True, False, True])],
    "int, slice, list": lambda m: m.arange(24.).reshape(2, 3, 4)[0, :, [1, 2]],
    "ellipsis int list": lambda m: m.arange(24.).reshape(2, 3, 4)[..., 0, [1, 2]],
    "None int list": lambda m: m.arange(24.).reshape(2, 3, 4)[None, 1, [0, 2]],
    "int 2-d index slice": lambda m: m.arange(24.).reshape(2, 3, 4)[
        1, m.tensor([[0], [2]]), 1:3],
    "list, slice, int": lambda m: m.arange(24.).reshape(2, 3, 4)[[0, 1], :, 0],
    "int, list, list": lambda m: m.arange(24.).reshape(2, 3, 4)[0, [0, 1], [1, 2]],
    "list, None, int": lambda m: m.arange(24.).reshape(2, 3, 4)[[1], None, 0],
    "list, slice, list, int": lambda m: m.arange(48.).reshape(2, 3, 4, 2)[[1, 0], :, [0, 2], 1],
    "slice, int, slice, list": lambda m: m.arange(48.).reshape(2, 3, 4, 2)[:, 0, :, [1, 0]],
}


@pytest.mark.parametrize("case", sorted(NUMERICS))
def test_numerics_match_torch(case):
    _same(NUMERICS[case](cadenza), NUMERICS[case](torch))


def _grad(lib, fn, x):
    x = lib.tensor(x, requires_grad=True, dtype=lib.float64)
    fn(lib, x).backward()
    return x.grad


GRADS = {
    "norm of zeros": (lambda m, x: m.norm(x), [0., 0., 0.]),
    "norm p=3 of zeros": (lambda m, x: m.norm(x, 3), [0., 0.]),
    "norm p=0.5 with a zero": (lambda m, x: m.norm(x, 0.5), [0., 1., -2.]),
    "norm dim with a zero row": (lambda m, x: m.norm(x.reshape(2, 2), dim=1).sum(),
                                 [0., 0., 3., 4.]),
    "std unbiased=False of one": (lambda m, x: x.std(unbiased=False), [5.]),
    "std of a constant row": (lambda m, x: x.reshape(2, 3).std(1).sum(),
                              [1., 1., 1., 1., 2., 3.]),
    "nll_loss all ignored": (lambda m, x: m.nn.functional.nll_loss(
        x.reshape(2, 3), m.tensor([-100, -100])), [0.] * 6),
    "nll_loss some ignored": (lambda m, x: m.nn.functional.nll_loss(
        x.reshape(2, 3), m.tensor([1, -100])), [0.] * 6),
    "nll_loss zero class weights": (lambda m, x: m.nn.functional.nll_loss(
        x.reshape(2, 3), m.tensor([0, 1]), weight=m.tensor([0., 0., 1.], dtype=m.float64)),
        [0.] * 6),
}


@pytest.mark.parametrize("case", sorted(GRADS))
def test_gradients_at_degenerate_points(case):
    fn, x = GRADS[case]
    with np.errstate(all="ignore"):
        _same(_grad(cadenza, fn, x), _grad(torch, fn, x), rtol=1e-14)


def test_int_and_array_index_gradient():
    def grad(m):
        x = m.arange(24., requires_grad=True)
        (x.reshape(2, 3, 4)[0, :, [1, 2, 1]] * m.arange(9.).reshape(3, 3)).sum().backward()
        return x.grad
    _same(grad(cadenza), grad(torch))


def test_values_unchanged_by_zero_safe_gradients():
    # the where-guards must not change values: norm and std are sqrt's own results
    x = np.random.default_rng(0).standard_normal((4, 5))
    for f in (lambda m, t: m.norm(t), lambda m, t: m.norm(t, 3, 1), lambda m, t: t.std(0),
              lambda m, t: m.norm(t, 0.5, 0), lambda m, t: t.std(1, unbiased=False)):
        c, t = f(cadenza, cadenza.tensor(x)), f(torch, torch.tensor(x))
        np.testing.assert_allclose(c.numpy(), t.numpy(), rtol=1e-14)
    ref = np.sqrt((x * x).sum())
    assert cadenza.norm(cadenza.tensor(x)).item() == ref


# ----------------------------------------------------------------------- error classes
ERRORS = {
    "chunk 0": lambda m: m.chunk(m.ones(3), 0),
    "chunk -1": lambda m: m.chunk(m.ones(3), -1),
    "masked_fill int -inf": lambda m: m.arange(3).masked_fill(m.tensor([True, False, True]),
                                                              float("-inf")),
    "masked_fill int NaN": lambda m: m.arange(3).masked_fill(m.tensor([True, False, True]),
                                                             float("nan")),
    "masked_fill uint8 300": lambda m: m.zeros(2, dtype=m.uint8).masked_fill(
        m.tensor([True, False]), 300),
    "masked_fill uint8 255.5": lambda m: m.zeros(2, dtype=m.uint8).masked_fill(
        m.tensor([True, False]), 255.5),
    "masked_fill int8 128": lambda m: m.zeros(2, dtype=m.int8).masked_fill(
        m.tensor([True, False]), 128),
    "masked_fill float16 7e4": lambda m: m.zeros(2, dtype=m.float16).masked_fill(
        m.tensor([True, False]), 7e4),
    "masked_fill float32 1e300": lambda m: m.zeros(2).masked_fill(m.tensor([True, False]),
                                                                  1e300),
    "index_fill int -inf": lambda m: m.zeros(3, dtype=m.int64).index_fill(
        0, m.tensor([0]), float("-inf")),
    "scatter int -inf": lambda m: m.zeros(3, dtype=m.int64).scatter(
        0, m.tensor([0]), float("-inf")),
    "setitem int NaN": lambda m: m.zeros(3, dtype=m.int64).__setitem__(0, float("nan")),
    # NumPy made an object array of None, and read an int condition as != 0
    "where without other": lambda m: m.where(m.tensor([True, False]), m.tensor([1, 2])),
    "where int condition": lambda m: m.where(m.tensor([1, 0]), m.tensor([1, 2]), 0),
}


@pytest.mark.parametrize("case", sorted(ERRORS))
def test_error_class_like_torch(case):
    _raises_like(ERRORS[case])


FILLS = {
    "uint8 -1 wraps": lambda m: m.zeros(2, dtype=m.uint8).masked_fill(m.tensor([True, False]),
                                                                       -1),
    "int 2.5 truncates": lambda m: m.zeros(2, dtype=m.int64).masked_fill(
        m.tensor([True, False]), 2.5),
    "int8 -128": lambda m: m.zeros(2, dtype=m.int8).masked_fill(m.tensor([True, False]), -128),
    "float inf and NaN kept": lambda m: m.zeros(2, dtype=m.float16).masked_fill(
        m.tensor([True, False]), float("inf")).masked_fill(m.tensor([False, True]), NAN),
    "bool from NaN": lambda m: m.zeros(2, dtype=m.bool).masked_fill(m.tensor([True, False]),
                                                                    NAN),
    "chunk 2": lambda m: m.chunk(m.arange(5.), 2)[1],
}


@pytest.mark.parametrize("case", sorted(FILLS))
def test_fill_values_that_fit(case):
    _same(FILLS[case](cadenza), FILLS[case](torch))


def test_setitem_scalar_fill_values():
    for lib in (cadenza, torch):
        x = lib.zeros(4, dtype=lib.int64)
        x[0], x[1], x[2] = 3.7, True, -5
        y = lib.zeros(3, dtype=lib.float16)
        y[0], y[1] = 0.1, float("inf")
        if lib is cadenza:
            cx, cy = x, y
    _same(cx, x)
    _same(cy, y)


# ----------------------------------------------------------------------- half-precision sums
_H = np.random.default_rng(0).uniform(0, 1, 100000).astype(np.float16)

HALF = {
    "mean": lambda m, t: t.mean(),  # was 0: n = 100000 is inf in float16
    "cumsum": lambda m, t: t.cumsum(0)[::9999],  # a float16 running sum stalls at 2048
    "var": lambda m, t: t.var(),
    "std": lambda m, t: t.reshape(100, 1000).std(1),
    "mean near max": lambda m, t: m.tensor([60000., 60000.], dtype=m.float16).mean(),
    "var of large values": lambda m, t: m.tensor([[200., 300.]], dtype=m.float16).var(1),
    "bfloat16 mean": lambda m, t: t.to(m.bfloat16).mean(),
}


@pytest.mark.parametrize("case", sorted(HALF))
def test_half_reductions_accumulate_in_float32(case):
    fn = HALF[case]
    _same(fn(cadenza, cadenza.tensor(_H)), fn(torch, torch.tensor(_H)))


def test_half_sum_is_the_rounded_exact_sum():
    # PyTorch's own float16 sum is within an ulp (its summation order differs); Cadenza sums
    # in float32 and rounds once
    exact = _H.astype(np.float64).sum()
    got = cadenza.tensor(_H).sum()
    assert got.dtype is cadenza.float16
    assert got.item() == float(np.float16(exact))
    assert abs(got.item() - torch.tensor(_H).sum().item()) <= 32  # one float16 ulp here


HALF_COMPOSITES = {
    "normalize": lambda m: m.nn.functional.normalize(m.tensor([[300., 400.]], dtype=m.float16)),
    "normalize p=3": lambda m: m.nn.functional.normalize(
        m.tensor([[300., 400.]], dtype=m.float16), p=3),
    "rms_norm": lambda m: m.nn.functional.rms_norm(m.tensor([[300., 400.]], dtype=m.float16),
                                                   (2,), m.tensor([2., 3.], dtype=m.float16)),
    "cosine_similarity": lambda m: m.nn.functional.cosine_similarity(
        m.tensor([[300., 400.]], dtype=m.float16), m.tensor([[300., 400.]], dtype=m.float16)),
}


@pytest.mark.parametrize("case", sorted(HALF_COMPOSITES))
def test_half_composites_do_not_overflow(case):
    # each squared 300 * 300 in float16 (inf) and returned zeros
    _same(HALF_COMPOSITES[case](cadenza), HALF_COMPOSITES[case](torch))


@pytest.mark.parametrize("fn", ["div", "atan2"])
def test_mixed_integer_operands_do_not_wrap_before_float_maths(fn):
    """uint8 (op) 0-d int64 tensor(-2): torch computes in float; promoting through uint8 first
    turned -2 into 254."""
    a = np.array([4, 8, 0], dtype=np.uint8)
    for b in (np.array(-2, dtype=np.int64), np.array(-5, dtype=np.int32)):
        got = getattr(cadenza, fn)(cadenza.from_numpy(a), cadenza.from_numpy(b))
        want = getattr(torch, fn)(torch.from_numpy(a), torch.from_numpy(b))
        assert str(got.dtype).split(".")[-1] == str(want.dtype).split(".")[-1]
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6)


# ----------------------------------------------------------------- found by the op fuzzer
_INF, _NAN = float("inf"), float("nan")

FUZZ_VALUES = {
    "cumprod 0-d": lambda m: m.cumprod(m.tensor(3.), 0),
    "sum 0-d dim 0": lambda m: m.tensor(3.).sum(0),
    "mean 0-d dim -1 keepdim": lambda m: m.tensor(3.).mean(-1, keepdim=True),
    "amax 0-d dim 0": lambda m: m.amax(m.tensor(3.), 0),
    "all uint8": lambda m: m.tensor([1, 0, 3], dtype=m.uint8).all(),
    "any uint8 dim": lambda m: m.tensor([[1, 0, 3]], dtype=m.uint8).any(1),
    "floor_divide by -inf": lambda m: m.floor_divide(m.tensor([5., -5., 0.]), -_INF),
    "floor_divide inf, nan, /0": lambda m: m.div(
        m.tensor([_INF, _NAN, 5., -5.]), m.tensor([6.2, 1., 0., 0.]), rounding_mode="floor"),
    "softmax row with +inf (half)": lambda m: m.softmax(m.tensor([1., _INF], dtype=m.float16), 0),
    "log_softmax row of -inf (half)": lambda m: m.log_softmax(
        m.tensor([-_INF, -_INF], dtype=m.float16), 0),
    "softmax of an empty row": lambda m: m.softmax(m.zeros(2, 0), 1),
    "clamp uint8 min=-1 wraps": lambda m: m.clamp(m.tensor([3, 200], dtype=m.uint8), min=-1),
    "clamp uint8 max=-2 wraps": lambda m: m.clamp(m.tensor([3, 200], dtype=m.uint8), 0, -2),
    "chunk of an empty dim": lambda m: m.stack(m.zeros(2, 0).chunk(3, 1)),
    "int pow negative exponent": lambda m: m.pow(m.tensor([2, -1, -1, 1, 3]),
                                                 m.tensor([-1, -1, -2, -2, 0])),
    "logsumexp bool": lambda m: m.logsumexp(m.tensor([[True, False]]), 0),
    "logsumexp empty": lambda m: m.logsumexp(m.zeros(2, 0), 1),
    "topk 0-d": lambda m: m.topk(m.tensor(-6), 1, dim=0).values,
    "kthvalue 0-d": lambda m: m.kthvalue(m.tensor(2.5), 1).values,
    "index_select 0-d": lambda m: m.index_select(m.tensor(2.), 0, m.tensor([0])),
    "masked_fill broadcasts out of place": lambda m: m.zeros(2, 3).masked_fill(
        m.ones(1, 2, 3, dtype=m.bool), 1.),
    "remainder of nothing by 0": lambda m: m.remainder(m.zeros(1, 0, dtype=m.int64), 0),
    "max of bool along a dim": lambda m: m.max(m.tensor([[True, False]]), 1).values,
    "hstack of 0-d": lambda m: m.hstack([m.tensor(1.), m.tensor(2.)]),
    # the 30,000-call run: torch's median of nothing is NaN cast to the dtype (x86)
    "median of empty int64": lambda m: m.median(m.zeros(0, dtype=m.int64)),
    "median of empty int32 2-d": lambda m: m.median(m.zeros(0, 5, dtype=m.int32)),
    "median of empty uint8": lambda m: m.median(m.zeros(0, dtype=m.uint8)),
    "median of empty bool": lambda m: m.median(m.zeros(0, dtype=m.bool)),
    "nanmedian of empty int64": lambda m: m.nanmedian(m.zeros(0, 3, dtype=m.int64)),
    "nanmedian of empty float": lambda m: m.nanmedian(m.zeros(0, 3)),
}


@pytest.mark.parametrize("case", sorted(FUZZ_VALUES))
def test_fuzz_found_values(case):
    _same(FUZZ_VALUES[case](cadenza), FUZZ_VALUES[case](torch))


FUZZ_ERRORS = {
    "clamp uint8 bound out of range": lambda m: m.clamp(m.tensor([3], dtype=m.uint8), max=300),
    "softmax 0-d dim 2": lambda m: m.softmax(m.tensor(1.), 2),
    "relu bool": lambda m: m.relu(m.tensor([True])),
    "argmax bool": lambda m: m.argmax(m.tensor([True])),
    "argmin bool bad dim": lambda m: m.argmin(m.tensor([[True]]), -4),
    "argmax empty dim": lambda m: m.argmax(m.zeros(2, 0), 1),
    "amax empty dim": lambda m: m.amax(m.zeros(3, 0), 1),
    "max of nothing": lambda m: m.max(m.zeros(0)),
    "scatter src dtype": lambda m: m.zeros(3).scatter(0, m.tensor([0]), m.ones(1, dtype=m.float64)),
    "repeat without sizes": lambda m: m.zeros(3).repeat(),
    "expand without sizes": lambda m: m.zeros(3).expand(),
    "cat of 0-d": lambda m: m.cat([m.tensor(1.)]),
    "stack dim before shapes": lambda m: m.stack([m.zeros(1), m.zeros(2, 2)], dim=-3),
    "chunk 0 before dim": lambda m: m.zeros(2).chunk(0, 1),
    "kthvalue empty dim": lambda m: m.kthvalue(m.zeros(0, 1), 1, 0),
    "median empty dim": lambda m: m.median(m.zeros(3, 0), 1),
    "index_select 0-d, 3 indices": lambda m: m.index_select(m.tensor(2.), 0, m.tensor([0, 0, 0])),
    # the 30,000-call run: index_select's kernel raises RuntimeError on an input holding no
    # element (embedding is index_select on the weight); flip checks duplicates as it goes
    "index_select of nothing, dim 2": lambda m: m.index_select(m.zeros(0, 2, 2), 2,
                                                               m.tensor([2, 1])),
    "index_select empty dim": lambda m: m.index_select(m.zeros(3, 0), 1, m.tensor([0])),
    "index_select of nothing, dim 0": lambda m: m.index_select(m.zeros(3, 0), 0, m.tensor([5])),
    "index_select 1-d of nothing": lambda m: m.index_select(m.zeros(0), 0, m.tensor([0])),
    "index_select 3-d dim 2": lambda m: m.index_select(m.zeros(3, 2, 2), 2, m.tensor([-1])),
    "embedding of an empty weight": lambda m: m.nn.functional.embedding(
        m.tensor([5, 3]), m.zeros(3, 0)),
    "embedding of a weight without rows": lambda m: m.nn.functional.embedding(
        m.tensor([0]), m.zeros(0, 3)),
    "flip duplicate before out of range": lambda m: m.flip(m.zeros(3, 1, 1, 3), (3, -1, 4, 2)),
    "flip out of range before duplicate": lambda m: m.flip(m.zeros(3, 1, 1, 3), (0, 5, 0)),
    "flip duplicate negative": lambda m: m.flip(m.zeros(3, 1, 1, 3), (-4, -4, -2, -5)),
}


@pytest.mark.parametrize("case", sorted(FUZZ_ERRORS))
def test_fuzz_found_errors(case):
    _raises_like(FUZZ_ERRORS[case])


@pytest.mark.parametrize("fn", [
    lambda m, a, b: m.atan2(a, b),
    lambda m, a, b: m.pow(a, b),
])
def test_fuzz_found_gradients_at_zero(fn):
    """atan2 at (0, 0) and x ** 0 at x = 0 have gradient 0 in torch, not NaN."""
    grads = []
    for m in (cadenza, torch):
        a = m.tensor([0., 0., 1.], dtype=m.float64, requires_grad=True)
        b = m.tensor([0., 1., 0.], dtype=m.float64, requires_grad=True)
        fn(m, a, b).sum().backward()
        grads.append((a.grad, b.grad))
    for c, t in zip(*grads):
        _same(c, t)


def test_floor_divide_compiled_matches_eager():
    a = cadenza.tensor([5., -5., _INF, _NAN, 0., 7., -7., 5.])
    b = cadenza.tensor([-_INF, -_INF, 6.2, 1., _INF, 2., 2., 0.])
    f = cadenza.compile(lambda a, b: (a * 1) // (b * 1) + 0)
    np.testing.assert_array_equal(f(a, b).numpy(), ((a // b) + 0).numpy())


@pytest.mark.parametrize("p", [-1.5, -2.0, -1])
def test_negative_p_norm_gradient_at_zero(p):
    """A zero element makes a p < 0 norm 0; torch's gradient is 0 there (not NaN)."""
    outs = []
    for m in (cadenza, torch):
        x = m.tensor([[1., 0., 0.5], [1., 2., 0.5]], dtype=m.float64, requires_grad=True)
        y = m.norm(x, p=p, dim=1)
        y.sum().backward()
        outs.append((y, x.grad))
    for c, t in zip(*outs):
        _same(c, t, rtol=1e-12)


@pytest.mark.parametrize("fn", [lambda m, x: m.nn.functional.avg_pool2d(x, 2),
                                lambda m, x: m.nn.functional.avg_pool1d(x[0], 2)])
def test_half_avg_pool_does_not_overflow(fn):
    x = np.full((1, 1, 4, 4), 60000., np.float16)
    _same(fn(cadenza, cadenza.tensor(x)), fn(torch, torch.tensor(x)))
