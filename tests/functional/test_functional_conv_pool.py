import numpy as np
import pytest
import torch.nn.functional as TF

import cadenza
import cadenza.nn.functional as F
from cadenza.autograd import gradcheck, gradgradcheck
from functional_helpers import check, rng

R = rng(3)

CONV2D = [
    dict(),
    dict(stride=2, padding=1),
    dict(stride=(2, 1), padding=(0, 2), dilation=(1, 2)),
    dict(padding="same", dilation=2),
    dict(padding="valid"),
    dict(groups=2, padding=1),
]


@pytest.mark.parametrize("kw", CONV2D)
def test_conv2d(kw):
    x = R.standard_normal((2, 4, 6, 5))
    g = kw.get("groups", 1)
    w = R.standard_normal((6, 4 // g, 3, 2))
    b = R.standard_normal(6)
    check(lambda a, w_, b_: F.conv2d(a, w_, b_, **kw), lambda a, w_, b_: TF.conv2d(a, w_, b_, **kw),
          x, w, b)


def test_conv2d_same_even_kernel_and_unbatched():
    x = R.standard_normal((3, 5, 5))
    w = R.standard_normal((2, 3, 2, 4))
    check(lambda a, w_: F.conv2d(a, w_, padding="same"),
          lambda a, w_: TF.conv2d(a, w_, padding="same"), x, w)


@pytest.mark.parametrize("kw", [dict(), dict(stride=2, padding=2, dilation=2), dict(groups=3),
                                dict(padding="same")])
def test_conv1d(kw):
    x = R.standard_normal((2, 3, 9))
    w = R.standard_normal((6, 3 // kw.get("groups", 1), 3))
    check(lambda a, w_, b_: F.conv1d(a, w_, b_, **kw), lambda a, w_, b_: TF.conv1d(a, w_, b_, **kw),
          x, w, R.standard_normal(6))


@pytest.mark.parametrize("kw", [dict(), dict(stride=2, padding=1, output_padding=1),
                                dict(stride=(2, 3), dilation=2, groups=2)])
def test_conv_transpose2d(kw):
    x = R.standard_normal((2, 4, 3, 4))
    w = R.standard_normal((4, 3, 3, 2))
    check(lambda a, w_, b_: F.conv_transpose2d(a, w_, b_, **kw),
          lambda a, w_, b_: TF.conv_transpose2d(a, w_, b_, **kw), x, w,
          R.standard_normal(3 * kw.get("groups", 1)))


def test_conv_transpose1d():
    x = R.standard_normal((2, 4, 5))
    w = R.standard_normal((4, 2, 3))
    kw = dict(stride=2, padding=1, output_padding=1, groups=2)
    check(lambda a, w_: F.conv_transpose1d(a, w_, **kw),
          lambda a, w_: TF.conv_transpose1d(a, w_, **kw), x, w)


def test_conv_gradcheck():
    x = cadenza.tensor(R.standard_normal((1, 2, 4, 4)), requires_grad=True)
    w = cadenza.tensor(R.standard_normal((2, 2, 2, 2)), requires_grad=True)
    assert gradcheck(lambda a, b: F.conv2d(a, b, stride=2, padding=1), (x, w))
    assert gradgradcheck(lambda a, b: F.conv2d(a, b), (x, w))
    assert gradcheck(lambda a, b: F.conv_transpose2d(a, b, stride=2), (x, w))


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


def test_linear_and_bilinear():
    x, w, b = R.standard_normal((2, 3, 4)), R.standard_normal((5, 4)), R.standard_normal(5)
    check(F.linear, TF.linear, x, w, b)
    check(F.linear, TF.linear, x[0, 0], w)
    check(F.bilinear, TF.bilinear, R.standard_normal((3, 2)), R.standard_normal((3, 4)),
          R.standard_normal((5, 2, 4)), R.standard_normal(5))
    with pytest.raises(cadenza.ShapeError, match=r"linear: expected input.shape\[-1\] =="):
        F.linear(cadenza.ones(2, 3), cadenza.ones(5, 4))


# ----------------------------------------------------------------------------- pooling
MAXPOOL = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=(2, 3), stride=(1, 2), dilation=(2, 1)),
    dict(kernel_size=3, stride=2, ceil_mode=True),
    dict(kernel_size=2, stride=2, padding=1, ceil_mode=True),
]


@pytest.mark.parametrize("kw", MAXPOOL)
def test_max_pool2d(kw):
    x = R.standard_normal((2, 3, 7, 6))
    check(lambda a: F.max_pool2d(a, **kw, return_indices=True),
          lambda a: TF.max_pool2d(a, **kw, return_indices=True), x)


def test_max_pool_ties_go_to_first_element():
    x = np.maximum(R.standard_normal((2, 3, 6, 6)), 0)  # ReLU output: many tied zeros
    x[0, 0, :2, :2] = 1.5
    check(lambda a: F.max_pool2d(a, 2), lambda a: TF.max_pool2d(a, 2), x)
    check(lambda a: F.max_pool2d(a, 3, 1, 1, return_indices=True),
          lambda a: TF.max_pool2d(a, 3, 1, 1, return_indices=True), x)


def test_max_pool1d_and_unbatched():
    x = R.standard_normal((2, 3, 9))
    check(lambda a: F.max_pool1d(a, 3, 2, 1, return_indices=True),
          lambda a: TF.max_pool1d(a, 3, 2, 1, return_indices=True), x)
    check(lambda a: F.max_pool1d(a, 2, ceil_mode=True),
          lambda a: TF.max_pool1d(a, 2, ceil_mode=True), x[0])
    check(lambda a: F.max_pool2d(a, 2), lambda a: TF.max_pool2d(a, 2), x[:, :, :8])


AVGPOOL = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=3, stride=2, padding=1, count_include_pad=False),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
    dict(kernel_size=(2, 3), divisor_override=5),
]


