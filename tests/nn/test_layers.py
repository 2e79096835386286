"""Layers vs torch.nn with the same weights: forward, input and parameter gradients (float64)."""
import numpy as np
import pytest
import torch

import cadenza
import cadenza.nn as nn
from helpers import check_module, rand, to_torch

D = cadenza.float64
TD = torch.float64


def test_linear():
    check_module(nn.Linear(5, 3, dtype=D), torch.nn.Linear(5, 3, dtype=TD), rand(4, 5))
    check_module(nn.Linear(5, 3, bias=False, dtype=D),
                 torch.nn.Linear(5, 3, bias=False, dtype=TD), rand(2, 4, 5))
    check_module(nn.Linear(5, 3, dtype=D), torch.nn.Linear(5, 3, dtype=TD), rand(5))


def test_linear_shape_error():
    m = nn.Linear(784, 10)
    with pytest.raises(cadenza.ShapeError) as e:
        m(cadenza.zeros(32, 1568))
    assert str(e.value) == ("Linear(in_features=784, out_features=10): expected "
                            "input.shape[-1] == 784, got (32, 1568)")
    assert isinstance(e.value, RuntimeError)


def test_linear_init_statistics():
    cadenza.manual_seed(0)
    w = nn.Linear(400, 300).weight.detach().numpy()
    bound = 1 / np.sqrt(400)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.98 * bound
    assert abs(w.std() - bound / np.sqrt(3)) < 0.01 * bound
    assert nn.Linear(4, 4).weight.dtype == cadenza.float32


def test_bilinear_identity_flatten():
    check_module(nn.Bilinear(3, 4, 2, dtype=D), torch.nn.Bilinear(3, 4, 2, dtype=TD),
                 rand(5, 3), rand(5, 4, seed=1))
    x = cadenza.randn(2, 3)
    assert nn.Identity(7, a=1)(x) is x
    assert nn.Flatten()(cadenza.zeros(2, 3, 4)).shape == (2, 12)
    assert nn.Flatten(0, 1)(cadenza.zeros(2, 3, 4)).shape == (6, 4)
    assert nn.Unflatten(1, (2, 6))(cadenza.zeros(2, 12)).shape == (2, 2, 6)


def test_embedding():
    cm, tm = nn.Embedding(10, 4, padding_idx=1, dtype=D), \
        torch.nn.Embedding(10, 4, padding_idx=1, dtype=TD)
    assert np.all(cm.weight.detach().numpy()[1] == 0)
    idx = np.array([[1, 2, 3], [3, 1, 9]])
    check_module(cm, tm, idx)
    assert cm.weight.grad[1].abs().sum().item() == 0
    copy = nn.Embedding.from_pretrained(cadenza.ones(3, 2))
    assert not copy.weight.requires_grad
    assert nn.Embedding.from_pretrained(cadenza.ones(3, 2), freeze=False).weight.requires_grad
    assert copy(cadenza.tensor([0, 2])).tolist() == [[1.0, 1.0], [1.0, 1.0]]
    assert nn.Embedding(5, 2, padding_idx=-1).padding_idx == 4


@pytest.mark.parametrize("make", [
    lambda lib, d: lib.LayerNorm(6, dtype=d),
    lambda lib, d: lib.LayerNorm((3, 6), elementwise_affine=False, dtype=d),
    lambda lib, d: lib.LayerNorm(6, bias=False, dtype=d),
    lambda lib, d: lib.RMSNorm(6, dtype=d),
    lambda lib, d: lib.RMSNorm(6, eps=1e-3, dtype=d),
    lambda lib, d: lib.GroupNorm(3, 6, dtype=d),
    lambda lib, d: lib.GroupNorm(2, 6, affine=False, dtype=d),
])
def test_norms(make):
    cm, tm = make(nn, D), make(torch.nn, TD)
    with cadenza.no_grad():
        for p in cm.parameters():
            p.copy_(cadenza.tensor(rand(*p.shape, seed=3)))
    check_module(cm, tm, rand(2, 3, 6) if not isinstance(cm, nn.GroupNorm) else rand(2, 6, 5))


@pytest.mark.parametrize("cls, shape", [("BatchNorm1d", (8, 4)), ("BatchNorm1d", (8, 4, 5)),
                                        ("BatchNorm2d", (4, 4, 3, 3))])
