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


@pytest.mark.parametrize("make, shape", [
    (lambda lib, d: lib.Conv3d(2, 4, 3, padding=1, dtype=d), (2, 2, 4, 5, 3)),
    (lambda lib, d: lib.Conv3d(4, 6, (2, 3, 1), stride=2, groups=2, bias=False, dtype=d),
     (1, 4, 5, 6, 3)),
    (lambda lib, d: lib.Conv3d(2, 3, 3, padding="same", padding_mode="reflect", dtype=d),
     (2, 4, 4, 5)),
    (lambda lib, d: lib.ConvTranspose3d(4, 2, 2, stride=2, dtype=d), (1, 4, 2, 3, 2)),
    (lambda lib, d: lib.ConvTranspose3d(4, 6, 3, stride=(1, 2, 2), padding=1,
                                        output_padding=(0, 1, 1), groups=2, dtype=d),
     (2, 4, 3, 2, 3)),
])
def test_conv3d_modules(make, shape):
    cm, tm = make(nn, D), make(torch.nn, TD)
    assert repr(cm) == repr(tm)
    assert list(cm.state_dict()) == list(tm.state_dict())
    check_module(cm, tm, rand(*shape), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name, args, kw, shape", [
    ("MaxPool3d", (2,), {}, (2, 3, 4, 4, 6)),
    ("MaxPool3d", (3, 2, 1), dict(ceil_mode=True), (1, 2, 5, 6, 5)),
    ("AvgPool3d", (3, 2, 1), dict(count_include_pad=False), (1, 2, 5, 6, 5)),
    ("AvgPool3d", ((2, 1, 2),), {}, (2, 4, 4, 6)),
    ("AdaptiveAvgPool3d", ((2, 3, None),), {}, (1, 2, 5, 6, 4)),
    ("AdaptiveMaxPool3d", ((2, 3, 2),), {}, (1, 2, 5, 6, 4)),
    ("LPPool1d", (2, 3, 2), {}, (2, 3, 9)),
    ("LPPool2d", (2.0, (2, 3)), dict(ceil_mode=True), (2, 3, 5, 7)),
    ("LPPool3d", (1, 2), {}, (1, 2, 4, 4, 4)),
])
def test_pool_modules(name, args, kw, shape):
    cm, tm = _both(name, *args, **kw)
    assert repr(cm) == repr(tm)
    x = rand(*shape)
    check_module(cm, tm, np.abs(x) + 0.1 if name.startswith("LP") else x)


def test_max_pool3d_indices_and_unpool_modules():
    for nd, shape in ((1, (2, 3, 8)), (2, (2, 3, 4, 6)), (3, (1, 2, 4, 4, 6))):
        cpool, tpool = _both(f"MaxPool{nd}d", 2, return_indices=True)
        cun, tun = _both(f"MaxUnpool{nd}d", 2)
        assert repr(cun) == repr(tun)
        x = rand(*shape)
        (co, ci), (to, ti) = cpool(cadenza.tensor(x)), tpool(torch.tensor(x))
        np.testing.assert_array_equal(co.numpy(), to.numpy())
        np.testing.assert_array_equal(ci.numpy(), ti.numpy())
        check_module(cun, tun, to.numpy(), ti.numpy())
        check_module(cun, tun, to.numpy(), ti.numpy(), kwargs=dict(output_size=shape))
    cm, tm = _both("AdaptiveMaxPool3d", 2, return_indices=True)
    x = rand(1, 2, 5, 4, 3)
    np.testing.assert_array_equal(cm(cadenza.tensor(x))[1].numpy(), tm(torch.tensor(x))[1].numpy())


def test_fractional_max_pool_modules():
    u = np.random.default_rng(1).random((2, 3, 2))
    cm = nn.FractionalMaxPool2d(3, output_size=(4, 3), _random_samples=cadenza.tensor(u))
    tm = torch.nn.FractionalMaxPool2d(3, output_size=(4, 3), _random_samples=torch.tensor(u))
    check_module(cm, tm, rand(2, 3, 9, 8))
    u3 = np.random.default_rng(1).random((1, 2, 3))
    cm = nn.FractionalMaxPool3d(2, output_ratio=0.5, return_indices=True,
                                _random_samples=cadenza.tensor(u3))
    tm = torch.nn.FractionalMaxPool3d(2, output_ratio=0.5, return_indices=True,
                                      _random_samples=torch.tensor(u3))
    check_module(cm, tm, rand(1, 2, 6, 7, 8))
    cadenza.manual_seed(0)
    out = nn.FractionalMaxPool2d(2, output_ratio=(0.5, 0.7))(cadenza.randn(2, 3, 10, 10))
    assert out.shape == (2, 3, 5, 7)
    with pytest.raises(ValueError, match="either an output size"):
        nn.FractionalMaxPool2d(2)
    with pytest.raises(ValueError, match="only one"):
        nn.FractionalMaxPool2d(2, output_size=3, output_ratio=0.5)


