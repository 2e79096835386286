"""The short paths of small ops (bench/small_ops.py): topk's first k of the sort in one
primitive (argmax/argmin for k = 1), nll_loss's one-reduction target check, cat's one pass."""
import numpy as np
import pytest
import torch

import cadenza

NAN = float("nan")


@pytest.mark.parametrize("dtype", ["float32", "float64", "int8", "uint8", "int64"])
@pytest.mark.parametrize("largest", [True, False])
def test_topk_matches_the_stable_sort(dtype, largest):
    rng = np.random.default_rng(0)
    for trial in range(8):
        a = rng.integers(-2, 3, (3, 5)).astype(dtype)   # many ties
        if dtype.startswith("float") and trial % 2:
            a[rng.random(a.shape) < 0.3] = NAN   # NaN: the largest, in index order
        x = cadenza.from_numpy(a)
        for dim in (0, 1, -1):
            for k in (0, 1, 2, a.shape[dim]):
                v, i = x.topk(k, dim, largest)
                sv, si = x.sort(dim, descending=largest, stable=True)
                assert i.dtype == cadenza.int64 and v.dtype == x.dtype
                np.testing.assert_array_equal(i.numpy(), si.narrow(dim, 0, k).numpy())
                np.testing.assert_array_equal(v.numpy(), sv.narrow(dim, 0, k).numpy())


def test_topk_k1_against_torch_and_gradient():
    a = np.array([[1.0, NAN, 3.0, NAN], [2.0, 5.0, -1.0, 0.5]])
    for largest in (True, False):
        tv, ti = torch.from_numpy(a).topk(1, largest=largest)
        cv, ci = cadenza.from_numpy(a).topk(1, largest=largest)
        np.testing.assert_array_equal(cv.numpy(), tv.numpy())
        np.testing.assert_array_equal(ci.numpy(), ti.numpy())
    b = np.random.default_rng(1).standard_normal((3, 6))
    x, tx = cadenza.tensor(b, requires_grad=True), torch.tensor(b, requires_grad=True)
    w = np.arange(3.0).reshape(3, 1)
    (x.topk(1)[0] * cadenza.tensor(w)).sum().backward()
    (tx.topk(1)[0] * torch.tensor(w)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())


@pytest.mark.parametrize("dtype", ["int8", "int32", "int64", "uint8"])
def test_nll_target_range_check(dtype):
    # int8 targets with C = 200 > 127: the unsigned reading cannot check them, the two
    # reductions do (a negative target must still be refused)
    for C, t in ((200, [0, 5, 120]), (4, [0, 3, 1]), (200, [0, -1, 120]), (4, [0, 4, 1]),
                 (4, [0, -100, 1])):
        if dtype == "uint8" and min(t) < 0:
            continue
        x = np.random.default_rng(2).standard_normal((3, C)).astype(np.float32)
        tt = np.array(t, dtype=dtype)
        args = (torch.log_softmax(torch.from_numpy(x), 1), torch.from_numpy(tt).long())
        try:
            want = torch.nn.functional.nll_loss(*args)
        except (IndexError, RuntimeError):
            want = None
        cx = cadenza.log_softmax(cadenza.from_numpy(x), 1)
        if want is None:
            with pytest.raises(IndexError, match="nll_loss"):
                cadenza.nn.functional.nll_loss(cx, cadenza.from_numpy(tt))
        else:
            got = cadenza.nn.functional.nll_loss(cx, cadenza.from_numpy(tt))
            np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6)


def test_cat_mixed_and_empty():
    parts = [cadenza.ones(2, dtype=cadenza.int8), cadenza.tensor([], dtype=cadenza.float16),
             cadenza.arange(3)]
    tparts = [torch.ones(2, dtype=torch.int8), torch.tensor([], dtype=torch.float16),
              torch.arange(3)]
    got, want = cadenza.cat(parts), torch.cat(tparts)
    assert str(got.dtype) == str(want.dtype).replace("torch", "cadenza")
    np.testing.assert_array_equal(got.numpy(), want.numpy())
    with pytest.raises(RuntimeError, match="zero-dimensional"):
        cadenza.cat([cadenza.ones(2), cadenza.ones(())])
