"""cadenza.vision.ops vs small loop-by-loop NumPy references of torchvision's CPU kernels
(torchvision's C ops do not run on the CPU build of torch used as the oracle)."""
import math
import os
import sys

import numpy as np
import pytest

import cadenza as torch
from cadenza.vision import ops

cadenza = torch
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _cases  # noqa: E402


def ref_iou(a, b):
    out = np.zeros((len(a), len(b)))
    for i, p in enumerate(a):
        for j, q in enumerate(b):
            w = max(0.0, min(p[2], q[2]) - max(p[0], q[0]))
            h = max(0.0, min(p[3], q[3]) - max(p[1], q[1]))
            inter = w * h
            union = (p[2] - p[0]) * (p[3] - p[1]) + (q[2] - q[0]) * (q[3] - q[1]) - inter
            out[i, j] = inter / union
    return out


def ref_nms(boxes, scores, thr):
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    keep = []
    for i in order:
        if all(ref_iou(boxes[i:i + 1], boxes[k:k + 1])[0, 0] <= thr for k in keep):
            keep.append(i)
    return keep


def ref_bilinear(img, y, x):
    H, W = img.shape
    if y < -1.0 or y > H or x < -1.0 or x > W:
        return 0.0
    y, x = max(y, 0.0), max(x, 0.0)
    yl, xl = int(y), int(x)
    if yl >= H - 1:
        yh = yl = H - 1
        y = float(yl)
    else:
        yh = yl + 1
    if xl >= W - 1:
        xh = xl = W - 1
        x = float(xl)
    else:
        xh = xl + 1
    ly, lx = y - yl, x - xl
    return ((1 - ly) * (1 - lx) * img[yl, xl] + (1 - ly) * lx * img[yl, xh]
            + ly * (1 - lx) * img[yh, xl] + ly * lx * img[yh, xh])


def ref_roi_align(x, rois, ph, pw, scale, sampling, aligned):
    out = np.zeros((len(rois), x.shape[1], ph, pw))
    off = 0.5 if aligned else 0.0
    for k, (b, x1, y1, x2, y2) in enumerate(rois):
        sw, sh = x1 * scale - off, y1 * scale - off
        rw, rh = x2 * scale - off - sw, y2 * scale - off - sh
        if not aligned:
            rw, rh = max(rw, 1.0), max(rh, 1.0)
        gh = sampling if sampling > 0 else math.ceil(rh / ph)
        gw = sampling if sampling > 0 else math.ceil(rw / pw)
        for c in range(x.shape[1]):
            for i in range(ph):
                for j in range(pw):
                    acc = 0.0
                    for iy in range(gh):
                        yy = sh + i * rh / ph + (iy + 0.5) * rh / ph / gh
                        for ix in range(gw):
                            xx = sw + j * rw / pw + (ix + 0.5) * rw / pw / gw
                            acc += ref_bilinear(x[int(b), c], yy, xx)
                    out[k, c, i, j] = acc / max(gh * gw, 1)
    return out


def _random_boxes(rs, n, size=20.0):
    xy = rs.uniform(0, size, (n, 2))
    wh = rs.uniform(1, size / 2, (n, 2))
    return np.concatenate([xy, xy + wh], 1).astype(np.float32)


def test_box_iou_and_area():
    rs = np.random.RandomState(0)
    a, b = _random_boxes(rs, 7), _random_boxes(rs, 5)
    np.testing.assert_allclose(ops.box_iou(torch.from_numpy(a), torch.from_numpy(b)).numpy(),
                               ref_iou(a, b), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ops.box_area(torch.from_numpy(a)).numpy(),
                               (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]), rtol=1e-6)
    with pytest.raises(ValueError, match=r"\[N, 4\]"):
        ops.box_iou(torch.zeros(3, 5), torch.zeros(2, 4))


@pytest.mark.parametrize("thr", [0.0, 0.3, 0.5, 0.9])
def test_nms(thr):
    rs = np.random.RandomState(1)
    boxes = _random_boxes(rs, 40)
    scores = rs.permutation(40).astype(np.float32) / 40
    keep = ops.nms(torch.from_numpy(boxes), torch.from_numpy(scores), thr)
    assert keep.dtype == torch.int64
    assert keep.tolist() == ref_nms(boxes, scores, thr)


def test_batched_nms_keeps_categories_apart():
    boxes = torch.tensor([[0.0, 0, 10, 10], [1, 1, 10, 10], [0, 0, 10, 10], [50, 50, 60, 60]])
    scores = torch.tensor([0.9, 0.8, 0.7, 0.6])
    idxs = torch.tensor([0, 0, 1, 1])
    assert ops.batched_nms(boxes, scores, idxs, 0.5).tolist() == [0, 2, 3]
    assert ops.nms(boxes, scores, 0.5).tolist() == [0, 3]
    assert ops.nms(torch.zeros(0, 4), torch.zeros(0), 0.5).tolist() == []


@pytest.mark.parametrize("aligned", [False, True])
@pytest.mark.parametrize("sampling,scale,size", [(-1, 1.0, (3, 3)), (2, 0.5, (2, 4)),
                                                 (1, 0.25, (4, 4))])