@pytest.mark.parametrize("momentum", [0.1, None])
def test_batchnorm_train_then_eval(cls, shape, momentum):
    cm = getattr(nn, cls)(4, momentum=momentum, dtype=D)
    tm = getattr(torch.nn, cls)(4, momentum=momentum, dtype=TD)
    with cadenza.no_grad():
        cm.weight.copy_(cadenza.tensor(rand(4, seed=5)))
    for step in range(3):
        check_module(cm, tm, rand(*shape, seed=step))
        cm.zero_grad()
        tm.zero_grad()
        for name, b in tm.named_buffers():
            np.testing.assert_allclose(cm.get_buffer(name).numpy(), b.numpy(), rtol=1e-10)
    cm.eval()
    tm.eval()
    check_module(cm, tm, rand(*shape, seed=9))
    with pytest.raises(ValueError, match="expected"):
        cm(cadenza.zeros(2, 4, 3, 3, 3))


def test_batchnorm_no_running_stats():
    cm = nn.BatchNorm2d(3, track_running_stats=False, affine=False, dtype=D)
    tm = torch.nn.BatchNorm2d(3, track_running_stats=False, affine=False, dtype=TD)
    assert list(cm.state_dict()) == []
    cm.eval()
    tm.eval()
    check_module(cm, tm, rand(2, 3, 2, 2))


def test_dropout():
    cadenza.manual_seed(0)
    x = cadenza.ones(200, 100)
    m = nn.Dropout(0.3)
    y = m(x).numpy()
    assert abs((y == 0).mean() - 0.3) < 0.02
    np.testing.assert_allclose(y[y != 0], 1 / 0.7, rtol=1e-6)
    m.eval()
    assert np.array_equal(m(x).numpy(), x.numpy())
    y2 = nn.Dropout2d(0.5)(cadenza.ones(50, 40, 3, 3)).numpy()
    per_channel = y2.reshape(50, 40, 9)
    assert np.all(per_channel.min(-1) == per_channel.max(-1))
    assert abs((per_channel[..., 0] == 0).mean() - 0.5) < 0.05
    y1 = nn.Dropout1d(0.5)(cadenza.ones(50, 40, 7)).numpy()
    assert np.all(y1.min(-1) == y1.max(-1))
    with pytest.raises(ValueError):
        nn.Dropout(1.5)
    assert repr(nn.Dropout(0.2)) == repr(torch.nn.Dropout(0.2))


CONVS = [
    ("Conv1d", dict(in_channels=4, out_channels=6, kernel_size=3), (2, 4, 11)),
    ("Conv1d", dict(in_channels=4, out_channels=6, kernel_size=3, stride=2, padding=2,
                    dilation=2, groups=2), (2, 4, 11)),
    ("Conv1d", dict(in_channels=4, out_channels=6, kernel_size=4, padding="same"), (2, 4, 9)),
    ("Conv2d", dict(in_channels=3, out_channels=4, kernel_size=3), (2, 3, 7, 6)),
    ("Conv2d", dict(in_channels=4, out_channels=6, kernel_size=(3, 2), stride=(2, 1),
                    padding=(1, 2), dilation=(1, 2), groups=2, bias=False), (2, 4, 8, 7)),
    ("Conv2d", dict(in_channels=3, out_channels=4, kernel_size=3, padding="same",
                    dilation=2), (1, 3, 6, 6)),
    ("Conv2d", dict(in_channels=3, out_channels=4, kernel_size=3, padding="valid"),
     (1, 3, 6, 6)),
    ("Conv2d", dict(in_channels=2, out_channels=2, kernel_size=3, padding=1,
                    padding_mode="reflect"), (1, 2, 5, 5)),
    ("Conv2d", dict(in_channels=2, out_channels=2, kernel_size=3, padding=1,
                    padding_mode="circular"), (1, 2, 5, 5)),
    ("ConvTranspose2d", dict(in_channels=4, out_channels=2, kernel_size=3, stride=2,
                             padding=1, output_padding=1), (2, 4, 4, 5)),
    ("ConvTranspose1d", dict(in_channels=4, out_channels=2, kernel_size=3, stride=2),
     (2, 4, 5)),
]


@pytest.mark.filterwarnings("ignore:Using padding=.same.")
@pytest.mark.parametrize("cls, kw, shape", CONVS)
def test_conv(cls, kw, shape):
    cm = getattr(nn, cls)(**kw, dtype=D)
    tm = getattr(torch.nn, cls)(**kw, dtype=TD)
    check_module(cm, tm, rand(*shape), rtol=1e-7, atol=1e-10)
    assert repr(cm) == repr(tm)


