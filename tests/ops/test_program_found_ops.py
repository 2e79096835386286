"""Behaviour differences found by running new corpus programs (tests/programs) under Cadenza,
each pinned against PyTorch's documented/observed behaviour."""
import pytest

import cadenza as torch


def test_index_put_refuses_a_values_dtype_other_than_the_destination():
    # torch: RuntimeError "Index put requires the source and destination dtypes match"
    x = torch.zeros(3, dtype=torch.float64)
    idx = (torch.tensor([0, 0]),)
    with pytest.raises(RuntimeError, match="Double for the destination and Float"):
        x.index_put_(idx, torch.tensor(1.0))
    with pytest.raises(RuntimeError, match="Float for the destination and Long"):
        torch.index_put(torch.zeros(3), idx, torch.tensor([1, 2]))
    out = x.index_put_(idx, torch.tensor(1.5, dtype=torch.float64), accumulate=True)
    assert out is x and x.tolist() == [3.0, 0.0, 0.0]
    # a Python number and x[idx] = tensor still cast, as in torch
    y = torch.zeros(3, dtype=torch.float64)
    y.index_put_(idx, 2)
    y[torch.tensor([2])] = torch.tensor([4.0])
    assert y.tolist() == [2.0, 0.0, 4.0]


def test_atleast_nd_take_several_tensors_or_a_sequence():
    a, b = torch.tensor(1.0), torch.ones(3)
    for fn, shapes in ((torch.atleast_1d, [(1,), (3,)]), (torch.atleast_2d, [(1, 1), (1, 3)]),
                       (torch.atleast_3d, [(1, 1, 1), (1, 3, 1)])):
        out = fn(a, b)
        assert isinstance(out, tuple) and [tuple(t.shape) for t in out] == shapes
        assert [tuple(t.shape) for t in fn((a, b))] == shapes
        one = fn([a])
        assert isinstance(one, tuple) and tuple(one[0].shape) == shapes[0]
        assert tuple(fn(b).shape) == shapes[1]          # one tensor: a tensor
        assert fn(()) == ()
        with pytest.raises(TypeError, match="expected a Tensor"):
            fn(1.0)
    x = torch.ones(2, requires_grad=True)
    torch.atleast_2d(x, x)[1].sum().backward()
    assert x.grad.tolist() == [1.0, 1.0]
