"""Edge cases where Cadenza once gave a silently wrong answer (issue 14 items 3-6): integer
reductions, out-of-range and 0-d indices, float16 accumulation, NaN ordering, gradients at
degenerate points. Each case is checked against PyTorch, the oracle."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import cadenza


def _same(c, t):
    """Cadenza result c equals torch result t: dtype, shape and values (NaN == NaN)."""
    assert str(c.dtype).split(".")[-1] == str(t.dtype).split(".")[-1], (c.dtype, t.dtype)
    assert tuple(c.shape) == tuple(t.shape), (c.shape, t.shape)
    np.testing.assert_array_equal(c.detach().numpy(), t.detach().numpy())


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
