"""nn.init: statistics of each initialiser, gains, generator reproducibility, no graph."""
import math

import numpy as np
import pytest
import torch

import cadenza
import cadenza.nn as nn
from cadenza.nn import init


def _w(*shape):
    return nn.Parameter(cadenza.empty(*shape))


@pytest.mark.parametrize("name, param", [("linear", None), ("conv2d", None), ("sigmoid", None),
                                         ("tanh", None), ("relu", None), ("leaky_relu", None),
                                         ("leaky_relu", 0.2), ("selu", None)])
def test_calculate_gain(name, param):
    assert init.calculate_gain(name, param) == pytest.approx(
        torch.nn.init.calculate_gain(name, param))
    with pytest.raises(ValueError):
        init.calculate_gain("nope")


def test_uniform_normal_constant():
    w = _w(200, 300)
    assert init.uniform_(w, -2, 3) is w
    a = w.detach().numpy()
    assert a.min() >= -2 and a.max() <= 3 and abs(a.mean() - 0.5) < 0.05
    init.normal_(w, 1.0, 2.0)
    a = w.detach().numpy()
    assert abs(a.mean() - 1) < 0.03 and abs(a.std() - 2) < 0.03
    init.constant_(w, 0.5)
    assert np.all(w.detach().numpy() == 0.5)
    init.ones_(w)
    assert np.all(w.detach().numpy() == 1)
    init.zeros_(w)
    assert np.all(w.detach().numpy() == 0)
    assert w.grad_fn is None and w.is_leaf and w.requires_grad
    init.eye_(w)
    assert np.array_equal(w.detach().numpy(), np.eye(200, 300))


def test_xavier_kaiming_std():
    w = _w(256, 128, 3)
    fan_in, fan_out = 128 * 3, 256 * 3
    init.xavier_uniform_(w, gain=2.0)
    a = 2.0 * math.sqrt(6 / (fan_in + fan_out))
    assert np.abs(w.detach().numpy()).max() <= a
    assert w.detach().numpy().std() == pytest.approx(a / math.sqrt(3), rel=0.02)
    init.xavier_normal_(w)
    assert w.detach().numpy().std() == pytest.approx(math.sqrt(2 / (fan_in + fan_out)), rel=0.02)
    init.kaiming_uniform_(w, nonlinearity="relu")
    assert w.detach().numpy().std() == pytest.approx(math.sqrt(2 / fan_in), rel=0.02)
    init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu")
    assert w.detach().numpy().std() == pytest.approx(math.sqrt(2 / fan_out), rel=0.02)
    init.kaiming_normal_(w, a=0.2)
    assert w.detach().numpy().std() == pytest.approx(
        math.sqrt(2 / (1 + 0.04) / fan_in), rel=0.02)
    with pytest.raises(ValueError):
        init.kaiming_normal_(w, mode="fan_avg")
    with pytest.raises(ValueError):
        init.xavier_uniform_(_w(5))


def test_trunc_normal():
    w = _w(400, 250)
    init.trunc_normal_(w, mean=0.5, std=1.0, a=-1.0, b=1.5)
    a = w.detach().numpy()
    assert a.min() >= -1.0 and a.max() <= 1.5
    t = torch.empty(400, 250)
    torch.nn.init.trunc_normal_(t, mean=0.5, std=1.0, a=-1.0, b=1.5)
    assert a.mean() == pytest.approx(t.mean().item(), abs=0.02)
    assert a.std() == pytest.approx(t.std().item(), abs=0.02)
    init.trunc_normal_(w, std=0.02)
    assert w.detach().numpy().std() == pytest.approx(0.02, rel=0.03)


def test_orthogonal_and_dirac():
    w = _w(6, 10)
    init.orthogonal_(w, gain=2.0)
    a = w.detach().numpy().astype(np.float64)
    np.testing.assert_allclose(a @ a.T, 4 * np.eye(6), atol=1e-5)
    c = _w(4, 4, 3, 3)
    init.dirac_(c)
    x = cadenza.randn(1, 4, 5, 5)
    y = cadenza.nn.functional.conv2d(x, c.detach(), padding=1)
    np.testing.assert_allclose(y.numpy(), x.numpy(), atol=1e-6)


def test_generator_reproducible():
    g1, g2 = cadenza.Generator().manual_seed(3), cadenza.Generator().manual_seed(3)
    a, b = _w(4, 5), _w(4, 5)
    init.kaiming_uniform_(a, generator=g1)
    init.kaiming_uniform_(b, generator=g2)
    assert np.array_equal(a.detach().numpy(), b.detach().numpy())
    cadenza.manual_seed(7)
    l1 = nn.Linear(3, 3).weight.detach().numpy().copy()
    cadenza.manual_seed(7)
    l2 = nn.Linear(3, 3).weight.detach().numpy()
    assert np.array_equal(l1, l2)
