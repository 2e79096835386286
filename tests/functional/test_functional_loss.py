"""Losses: error messages, warnings and edge values. The comparisons with torch (forward,
gradients, gradcheck, compiled) are op-table entries: tests/ops/opinfo_nn.py."""
import numpy as np
import pytest
import torch.nn.functional as TF

import cadenza
import cadenza.nn.functional as F
from functional_helpers import check


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_binary_cross_entropy_edge_values(reduction):
    # log clamped at -100: exact 0 and 1 give a finite loss. Not an op-table sample: NumPy warns
    # "divide by zero" for log(0) (torch does not), which the compiled test turns into an error
    edge = np.array([0.0, 1.0, 0.5])
    check(lambda x, y: F.binary_cross_entropy(x, y, reduction=reduction),
          lambda x, y: TF.binary_cross_entropy(x, y, reduction=reduction), edge,
          np.array([1.0, 0.0, 1.0]), grad=False)


def test_loss_errors():
    x = cadenza.randn(4, 5)
    with pytest.raises(cadenza.ShapeError, match=r"cross_entropy: expected target.shape == \(4,\)"):
        F.cross_entropy(x, cadenza.tensor([0, 1, 2]))
    with pytest.raises(cadenza.ShapeError, match="cross_entropy: expected probability target"):
        F.cross_entropy(x, cadenza.rand(4, 4))
    with pytest.raises(cadenza.DTypeError, match="nll_loss: expected target of integer"):
        F.nll_loss(x, cadenza.rand(4))
    with pytest.raises(IndexError, match="class indices"):
        F.cross_entropy(x, cadenza.tensor([0, 1, 2, 5]))
    with pytest.raises(cadenza.ShapeError, match="weight.shape"):
        F.cross_entropy(x, cadenza.tensor([0, 1, 2, 3]), weight=cadenza.ones(3))
    with pytest.raises(ValueError, match="reduction"):
        F.mse_loss(x, x, reduction="avg")
    with pytest.raises(cadenza.ShapeError, match="mse_loss: expected target.shape"):
        F.mse_loss(x, cadenza.randn(3, 5))
    with pytest.raises(cadenza.ShapeError, match="binary_cross_entropy: expected"):
        F.binary_cross_entropy(x.sigmoid(), cadenza.rand(5))
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        F.binary_cross_entropy(x * 3, cadenza.rand(4, 5))


def test_mse_broadcast_warns_like_torch():
    with pytest.warns(UserWarning):
        out = F.mse_loss(cadenza.ones(3, 1), cadenza.zeros(3))
    assert out.item() == 1.0


def test_nll_all_ignored_is_nan():
    out = F.cross_entropy(cadenza.randn(2, 3), cadenza.tensor([-100, -100]))
    assert np.isnan(out.item())


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_unweighted_nll_shortcut_keeps_the_bits(dt):
    # no weights and no ignored target take a shorter path (input[n, t_n], the mean by the
    # count): values and gradients bit for bit those of the general path (unit weights)
    rng = np.random.default_rng(3)
    x, t = rng.standard_normal((6, 5)).astype(dt), rng.integers(0, 5, 6)
    for fn in (F.nll_loss,):
        for red in ("mean", "sum", "none"):
            got = []
            for w in (None, cadenza.ones(5, dtype=cadenza.float64 if dt == np.float64 else
                                         cadenza.float32)):
                xi = cadenza.tensor(x, requires_grad=True)
                out = fn(xi, cadenza.tensor(t), weight=w, reduction=red)
                (out * 1.7).sum().backward()
                got.append((out.detach().numpy(), xi.grad.numpy()))
            for a, b in zip(*got):
                np.testing.assert_array_equal(a, b)
