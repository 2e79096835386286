"""Unit tests against PyTorch for the Cadenza fixes found by the fuzzers' strided-operand
layouts and method-form specs (seeds 401-411), each reduced to its smallest case."""
import os
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cadenza  # noqa: E402
from _diff import both  # noqa: E402


def _np(x):
    return x.detach().numpy().astype(np.complex128)


def same(fn):
    t, c = both(fn)
    if isinstance(t, type):
        assert isinstance(c, type) and (issubclass(c, t) or issubclass(t, c)), (t, c)
        return
    assert not isinstance(c, type), f"cadenza raised {c}, torch gave {t}"
    t, c = (v if isinstance(v, (tuple, list)) else (v,) for v in (t, c))
    for a, b in zip(t, c):
        assert str(a.dtype).split(".")[-1] == str(b.dtype).split(".")[-1]
        assert tuple(a.shape) == tuple(b.shape)
        np.testing.assert_allclose(_np(b), _np(a), rtol=1e-12)


def _t(L, v, dt=None):
    return L.tensor(v, dtype=getattr(L, dt) if dt else None)


@pytest.mark.parametrize("fn", [
    # a 0-d self is one row for index_add/index_copy/index_fill
    lambda L: L.index_add(_t(L, 1.), 0, _t(L, [0]), _t(L, 2.), alpha=2),
    lambda L: L.index_add(_t(L, 1.), 0, _t(L, [0, 0]), _t(L, 2.)),
    lambda L: L.index_add(_t(L, 1.), 0, _t(L, [0]), _t(L, [2.])),
    lambda L: L.index_copy(_t(L, 1.), -1, _t(L, [0, 0]), _t(L, [2., 3.])),
    lambda L: L.index_copy(_t(L, 1.), 0, _t(L, [0]), L.ones(3, 5)),
    lambda L: L.index_fill(_t(L, 1.), 0, _t(L, [0, 0]), 3.),
    lambda L: L.index_fill(_t(L, 1.), 0, L.zeros(0, dtype=L.int64), 3.),
    lambda L: L.index_fill(_t(L, 1.), 0, _t(L, [1]), 3.),
    # one source row per index (NumPy broadcast one row to all; an empty self skipped it)
    lambda L: L.index_add(L.zeros(2, 1), 1, _t(L, [0, 0, 0]), L.ones(2, 1)),
    lambda L: L.index_add(L.zeros(0, 1), 1, _t(L, [0, 0, 0]), L.ones(1, 1)),
    lambda L: L.index_add(L.zeros(2, 1), 1, _t(L, [0, 0, 0]), L.ones(2)),
    lambda L: L.index_copy(L.zeros(0, 1), 1, _t(L, [0, 0, 0]), L.ones(0, 1)),
    lambda L: L.index_copy(L.zeros(1, 5), 1, _t(L, [4]), L.ones(5, 2)),
    # the out-of-place masked_scatter broadcasts input and mask
    lambda L: L.masked_scatter(_t(L, [1.5]), _t(L, [[True, False], [True, True]]),
                               L.arange(5.)),
    lambda L: L.cov(_t(L, [[1., 2.]]), aweights=_t(L, [float("nan"), 1.])),
    lambda L: L.zeros(3, 1).expand(3, 2).copy_(L.ones(3, 2)),    # overlapping write refused
    lambda L: _t(L, 1.).mT, lambda L: _t(L, [1.]).mT,
    lambda L: _t(L, 1.).permute(), lambda L: _t(L, 1.).permute(()),
    lambda L: L.ones(1, 2, 1).squeeze((0, -3)), lambda L: L.ones(1, 2, 1).squeeze((0, 2)),
    lambda L: _t(L, [True, False]).topk(1),
    # clamp's bounds: both numbers or both tensors; a 0-d tensor beside a number is a number
    lambda L: _t(L, [1, 5], "uint8").clamp(min=-0.5, max=_t(L, 4, "uint8")),
    lambda L: _t(L, [1., 5]).clamp(_t(L, [2., 3.]), 4),
    lambda L: L.clamp(_t(L, [1., 5]), 2, _t(L, [3., 4.])),
    lambda L: _t(L, [1., 5]).clamp(_t(L, [2., 3.]), _t(L, 4.)),
    # complex 0 ** tensor exponent: exp(b log 0), as torch (a Python exponent keeps 0 ** 0 = 1)
    lambda L: L.pow(L.zeros(5, dtype=L.complex128), _t(L, [0j, -1, 0.5, 1j, -1 + 1j])),
    lambda L: L.pow(_t(L, 0j), _t(L, [0., 1., -1.])),
    lambda L: L.zeros(2, dtype=L.complex64) ** 0,
    lambda L: L.nextafter(_t(L, [1]), _t(L, 2)), lambda L: L.nextafter(_t(L, [True]), _t(L, 0.)),
    lambda L: L.heaviside(_t(L, [1j]), _t(L, [1j])),
    lambda L: L.nn.functional.softmin(_t(L, [True, False]), 0, dtype=L.float64),
    lambda L: L.zeros(0, 2, dtype=L.bool).median(-1, keepdim=True),   # refused though empty
    lambda L: L.zeros(0, 2, dtype=L.bool).median(0), lambda L: L.zeros(0, 2, dtype=L.bool).median(),
    # an integer fill wraps into an unsigned dtype down to -max, as clamp's bounds
    lambda L: L.zeros(2, dtype=L.uint8).fill_(-2), lambda L: L.zeros(2, dtype=L.uint8).fill_(-256),
    lambda L: L.zeros(2, dtype=L.int8).fill_(128), lambda L: L.zeros(2, dtype=L.int8).fill_(-128),
    lambda L: L.zeros(2, 1).expand(2, 2).fill_(L.tensor(1.)),  # a tensor value: refused there
    lambda L: L.zeros(0, 4, 1).expand(0, 4, 5).relu_(),        # empty: nothing overlaps
    lambda L: L.zeros(0, 4, 1).expand(0, 4, 5).mul_(-1.5),
    lambda L: L.ones(2).copysign_(L.ones(2, dtype=L.complex128)),   # complex refused
    lambda L: L.copysign(L.ones(2, dtype=L.complex64), L.ones(2)),
    lambda L: L.nn.functional.softmin(_t(L, [0, 1], "uint8"), 0, dtype=L.float32),  # -1 -> 255
    lambda L: L.unique(_t(L, [1., float("nan"), float("nan")]), return_inverse=True,
                       return_counts=True),   # each NaN is its own value
])
def test_matches_torch(fn):
    same(fn)