@pytest.mark.parametrize("kw", AVGPOOL)
def test_avg_pool2d(kw):
    check(lambda a: F.avg_pool2d(a, **kw), lambda a: TF.avg_pool2d(a, **kw),
          R.standard_normal((2, 3, 7, 6)))


def test_avg_pool1d():
    x = R.standard_normal((2, 3, 8))
    check(lambda a: F.avg_pool1d(a, 3, 2, 1, True, False),
          lambda a: TF.avg_pool1d(a, 3, 2, 1, True, False), x)


@pytest.mark.parametrize("size", [(3, 2), (2, 3), 1, (None, 4)])
def test_adaptive_pools(size):
    x = R.standard_normal((2, 3, 7, 6))
    check(lambda a: F.adaptive_avg_pool2d(a, size), lambda a: TF.adaptive_avg_pool2d(a, size), x)
    check(lambda a: F.adaptive_max_pool2d(a, size, True),
          lambda a: TF.adaptive_max_pool2d(a, size, True), x)


def test_adaptive_1d():
    x = R.standard_normal((2, 3, 7))
    check(lambda a: F.adaptive_avg_pool1d(a, 3), lambda a: TF.adaptive_avg_pool1d(a, 3), x)
    check(lambda a: F.adaptive_max_pool1d(a, 3, True),
          lambda a: TF.adaptive_max_pool1d(a, 3, True), x)
    check(lambda a: F.adaptive_max_pool2d(a, 2), lambda a: TF.adaptive_max_pool2d(a, 2),
          R.standard_normal((3, 4, 6)))


def test_pool_gradcheck_and_errors():
    x = cadenza.tensor(R.standard_normal((1, 2, 4, 4)), requires_grad=True)
    assert gradcheck(lambda a: F.max_pool2d(a, 2), (x,))
    assert gradgradcheck(lambda a: F.avg_pool2d(a, 3, 1, 1), (x,))
    with pytest.raises(ValueError, match="padding <= kernel_size / 2"):
        F.max_pool2d(x, 2, padding=2)
    with pytest.raises(cadenza.ShapeError, match="max_pool2d: expected a 3-d"):
        F.max_pool2d(cadenza.ones(4, 4), 2)


# ----------------------------------------------------------------------------- interpolate
@pytest.mark.parametrize("kw", [
    dict(scale_factor=2), dict(size=(5, 3)), dict(scale_factor=(1.5, 0.5)),
    dict(size=(7, 4), mode="nearest-exact"),
    dict(scale_factor=2, mode="bilinear"), dict(size=(5, 3), mode="bilinear"),
    dict(size=(5, 7), mode="bilinear", align_corners=True),
    dict(scale_factor=1.7, mode="bilinear", recompute_scale_factor=True),
    dict(size=(2, 3), mode="area"),
])
def test_interpolate_2d(kw):
    check(lambda a: F.interpolate(a, **kw), lambda a: TF.interpolate(a, **kw),
          R.standard_normal((2, 3, 4, 5)))


def test_interpolate_1d_3d():
    check(lambda a: F.interpolate(a, size=7, mode="linear"),
          lambda a: TF.interpolate(a, size=7, mode="linear"), R.standard_normal((2, 3, 4)))
    check(lambda a: F.interpolate(a, scale_factor=2, mode="trilinear"),
          lambda a: TF.interpolate(a, scale_factor=2, mode="trilinear"),
          R.standard_normal((1, 2, 2, 3, 2)))
    check(lambda a: F.interpolate(a, size=(3, 5, 1)), lambda a: TF.interpolate(a, size=(3, 5, 1)),
          R.standard_normal((1, 2, 2, 3, 2)))
    with pytest.raises(ValueError, match="align_corners"):
        F.interpolate(cadenza.ones(1, 1, 2, 2), scale_factor=2, align_corners=True)


def test_pad_unfold_fold_pixel_shuffle():
    x = R.standard_normal((2, 4, 3, 4))
    check(lambda a: F.pad(a, (1, 2, 0, 1), value=0.5), lambda a: TF.pad(a, (1, 2, 0, 1), value=0.5),
          x)
    check(lambda a: F.pad(a, (1, 2, 2, 1), mode="reflect"),
          lambda a: TF.pad(a, (1, 2, 2, 1), mode="reflect"), x)
    check(lambda a: F.unfold(a, 2, padding=1), lambda a: TF.unfold(a, 2, padding=1), x)
    cols = R.standard_normal((2, 8, 6))
    check(lambda a: F.fold(a, (3, 4), 2), lambda a: TF.fold(a, (3, 4), 2), cols)
    check(lambda a: F.pixel_shuffle(a, 2), lambda a: TF.pixel_shuffle(a, 2), x)
    check(lambda a: F.pixel_unshuffle(a, 2), lambda a: TF.pixel_unshuffle(a, 2),
          R.standard_normal((2, 1, 4, 6)))


def test_max_pool2d_nan_and_all_inf_windows_pick_like_torch():
    # torch's scan: a window's last NaN wins; an all -inf window's first real element wins
    import math
    import torch
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
