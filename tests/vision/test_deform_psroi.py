"""torchvision.ops deform_conv2d / DeformConv2d (DCN, DCNv2 mask) and ps_roi_align /
ps_roi_pool against torchvision's compiled kernels' outputs and gradients (recorded by
record_vision_ops.py into fixtures/vision_ops.npz)."""
import os
import sys

import numpy as np
import pytest

import cadenza as torch
from cadenza.vision import ops

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _ops_cases as cases  # noqa: E402

FIX = np.load(os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures",
                           "vision_ops.npz"))


def _run(fn, arrays, kw, n_grad):
    ts = [None if a is None else torch.tensor(a, requires_grad=i < n_grad)
          for i, a in enumerate(arrays)]
    y = fn(*ts, **kw)
    (y * torch.tensor(cases.out_weights(tuple(y.shape)), dtype=y.dtype)).sum().backward()
    return y.detach().numpy(), [None if t is None else t.grad.numpy() for t in ts[:n_grad]]


@pytest.mark.parametrize("dt", ["float64", "float32"])
@pytest.mark.parametrize("name", list(cases.DEFORM))
def test_deform_conv2d_matches_torchvision(name, dt):
    (x, off, w, b, m), kw = cases.deform_inputs(name, getattr(np, dt))

    def fn(x, off, w, b, m, **kw):
        return ops.deform_conv2d(x, off, w, b, mask=m, **kw)
    y, grads = _run(fn, [x, off, w, b, m], kw, 5)
    tol = dict(rtol=1e-10, atol=1e-10) if dt == "float64" else dict(rtol=1e-4, atol=1e-4)
    assert y.dtype == np.dtype(dt)
    np.testing.assert_allclose(y, FIX[f"deform/{name}/{dt}/out"], **tol)
    for g, n in zip(grads, ("input", "offset", "weight", "bias", "mask")):
        key = f"deform/{name}/{dt}/{n}"
        assert (g is None) == (key not in FIX), key
        if g is not None:
            assert g.dtype == np.dtype(dt), key
            np.testing.assert_allclose(g, FIX[key], err_msg=key, **tol)


def test_deform_conv2d_module():
    torch.manual_seed(0)
    m = ops.DeformConv2d(4, 6, 3, padding=1, groups=2, bias=False)
    assert repr(m) == "DeformConv2d(4, 6, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), " \
                      "groups=2, bias=False)"
    assert list(m.state_dict()) == ["weight"] and m.bias is None
    m2 = ops.DeformConv2d(4, 6, (3, 2), stride=2, dilation=2)
    assert repr(m2) == "DeformConv2d(4, 6, kernel_size=(3, 2), stride=(2, 2), dilation=(2, 2))"
    assert [tuple(v.shape) for v in m2.state_dict().values()] == [(6, 4, 3, 2), (6,)]
    x = torch.randn(1, 4, 5, 5)
    off = torch.zeros(1, 18, 5, 5)
    # zero offsets and no mask: an ordinary convolution
    ref = torch.nn.functional.conv2d(x, m.weight, None, padding=1, groups=2)
    np.testing.assert_allclose(m(x, off).detach().numpy(), ref.detach().numpy(), atol=1e-5)
    mask = torch.full((1, 9, 5, 5), 0.5)
    np.testing.assert_allclose(m(x, off, mask).detach().numpy(), ref.detach().numpy() / 2,
                               atol=1e-5)


def test_deform_conv2d_errors():
    x, w = torch.randn(1, 4, 5, 5), torch.randn(2, 4, 3, 3)
    with pytest.raises(ValueError, match=r"deform_conv2d: offset.shape\[1\] should be"):
        ops.deform_conv2d(x, torch.zeros(1, 17, 3, 3), w)
    with pytest.raises(ValueError, match=r"offset should be \[1, 18, 3, 3\]"):
        ops.deform_conv2d(x, torch.zeros(1, 18, 5, 5), w)
    with pytest.raises(ValueError, match=r"mask should be \[1, 9, 3, 3\]"):
        ops.deform_conv2d(x, torch.zeros(1, 18, 3, 3), w, mask=torch.ones(1, 18, 3, 3))
    with pytest.raises(ValueError, match="multiple of offset_groups=3"):
        ops.deform_conv2d(x, torch.zeros(1, 54, 3, 3), w)
    with pytest.raises(ValueError, match="input should be a 4-d Tensor"):
        ops.deform_conv2d(torch.randn(4, 5, 5), torch.zeros(1, 18, 3, 3), w)


@pytest.mark.parametrize("name", list(cases.PS))
def test_ps_roi_matches_torchvision(name):
    op, kw = cases.PS[name]
    x, rois = cases.ps_inputs()
    y, (g,) = _run(getattr(ops, op), [x, rois], kw, 1)
    np.testing.assert_allclose(y, FIX[f"{name}/out"], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(g, FIX[f"{name}/grad"], rtol=1e-10, atol=1e-12)


def test_ps_roi_modules_and_errors():
    x, rois = cases.ps_inputs()
    xt, rt = torch.tensor(x), torch.tensor(rois)
    m = ops.PSRoIAlign((3, 2), 0.5, 2)
    assert repr(m) == "PSRoIAlign(output_size=(3, 2), spatial_scale=0.5, sampling_ratio=2)"
    np.testing.assert_array_equal(m(xt, rt).numpy(),
                                  ops.ps_roi_align(xt, rt, (3, 2), 0.5, 2).numpy())
    p = ops.PSRoIPool(2, 0.5)
    assert repr(p) == "PSRoIPool(output_size=2, spatial_scale=0.5)"
    xs = torch.tensor(x[:, :8])
    boxes = [rt[rt[:, 0] == i, 1:] for i in range(2)]  # list-of-boxes form
    by_image = torch.tensor(rois[np.argsort(rois[:, 0], kind="stable")])
    np.testing.assert_array_equal(p(xs, boxes).numpy(),
                                  ops.ps_roi_pool(xs, by_image, 2, 0.5).numpy())
    with pytest.raises(ValueError, match=r"ps_roi_align: input channels \(12\) should be a "
                                         r"multiple of output_size\[0\] \* output_size\[1\] = 9"):
        ops.ps_roi_align(xt, rt, 3)
    with pytest.raises(IndexError, match="ps_roi_pool: box 0 has batch index 5"):
        ops.ps_roi_pool(xt, torch.tensor([[5.0, 0, 0, 1, 1]]), (3, 2))
