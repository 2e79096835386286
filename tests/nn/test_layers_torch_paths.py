"""Layers of torch.nn.modules.{padding, pixelshuffle, channelshuffle, instancenorm, fold,
upsampling, distance, activation, dropout} vs torch.nn (float64): forward, input and parameter
gradients, buffers, repr."""
import numpy as np
import pytest
import torch

import cadenza
import cadenza.nn as nn
from helpers import check_module, rand

D, TD = cadenza.float64, torch.float64


def _both(name, *args, **kw):
    return getattr(nn, name)(*args, **kw), getattr(torch.nn, name)(*args, **kw)


@pytest.mark.parametrize("name, pad, shape", [
    ("ReflectionPad1d", 2, (2, 3, 5)), ("ReflectionPad1d", (1, 3), (3, 5)),
    ("ReflectionPad2d", (1, 2, 0, 3), (2, 3, 4, 5)), ("ReflectionPad2d", 1, (3, 4, 5)),
    ("ReflectionPad3d", 1, (1, 2, 3, 3, 4)),
    ("ReplicationPad1d", (2, 4), (2, 3, 5)), ("ReplicationPad2d", (1, 2, 3, 0), (2, 3, 4, 5)),
    ("ReplicationPad3d", (1, 0, 2, 1, 0, 3), (1, 2, 3, 3, 4)),
    ("CircularPad1d", 2, (2, 3, 5)), ("CircularPad2d", (1, 2, 2, 1), (2, 3, 4, 5)),
    ("CircularPad3d", 1, (1, 2, 3, 3, 4)),
    ("ZeroPad1d", (1, 2), (2, 3, 5)), ("ZeroPad2d", (1, -1, 2, 0), (2, 3, 4, 5)),
    ("ZeroPad3d", 1, (1, 2, 3, 3, 4)),
])
def test_padding(name, pad, shape):
    cm, tm = _both(name, pad)
    assert repr(cm) == repr(tm)
    check_module(cm, tm, rand(*shape))


@pytest.mark.parametrize("name, pad, shape", [
    ("ConstantPad1d", (1, 2), (2, 3, 5)), ("ConstantPad2d", 2, (3, 4, 5)),
    ("ConstantPad3d", (1, 0, 0, 2, 1, 1), (1, 2, 3, 3, 4))])
def test_constant_padding(name, pad, shape):
    cm, tm = _both(name, pad, 3.5)
    assert repr(cm) == repr(tm)
    check_module(cm, tm, rand(*shape))


def test_padding_dims_checked():
    with pytest.raises(ValueError, match="3D or 4D"):
        nn.ReflectionPad2d(1)(cadenza.zeros(2, 2))


@pytest.mark.parametrize("name, arg, shape", [
    ("PixelShuffle", 2, (2, 8, 3, 4)), ("PixelShuffle", 3, (9, 2, 2)),
    ("PixelUnshuffle", 2, (2, 2, 4, 6)), ("ChannelShuffle", 3, (2, 6, 2, 3)),
    ("ChannelShuffle", 2, (2, 4, 5)),
    ("Fold", ((4, 5), (2, 2)), (2, 12, 12)), ("Unfold", ((2, 3),), (2, 3, 4, 5)),
    ("Upsample", (None, 2), (1, 2, 3, 4)),
    ("UpsamplingNearest2d", ((5, 7),), (1, 2, 3, 4)),
    ("UpsamplingBilinear2d", (None, 2), (1, 2, 3, 4)),
    ("Softmax2d", (), (2, 3, 4, 5)), ("Softmax2d", (), (3, 4, 5)),
])
def test_shape_layers(name, arg, shape):
    args = arg if isinstance(arg, tuple) else (arg,)
    cm, tm = _both(name, *args)
    assert repr(cm) == repr(tm)
    check_module(cm, tm, rand(*shape))


def test_upsample_modes():
    for kw in (dict(scale_factor=2, mode="bilinear"), dict(size=(5, 3), mode="bilinear",
                                                          align_corners=True),
               dict(scale_factor=(2, 3), mode="nearest")):
        cm, tm = _both("Upsample", **kw)
        assert repr(cm) == repr(tm)
        check_module(cm, tm, rand(2, 3, 4, 5))
    cm, tm = _both("Upsample", scale_factor=2, mode="linear")
    check_module(cm, tm, rand(2, 3, 4))


def test_distance():
    cm, tm = _both("PairwiseDistance", 3.0, 1e-4, True)
    check_module(cm, tm, rand(4, 5), rand(4, 5, seed=1))
    cm, tm = _both("CosineSimilarity", 0)
    check_module(cm, tm, rand(4, 5), rand(4, 5, seed=1))


@pytest.mark.parametrize("name, shape", [("InstanceNorm1d", (2, 3, 5)),
                                         ("InstanceNorm1d", (3, 5)),
                                         ("InstanceNorm2d", (2, 3, 4, 5)),
                                         ("InstanceNorm3d", (2, 3, 2, 3, 2))])
@pytest.mark.parametrize("kw", [dict(), dict(affine=True),
                                dict(affine=True, track_running_stats=True, momentum=0.3)])
def test_instance_norm(name, shape, kw):
    cm, tm = getattr(nn, name)(3, dtype=D, **kw), getattr(torch.nn, name)(3, dtype=TD, **kw)
    assert repr(cm) == repr(tm)
    assert list(cm.state_dict()) == list(tm.state_dict())
    with cadenza.no_grad():
        for i, p in enumerate(cm.parameters()):
            p.copy_(cadenza.tensor(rand(*p.shape, seed=i + 4)))
    check_module(cm, tm, rand(*shape))
    for k, v in tm.state_dict().items():      # running statistics updated as torch's
        np.testing.assert_allclose(cm.state_dict()[k].numpy(), v.numpy(), rtol=1e-6)
    cm.eval(), tm.eval()
    check_module(cm, tm, rand(*shape, seed=2))


def test_instance_norm_checks():
    with pytest.raises(ValueError, match="expected 3D or 4D input"):
        nn.InstanceNorm2d(3)(cadenza.zeros(2, 3))
    with pytest.raises(ValueError, match="num_features"):
        nn.InstanceNorm1d(3, affine=True)(cadenza.zeros(2, 4, 5))
    with pytest.warns(UserWarning):
        nn.InstanceNorm1d(3)(cadenza.zeros(2, 4, 5))


def test_rrelu_and_feature_alpha_dropout():
    cm, tm = _both("RReLU", 0.1, 0.4)
    assert repr(cm) == repr(tm)
    check_module(cm.eval(), tm.eval(), rand(3, 4))
    cadenza.manual_seed(0)
    x = cadenza.tensor(-np.ones((200, 50)))
    y = nn.RReLU(0.1, 0.4).train()(x).numpy()
    assert y.min() >= -0.4 and y.max() <= -0.1 and y.std() > 0.05
    cm, tm = _both("FeatureAlphaDropout", 0.3)
    assert repr(cm) == repr(tm)
    check_module(cm.eval(), tm.eval(), rand(2, 3, 4))
    y = nn.FeatureAlphaDropout(0.5).train()(cadenza.ones(4, 50, 3)).numpy()
    assert np.all(y.std(axis=2) < 1e-12)          # whole channels dropped or kept
    assert len(np.unique(np.round(y, 6))) == 2
