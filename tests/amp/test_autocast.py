"""torch.autocast on the CPU: GEMMs give the region's dtype (inputs rounded to it, float32
accumulation), losses compute in float32, parameters and their gradients stay float32, and
a disabled or exited region changes nothing. torch is the oracle."""
import numpy as np
import pytest
import torch

import cadenza


def _run(m, dtype_name):
    m.manual_seed(0)
    rng = np.random.default_rng(0)
    x = m.tensor(rng.standard_normal((4, 8)).astype(np.float32))
    w1 = m.tensor(rng.standard_normal((16, 8)).astype(np.float32), requires_grad=True)
    w2 = m.tensor(rng.standard_normal((3, 16)).astype(np.float32), requires_grad=True)
    y = m.tensor([0, 2, 1, 1])
    with m.autocast("cpu", dtype=getattr(m, dtype_name)):
        h = m.nn.functional.linear(x, w1).relu()
        logits = h @ w2.t()
        loss = m.nn.functional.cross_entropy(logits, y)
    loss.backward()
    return h, logits, loss, w1.grad, w2.grad


@pytest.mark.parametrize("dtype_name", ["bfloat16", "float16"])
def test_autocast_dtypes_and_values_match_torch(dtype_name):
    c, t = _run(cadenza, dtype_name), _run(torch, dtype_name)
    for a, b in zip(c, t):
        assert str(a.dtype).split(".")[-1] == str(b.dtype).split(".")[-1], (a.dtype, b.dtype)
        np.testing.assert_allclose(a.detach().float().numpy(), b.detach().float().numpy(),
                                   rtol=2e-2, atol=2e-2)


def test_autocast_off_outside_and_when_disabled():
    x, w = cadenza.randn(2, 3), cadenza.randn(4, 3)
    with cadenza.autocast("cpu", dtype=cadenza.bfloat16):
        with cadenza.autocast("cpu", enabled=False):
            assert cadenza.nn.functional.linear(x, w).dtype is cadenza.float32
        assert cadenza.nn.functional.linear(x, w).dtype is cadenza.bfloat16
    assert cadenza.nn.functional.linear(x, w).dtype is cadenza.float32
    assert (x.double() @ w.double().t()).dtype is cadenza.float64   # float64 is never cast


def test_a_refused_autocast_dtype_leaves_no_region_open():
    with pytest.raises(RuntimeError):
        with cadenza.autocast("cpu", dtype=cadenza.float64):
            pass
    assert not cadenza.is_autocast_enabled("cpu")


def test_autocast_rejects_other_dtypes():
    with pytest.raises(RuntimeError, match="bfloat16 or torch.float16"):
        with cadenza.autocast("cpu", dtype=cadenza.float64):
            pass


@pytest.mark.parametrize("dtype_name", ["bfloat16", "float16"])
def test_autocast_conv2d_is_a_gemm_of_the_region_dtype(dtype_name):
    rng = np.random.default_rng(0)
    x, w, b = (rng.standard_normal(s).astype(np.float32) for s in ((2, 3, 6, 6), (4, 3, 3, 3),
                                                                   (4,)))
    res = []
    for m in (cadenza, torch):
        tx, tw, tb = (m.tensor(a, requires_grad=True) for a in (x, w, b))
        with m.autocast("cpu", dtype=getattr(m, dtype_name)):
            out = m.nn.functional.conv2d(tx, tw, tb, padding=1, stride=2)
        out.float().sum().backward()
        res.append([out, tx.grad, tw.grad, tb.grad])
    for a, t in zip(*res):
        assert str(a.dtype).split(".")[-1] == str(t.dtype).split(".")[-1], (a.dtype, t.dtype)
        np.testing.assert_allclose(a.detach().float().numpy(), t.detach().float().numpy(),
                                   rtol=2e-2, atol=2e-2)
