"""Convolution, pooling and resampling: error messages and edge values. The comparisons with
torch (forward, gradients, gradcheck, compiled) are op-table entries: tests/ops/opinfo_nn.py."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import cadenza
import cadenza.nn.functional as F


def test_conv_errors():
    x = cadenza.ones(1, 3, 5, 5)
    with pytest.raises(cadenza.ShapeError, match=r"conv2d: expected input.shape\[1\] =="):
        F.conv2d(x, cadenza.ones(2, 4, 3, 3))
    with pytest.raises(cadenza.ShapeError, match="conv2d: expected a 3-d"):
        F.conv2d(cadenza.ones(5, 5), cadenza.ones(2, 3, 3, 3))
    with pytest.raises(cadenza.ShapeError, match="kernel"):
        F.conv2d(x, cadenza.ones(2, 3, 7, 7))
    with pytest.raises(cadenza.DTypeError):
        F.conv2d(x.double(), cadenza.ones(2, 3, 3, 3))
    with pytest.raises(ValueError, match="same"):
        F.conv2d(x, cadenza.ones(2, 3, 3, 3), stride=2, padding="same")
    with pytest.raises(cadenza.ShapeError, match="bias"):
        F.conv2d(x, cadenza.ones(2, 3, 3, 3), cadenza.ones(3))


def test_linear_error():
    with pytest.raises(cadenza.ShapeError, match=r"linear: expected input.shape\[-1\] =="):
        F.linear(cadenza.ones(2, 3), cadenza.ones(5, 4))


# ----------------------------------------------------------------------------- pooling
def test_pool_errors():
    x = cadenza.ones(1, 2, 4, 4)
    with pytest.raises(ValueError, match="padding <= kernel_size / 2"):
        F.max_pool2d(x, 2, padding=2)
    with pytest.raises(cadenza.ShapeError, match="max_pool2d: expected a 3-d"):
        F.max_pool2d(cadenza.ones(4, 4), 2)


# ----------------------------------------------------------------------------- interpolate
def test_interpolate_error():
    with pytest.raises(ValueError, match="align_corners"):
        F.interpolate(cadenza.ones(1, 1, 2, 2), scale_factor=2, align_corners=True)


def test_max_pool2d_nan_and_all_inf_windows_pick_like_torch():
    # torch's scan: a window's last NaN wins; an all -inf window's first real element wins
    v = np.array([[[[1.0, math.nan, 0.5, 0.5], [math.nan, 2.0, 0.5, 0.5],
                    [-math.inf, -math.inf, 3.0, 1.0], [-math.inf, -math.inf, 1.0, 3.0]]]],
                 dtype=np.float32)
    for kw in (dict(kernel_size=2), dict(kernel_size=3, stride=1, padding=1)):
        x = cadenza.tensor(v, requires_grad=True)
        t = torch.tensor(v, requires_grad=True)
        out, ind = F.max_pool2d(x, return_indices=True, **kw)
        tout, tind = TF.max_pool2d(t, return_indices=True, **kw)
        np.testing.assert_array_equal(out.detach().numpy(), tout.detach().numpy())
        np.testing.assert_array_equal(ind.numpy(), tind.numpy())
        out.sum().backward()
        tout.sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), t.grad.numpy())