@pytest.mark.parametrize("name, args, shape", [
    ("LocalResponseNorm", (3, 1e-2, 0.7, 2.0), (2, 5, 3, 2)),
    ("LocalResponseNorm", (2,), (2, 4, 6)),
    ("CrossMapLRN2d", (3, 1e-2, 0.7, 2.0), (2, 5, 3, 2)),
    ("CrossMapLRN2d", (4, 0.1), (1, 7, 2, 2)),
])
def test_local_response_norms(name, args, shape):
    cm, tm = _both(name, *args)
    assert repr(cm) == repr(tm)
    # torch's CrossMapLRN2d backward is a hand-written legacy formula, not the derivative of
    # its forward: its gradient is checked against finite differences instead
    lrn = name == "LocalResponseNorm"
    check_module(cm, tm, rand(*shape), rtol=1e-8, atol=1e-12, grad_inputs=lrn)
    if not lrn:
        x = cadenza.tensor(rand(*shape), requires_grad=True)
        # the facade's function (the package attribute turns into the submodule once
        # cadenza.autograd.gradcheck is imported directly somewhere: see the report)
        gradcheck = cadenza.autograd.gradcheck
        gradcheck = getattr(gradcheck, "gradcheck", gradcheck)
        assert gradcheck(cm, (x,))


@pytest.mark.parametrize("kw, inp, off", [
    (dict(mode="sum"), np.array([1, 2, 4, 5, 4, 3, 2, 9]), np.array([0, 4, 4, 6])),
    (dict(mode="mean", padding_idx=4), np.array([1, 2, 4, 5, 4, 3, 2, 9]),
     np.array([0, 3, 5])),
    (dict(mode="max"), np.array([1, 2, 4, 5, 4, 3, 2, 9]), np.array([0, 4, 4, 6])),
    (dict(mode="sum", include_last_offset=True), np.array([1, 2, 4, 5, 4, 3, 2, 9]),
     np.array([0, 4, 4, 8])),
    (dict(mode="mean"), np.array([[1, 2, 4], [5, 4, 3]]), None),
    (dict(mode="max", padding_idx=2), np.array([[1, 2, 4], [5, 2, 3]]), None),
])
def test_embedding_bag(kw, inp, off):
    cm = nn.EmbeddingBag(10, 3, dtype=D, **kw)
    tm = torch.nn.EmbeddingBag(10, 3, dtype=TD, **kw)
    assert repr(cm) == repr(tm)
    args = (inp,) if off is None else (inp, off)
    check_module(cm, tm, *args)


def test_embedding_bag_per_sample_weights_and_container():
    cm = nn.EmbeddingBag(10, 3, mode="sum", dtype=D)
    tm = torch.nn.EmbeddingBag(10, 3, mode="sum", dtype=TD)
    check_module(cm, tm, np.array([1, 2, 4, 5, 4]), np.array([0, 2]),
                 kwargs=dict(per_sample_weights=rand(5)))
    with pytest.raises(NotImplementedError, match="per_sample_weights"):
        nn.EmbeddingBag(10, 3)(cadenza.tensor([1, 2]), cadenza.tensor([0]),
                               per_sample_weights=cadenza.ones(2))
    with pytest.warns(UserWarning, match="deprecated"):
        c = nn.Container(a=nn.Linear(2, 2))
    assert isinstance(c.a, nn.Linear) and len(list(c.parameters())) == 2


def test_upsample_bicubic():
    cm, tm = _both("Upsample", scale_factor=2, mode="bicubic", align_corners=False)
    check_module(cm, tm, rand(2, 3, 4, 5), rtol=1e-10, atol=1e-12)