def test_bce_gradient_eps_is_float32_1e_12():
    # (1 - x) x below 1e-12 is clamped to torch's EPS, 1e-12 rounded to float32 (float64 too)
    grads = []
    for L in (torch, cadenza):
        x = L.tensor([1 - 1e-13, 0.5], dtype=L.float64, requires_grad=True)
        t = L.tensor([0.0, 1.0], dtype=L.float64)
        L.nn.functional.binary_cross_entropy(x, t, reduction="sum").backward()
        grads.append(x.grad.numpy())
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-14)


def test_nextafter_gradient_zero_where_equal():
    grads = []
    for L in (torch, cadenza):
        x = L.tensor([[0., 1., 2., 5.]], dtype=L.float64, requires_grad=True)
        y = L.tensor([[2.], [0.], [1.]], dtype=L.float64)
        L.nextafter(x, y).backward(L.ones(3, 4, dtype=L.float64))
        grads.append(x.grad.numpy())
    np.testing.assert_array_equal(grads[1], grads[0])


def test_fill_and_zero_of_an_expanded_view_write_its_base():
    # torch lets one value fill memory several elements share (add_ there is refused)
    for L in (torch, cadenza):
        b = L.arange(6.).reshape(2, 3)
        b[:, :1].expand(2, 4).fill_(7)
        assert b.tolist() == [[7., 1., 2.], [7., 4., 5.]]
        z = L.ones(3, 1)
        z.expand(3, 2).zero_()
        assert z.tolist() == [[0.], [0.], [0.]]
        with pytest.raises(RuntimeError):
            z.expand(3, 2).add_(1)