def test_roi_align(aligned, sampling, scale, size):
    rs = np.random.RandomState(2)
    x = rs.standard_normal((2, 3, 9, 11)).astype(np.float32)
    boxes = _random_boxes(rs, 6, size=30.0) * np.float32(1.0 / scale) * np.float32(0.3)
    boxes[0] = [-3, -2, 4, 5]  # partly outside
    boxes[1] = [2, 2, 2.5, 2.2]  # tiny
    batch = np.array([0, 1, 1, 0, 1, 0], np.float32)[:, None]
    rois = np.concatenate([batch, boxes], 1)
    got = ops.roi_align(torch.from_numpy(x), torch.from_numpy(rois), size, scale, sampling,
                        aligned)
    ref = ref_roi_align(x.astype(np.float64), rois.astype(np.float64), size[0], size[1], scale,
                        sampling, aligned)
    np.testing.assert_allclose(got.numpy(), ref, rtol=1e-5, atol=1e-5)
    as_list = [torch.from_numpy(boxes[batch[:, 0] == i]) for i in range(2)]
    order = np.argsort(batch[:, 0], kind="stable")
    got_list = ops.RoIAlign(size, scale, sampling, aligned)(torch.from_numpy(x), as_list)
    np.testing.assert_allclose(got_list.numpy(), ref[order], rtol=1e-5, atol=1e-5)


BOXES = np.load(os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures",
                             "boxes.npz"))


@pytest.mark.parametrize("name,fn,keys,kw", _cases.BOX_CASES, ids=[c[0] for c in _cases.BOX_CASES])
def test_box_functions_match_torchvision(name, fn, keys, kw):
    val, grads = _cases.run_box_case(ops, cadenza, fn, keys, kw)
    np.testing.assert_allclose(val, BOXES[name], rtol=1e-10, atol=1e-12)
    for i, g in enumerate(grads):
        np.testing.assert_allclose(g, BOXES[f"{name}/grad{i}"], rtol=1e-9, atol=1e-12)


def test_small_boxes_and_masks_to_boxes():
    b = cadenza.tensor([[0.0, 0, 1, 5], [0, 0, 3, 3], [1, 1, 1.5, 4]])
    assert ops.remove_small_boxes(b, 2.0).tolist() == [1]
    m = cadenza.zeros(2, 6, 7)
    m[0, 1:4, 2:6] = 1
    m[1, 5, 0] = 1
    assert ops.masks_to_boxes(m).tolist() == [[2.0, 1.0, 5.0, 3.0], [0.0, 5.0, 0.0, 5.0]]
    with pytest.raises(ValueError, match="Unsupported"):
        ops.box_convert(b, "xyxy", "abcd")


def test_model_building_blocks():
    mlp = ops.MLP(4, [8, 3], norm_layer=cadenza.nn.LayerNorm, dropout=0.1)
    # torchvision's layer order and state-dict keys
    assert [type(m).__name__ for m in mlp] == ["Linear", "LayerNorm", "ReLU", "Dropout",
                                               "Linear", "Dropout"]
    assert sorted(mlp.state_dict()) == ["0.bias", "0.weight", "1.bias", "1.weight", "4.bias",
                                        "4.weight"]
    c = ops.Conv2dNormActivation(3, 5, 3, stride=2)
    assert c[0].padding == (1, 1) and c[0].bias is None and c.out_channels == 5
    assert tuple(c(cadenza.randn(2, 3, 8, 8)).shape) == (2, 5, 4, 4)
    assert ops.Conv2dNormActivation(3, 5, 5, norm_layer=None)[0].bias is not None
    se = ops.SqueezeExcitation(4, 2)
    x = cadenza.randn(2, 4, 5, 5)
    scale = cadenza.sigmoid(se.fc2(cadenza.relu(se.fc1(x.mean((2, 3), keepdim=True)))))
    np.testing.assert_allclose(se(x).detach().numpy(), (x * scale).detach().numpy(), atol=1e-6)
    fb = ops.FrozenBatchNorm2d(3)
    fb.running_mean.fill_(0.5)
    fb.running_var.fill_(4.0)
    np.testing.assert_allclose(fb(cadenza.ones(1, 3, 2, 2)).numpy(),
                               np.full((1, 3, 2, 2), 0.5 / np.sqrt(4.0 + 1e-5)), rtol=1e-6)
    assert fb.state_dict().keys() == {"weight", "bias", "running_mean", "running_var"}
    assert tuple(ops.Permute([0, 2, 1])(cadenza.ones(2, 3, 4)).shape) == (2, 4, 3)


def test_stochastic_depth():
    cadenza.manual_seed(0)
    x = cadenza.ones(2000, 3)
    y = ops.stochastic_depth(x, 0.25, "row")
    rows = y[:, 0]
    np.testing.assert_allclose(np.unique(rows.numpy()), [0.0, 1 / 0.75], rtol=1e-6)
    assert abs(float((rows == 0).float().mean()) - 0.25) < 0.04
    assert bool((y == y[:, :1]).all())                       # whole rows
    assert ops.stochastic_depth(x, 0.5, "batch", training=False) is x
    b = ops.stochastic_depth(x, 0.5, "batch")
    assert len(np.unique(b.numpy())) == 1
    with pytest.raises(ValueError, match="mode"):
        ops.stochastic_depth(x, 0.5, "col")
    assert repr(ops.StochasticDepth(0.2, "row")) == "StochasticDepth(p=0.2, mode=row)"
