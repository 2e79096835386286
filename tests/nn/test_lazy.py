"""Lazy modules (parameter shapes from the first input) vs torch: the materialized module
equals torch's once weights are copied, becomes its cls_to_become, keeps parameter identity
for an optimizer created before the first call, and loads a state dict before any call."""
import numpy as np
import pytest
import torch

import cadenza
import cadenza.nn as nn
from helpers import check_module, rand

D, TD = cadenza.float64, torch.float64


@pytest.mark.parametrize("name, args, kw, shape, becomes", [
    ("LazyLinear", (3,), {}, (4, 5), "Linear"),
    ("LazyLinear", (3,), dict(bias=False), (2, 4, 5), "Linear"),
    ("LazyConv1d", (4, 3), dict(padding=1), (2, 3, 7), "Conv1d"),
    ("LazyConv2d", (4, 3), dict(groups=2, stride=2), (2, 6, 7, 5), "Conv2d"),
    ("LazyConv3d", (2, 2), {}, (1, 3, 3, 4, 3), "Conv3d"),
    ("LazyConvTranspose1d", (2, 3), dict(stride=2), (2, 3, 4), "ConvTranspose1d"),
    ("LazyConvTranspose2d", (4, 2), dict(groups=2), (2, 4, 3, 3), "ConvTranspose2d"),
    ("LazyConvTranspose3d", (2, 2), {}, (1, 3, 2, 2, 3), "ConvTranspose3d"),
    ("LazyBatchNorm1d", (), {}, (6, 3), "BatchNorm1d"),
    ("LazyBatchNorm2d", (), dict(momentum=0.3), (2, 3, 4, 4), "BatchNorm2d"),
    ("LazyBatchNorm3d", (), dict(affine=False), (2, 3, 2, 2, 2), "BatchNorm3d"),
    ("LazyInstanceNorm1d", (), dict(affine=True), (2, 3, 5), "InstanceNorm1d"),
    ("LazyInstanceNorm2d", (), dict(affine=True, track_running_stats=True), (2, 3, 4, 4),
     "InstanceNorm2d"),
    ("LazyInstanceNorm3d", (), {}, (2, 3, 2, 3, 4), "InstanceNorm3d"),
])
def test_lazy_modules(name, args, kw, shape, becomes):
    cm = getattr(nn, name)(*args, dtype=D, **kw)
    tm = getattr(torch.nn, name)(*args, dtype=TD, **kw)
    assert cm.has_uninitialized_params()
    params = list(cm.parameters())
    opt = cadenza.optim.SGD(params, lr=0.1) if params else None
    x = rand(*shape)
    tm(torch.tensor(x))                      # torch materializes on its first call too
    cm(cadenza.tensor(x))
    assert type(cm).__name__ == becomes == type(tm).__name__
    assert list(cm.state_dict()) == list(tm.state_dict())
    assert [tuple(p.shape) for p in cm.parameters()] == [tuple(p.shape) for p in tm.parameters()]
    assert [p is q for p, q in zip(params, cm.parameters())] == [True] * len(params)
    assert repr(cm) == repr(tm)
    with cadenza.no_grad():
        for i, p in enumerate(cm.parameters()):
            p.copy_(cadenza.tensor(rand(*p.shape, seed=i + 1)))
    check_module(cm, tm, rand(*shape, seed=5))
    if opt is not None:
        before = [p.detach().numpy().copy() for p in params]
        opt.step()
        assert any(not np.array_equal(b, p.detach().numpy()) for b, p in zip(before, params))


def test_lazy_init_statistics_and_errors():
    cadenza.manual_seed(0)
    m = nn.LazyLinear(300)
    m(cadenza.zeros(2, 400))
    w = m.weight.detach().numpy()
    assert abs(np.abs(w).max() - 1 / np.sqrt(400)) < 1e-3
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.LazyConv2d(4, 3, groups=2)(cadenza.zeros(1, 3, 5, 5))
    assert repr(nn.UninitializedParameter()) == "<UninitializedParameter>"


def test_lazy_load_state_dict_before_first_call():
    src = nn.Linear(5, 3)
    m = nn.LazyLinear(3)
    m.load_state_dict(src.state_dict())
    assert not m.has_uninitialized_params()
    x = cadenza.randn(2, 5)
    np.testing.assert_allclose(m(x).detach().numpy(), src(x).detach().numpy())
    assert type(m) is nn.Linear


def test_sync_batch_norm():
    cm, tm = nn.SyncBatchNorm(3, dtype=D), torch.nn.SyncBatchNorm(3, dtype=TD)
    assert repr(cm) == repr(tm) and list(cm.state_dict()) == list(tm.state_dict())
    net = nn.Sequential(nn.Conv2d(2, 3, 1), nn.BatchNorm2d(3))
    conv = nn.SyncBatchNorm.convert_sync_batchnorm(net)
    assert isinstance(conv[1], nn.SyncBatchNorm) and conv[1].weight is net[1].weight
    x = cadenza.randn(2, 2, 4, 4)
    np.testing.assert_allclose(conv(x).detach().numpy(), net(x).detach().numpy())


def test_lazy_conv_and_norm_load_state_dict():
    src = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    with cadenza.no_grad():
        src[1].running_mean.fill_(0.5)
    m = nn.Sequential(nn.LazyConv2d(4, 3), nn.LazyBatchNorm2d())
    m.load_state_dict(src.state_dict())
    src.eval(), m.eval()
    x = cadenza.randn(2, 3, 6, 6)
    np.testing.assert_allclose(m(x).detach().numpy(), src(x).detach().numpy(), rtol=1e-6)
    assert type(m[0]) is nn.Conv2d and m[0].in_channels == 3 and m[1].num_features == 4