def test_conv_init_and_errors():
    w = nn.Conv2d(16, 8, 3).weight.detach().numpy()
    bound = 1 / np.sqrt(16 * 9)
    assert np.abs(w).max() <= bound
    with pytest.raises(ValueError):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError):
        nn.Conv2d(4, 4, 3, padding="same", stride=2)


POOLS = [
    ("MaxPool2d", dict(kernel_size=2), (2, 3, 6, 6)),
    ("MaxPool2d", dict(kernel_size=3, stride=2, padding=1), (2, 3, 7, 7)),
    ("MaxPool1d", dict(kernel_size=3, stride=2), (2, 3, 9)),
    ("AvgPool2d", dict(kernel_size=2), (2, 3, 6, 6)),
    ("AvgPool2d", dict(kernel_size=3, stride=2, padding=1, count_include_pad=False),
     (2, 3, 7, 7)),
    ("AvgPool1d", dict(kernel_size=2), (2, 3, 8)),
    ("AdaptiveAvgPool2d", dict(output_size=(2, 3)), (2, 3, 7, 8)),
    ("AdaptiveAvgPool2d", dict(output_size=1), (2, 3, 5, 5)),
    ("AdaptiveAvgPool1d", dict(output_size=4), (2, 3, 9)),
    ("AdaptiveMaxPool2d", dict(output_size=(2, 3)), (2, 3, 7, 8)),
    ("AdaptiveMaxPool1d", dict(output_size=3), (2, 3, 9)),
]


@pytest.mark.parametrize("cls, kw, shape", POOLS)
def test_pool(cls, kw, shape):
    cm, tm = getattr(nn, cls)(**kw), getattr(torch.nn, cls)(**kw)
    check_module(cm, tm, rand(*shape))
    assert repr(cm) == repr(tm)


ACTS = [("ReLU", {}), ("ReLU6", {}), ("GELU", {}), ("GELU", {"approximate": "tanh"}),
        ("SiLU", {}), ("Tanh", {}), ("Sigmoid", {}), ("Softmax", {"dim": -1}),
        ("LogSoftmax", {"dim": 1}), ("LeakyReLU", {"negative_slope": 0.2}), ("ELU", {}),
        ("ELU", {"alpha": 0.5}), ("Softplus", {}), ("Softplus", {"beta": 2.0}), ("Mish", {}),
        ("Hardswish", {}), ("Hardsigmoid", {}), ("GLU", {}), ("SELU", {}), ("CELU", {}),
        ("Hardtanh", {}), ("LogSigmoid", {}), ("Softsign", {}), ("Tanhshrink", {}),
        ("Softmin", {"dim": 0}), ("Threshold", {"threshold": 0.1, "value": 2.0}),
        ("Softshrink", {}), ("Hardshrink", {})]


@pytest.mark.parametrize("cls, kw", ACTS)
def test_activation(cls, kw):
    cm, tm = getattr(nn, cls)(**kw), getattr(torch.nn, cls)(**kw)
    check_module(cm, tm, rand(3, 4) * 3)
    assert repr(cm) == repr(tm)


def test_inplace_activations_and_prelu():
    x = cadenza.tensor([-1.0, 2.0])
    y = nn.ReLU(inplace=True)(x)
    assert x.tolist() == [0.0, 2.0] and y.tolist() == [0.0, 2.0]
    x = cadenza.tensor([-1.0, 2.0])
    nn.LeakyReLU(0.5, inplace=True)(x)
    assert x.tolist() == [-0.5, 2.0]
    assert repr(nn.ReLU(inplace=True)) == "ReLU(inplace=True)"
    check_module(nn.PReLU(dtype=D), torch.nn.PReLU(dtype=TD), rand(3, 4))
    check_module(nn.PReLU(3, init=0.1, dtype=D), torch.nn.PReLU(3, init=0.1, dtype=TD),
                 rand(2, 3, 4))


def test_float32_default_path():
    cm, tm = nn.Conv2d(3, 4, 3), torch.nn.Conv2d(3, 4, 3)
    check_module(cm, tm, rand(2, 3, 6, 6, dtype=np.float32), rtol=1e-4, atol=1e-5)
    assert cm(cadenza.zeros(1, 3, 5, 5)).dtype == cadenza.float32
    assert to_torch(cm.weight).dtype == torch.float32
