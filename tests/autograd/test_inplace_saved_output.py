"""An in-place write into the output of a max pooling (``nn.ReLU(inplace=True)`` after
``nn.MaxPool2d``, as in the spatial transformer tutorial) leaves its backward intact, as in
torch (which saves the winners' indices), while ops whose backward needs the output value
(sigmoid, amax) still fail the version check as torch does."""
import numpy as np
import pytest

import cadenza
import cadenza.nn.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional

CASES = {
    "max_pool2d": lambda F, x: F.max_pool2d(x, 2),
    "max_pool1d": lambda F, x: F.max_pool1d(x.flatten(2), 3),
    "adaptive_max_pool2d": lambda F, x: F.adaptive_max_pool2d(x, 2),
    "max_pool2d_view": lambda F, x: F.max_pool2d(x, 2)[:, 1],
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_inplace_relu_after_max_pool_matches_torch(name):
    a = np.random.default_rng(0).standard_normal((2, 3, 4, 6)).astype(np.float32)
    grads = []
    for lib, fn in ((cadenza, F), (torch, TF)):
        x = lib.tensor(a, requires_grad=True)
        y = CASES[name](fn, x)
        y.relu_()
        (y * lib.arange(y.numel(), dtype=lib.float32).reshape(y.shape)).sum().backward()
        grads.append((y.detach().numpy(), x.grad.numpy()))
    np.testing.assert_array_equal(grads[0][0], grads[1][0])
    np.testing.assert_array_equal(grads[0][1], grads[1][1])


def test_module_relu_inplace_after_max_pool_trains():
    net = cadenza.nn.Sequential(cadenza.nn.Conv2d(1, 2, 3), cadenza.nn.MaxPool2d(2),
                                cadenza.nn.ReLU(True))
    net(cadenza.randn(2, 1, 8, 8)).sum().backward()
    assert net[0].weight.grad is not None


@pytest.mark.parametrize("lib", [cadenza, torch], ids=["cadenza", "torch"])
def test_saved_output_values_still_checked(lib):
    x = lib.randn(3, 4, requires_grad=True)
    for y in (lib.sigmoid(x), x.amax(1)):
        y.mul_(2)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.sum().backward()
