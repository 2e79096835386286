"""In-place ops on expanded (stride-0) views, as torch: the indexing and triangle ops
(masked_fill_, index_fill_, index_put_ and advanced-index assignment, tril_, triu_,
fill_diagonal_, fill_/zero_, a basic index reaching one element per location) write through
to the memory the elements share; the TensorIterator ops and random fills raise torch's
overlap error. Each case compares the base's and the view's values (or the error class) with
torch's."""
from __future__ import annotations

import warnings

import pytest
import torch

import cadenza


def _run(lib, fn):
    base = lib.arange(1., 4.).reshape(3, 1)
    e = base.expand(3, 3)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fn(lib, e)
    except Exception as ex:          # noqa: BLE001 (the class is compared with torch's)
        return type(ex).__name__
    return base.tolist(), e.tolist()


def _mask(L, row):
    return L.tensor([row] * 3)


CASES = {
    "masked_fill_": lambda L, e: e.masked_fill_(_mask(L, [True, False, False]), 0.),
    "masked_fill_ all": lambda L, e: e.masked_fill_(L.ones(3, 3, dtype=L.bool), 0.),
    "masked_fill_ tensor": lambda L, e: e.masked_fill_(_mask(L, [False, True, False]),
                                                       L.tensor(-1.)),
    "tril_": lambda L, e: e.tril_(), "triu_": lambda L, e: e.triu_(),
    "tril_ 1": lambda L, e: e.tril_(1), "triu_ -1": lambda L, e: e.triu_(-1),
    "index_fill_": lambda L, e: e.index_fill_(1, L.tensor([0]), 9.),
    "index_put_": lambda L, e: e.index_put_((L.tensor([0]), L.tensor([1])), L.tensor(7.)),
    "index_put_ accumulate": lambda L, e: e.index_put_((L.tensor([0]), L.tensor([1])),
                                                       L.tensor(7.), accumulate=True),
    "fill_diagonal_": lambda L, e: e.fill_diagonal_(0.),
    "fill_": lambda L, e: e.fill_(5.), "zero_": lambda L, e: e.zero_(),
    "setitem element": lambda L, e: e.__setitem__((0, 0), 9.),
    "setitem column": lambda L, e: e.__setitem__((slice(None), 0), 9.),
    "setitem mask": lambda L, e: e.__setitem__(_mask(L, [True, False, False]), 7.),
    "setitem advanced": lambda L, e: e.__setitem__((L.tensor([0, 1]), L.tensor([2, 0])),
                                                   L.tensor([5., 6.])),
    "setitem 0-d tensor": lambda L, e: e.__setitem__((1, 1), L.tensor(4.)),
    # torch refuses these
    "setitem row": lambda L, e: e.__setitem__(0, 9.),
    "add_": lambda L, e: e.add_(1), "mul_": lambda L, e: e.mul_(L.ones(3, 3)),
    "copy_": lambda L, e: e.copy_(L.ones(3, 3)), "clamp_": lambda L, e: e.clamp_(0, 2),
    "exp_": lambda L, e: e.exp_(), "scatter_": lambda L, e: e.scatter_(
        1, L.tensor([[0], [0], [0]]), 9.),
    "masked_scatter_": lambda L, e: e.masked_scatter_(L.ones(3, 3, dtype=L.bool), L.zeros(9)),
    "put_": lambda L, e: e.put_(L.tensor([0]), L.tensor([7.])),
    "normal_": lambda L, e: e.normal_(), "uniform_": lambda L, e: e.uniform_(),
}


@pytest.mark.parametrize("name", list(CASES))
def test_inplace_on_expanded_view_matches_torch(name):
    assert _run(cadenza, CASES[name]) == _run(torch, CASES[name])


def test_deprecation_warning_as_torch():
    e = cadenza.arange(1., 4.).reshape(3, 1).expand(3, 3)
    with pytest.warns(UserWarning, match="masked_fill_ on expanded tensors is deprecated"):
        e.masked_fill_(cadenza.ones(3, 3, dtype=cadenza.bool), 0.)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        e.tril_()     # no warning from torch's triangle kernels
