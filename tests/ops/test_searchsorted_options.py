"""searchsorted/bucketize keyword options (out_int32, sorter, side/right checks, a number as
bucketize's input) against torch."""
import numpy as np
import pytest

import cadenza

torch = pytest.importorskip("torch")


def _both(fn):
    got, want = fn(cadenza), fn(torch)
    assert str(got.dtype).split(".")[-1] == str(want.dtype).split(".")[-1]
    assert tuple(got.shape) == tuple(want.shape)
    np.testing.assert_array_equal(got.numpy(), want.numpy())


@pytest.mark.parametrize("right", [False, True])
def test_out_int32_and_right(right):
    b, x = [1., 3., 3., 5.], [[0.5, 3., 6.], [3., 1., 5.]]
    _both(lambda L: L.bucketize(L.tensor(x), L.tensor(b), out_int32=True, right=right))
    _both(lambda L: L.searchsorted(L.tensor(b), L.tensor(x), out_int32=True, right=right))


def test_sorter_and_number_input():
    u, x = [5., 1., 3., 2.], [0., 2., 4., 9.]
    _both(lambda L: L.searchsorted(L.tensor(u), L.tensor(x), sorter=L.argsort(L.tensor(u))))
    _both(lambda L: L.bucketize(3.0, L.tensor([1., 3., 5.])))


def test_bad_options_raise_like_torch():
    b, x = cadenza.tensor([1., 2.]), cadenza.tensor([1.5])
    with pytest.raises(RuntimeError, match="opposites"):
        cadenza.searchsorted(b, x, side="left", right=True)
    with pytest.raises(RuntimeError, match="side"):
        cadenza.searchsorted(b, x, side="middle")
    with pytest.raises(RuntimeError, match="sorter"):
        cadenza.searchsorted(b, x, sorter=cadenza.tensor([0]))
    with pytest.raises(RuntimeError, match="1 dimension"):
        cadenza.bucketize(x, b.reshape(1, 2))
