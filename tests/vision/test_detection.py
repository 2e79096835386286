"""torchvision.ops roi_align / roi_pool (forward and gradients), MultiScaleRoIAlign, and the
Faster R-CNN models against torchvision (fixtures/detection.npz, recorded by
record_detection.py with the inputs and settings of _detection_cases.py)."""
import os
import sys

import numpy as np
import pytest

import cadenza as torch
from cadenza.vision import ops
from cadenza.vision.models import detection

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import _detection_cases as cases  # noqa: E402
import _model_weights as mw  # noqa: E402

REF = np.load(os.path.join(HERE, "fixtures", "detection.npz"))


@pytest.mark.parametrize("name", sorted(cases.ROI_ALIGN))
def test_roi_align_forward_and_grad(name):
    x, rois, w = cases.roi_inputs()
    xt = torch.from_numpy(x).requires_grad_()
    y = ops.roi_align(xt, torch.from_numpy(rois), **cases.ROI_ALIGN[name])
    (y * torch.from_numpy(w[: y.numel()].reshape(y.shape))).sum().backward()
    np.testing.assert_allclose(y.detach().numpy(), REF[f"roi_align/{name}/out"], atol=1e-5)
    np.testing.assert_allclose(xt.grad.numpy(), REF[f"roi_align/{name}/grad"], atol=1e-5)


def test_multiscale_roi_align():
    feats, boxes, sizes = cases.pooler_inputs()
    m = ops.MultiScaleRoIAlign(["0", "1", "2"], 3, 2)
    got = m({k: torch.from_numpy(v) for k, v in feats.items()},
            [torch.from_numpy(b) for b in boxes], sizes)
    np.testing.assert_allclose(got.numpy(), REF["pooler"], atol=1e-5)


@pytest.mark.parametrize("name", sorted(cases.MODELS))
def test_faster_rcnn_matches_torchvision(name):
    model = getattr(detection, name)(**cases.MODELS[name])
    keys = [f"{k}:{tuple(v.shape)}" for k, v in model.state_dict().items()]
    assert keys == list(REF[f"{name}/keys"])
    if cases.MODES[name] == "keys":
        return
    mw.fill(model.state_dict(), torch.from_numpy)
    cases.damp(model.state_dict())
    images, targets = cases.model_inputs()
    model.eval()
    with torch.no_grad():
        dets = model([torch.from_numpy(im) for im in images])
    for i, d in enumerate(dets):
        assert sorted(d) == sorted(k.split("/")[-1] for k in REF.files
                                   if k.startswith(f"{name}/eval/{i}/"))
        for k, v in d.items():
            v = v[..., ::cases.MASK_STEP, ::cases.MASK_STEP] if k == "masks" else v
            np.testing.assert_allclose(v.numpy(), REF[f"{name}/eval/{i}/{k}"], rtol=1e-4,
                                       atol=1e-4, err_msg=f"image {i} {k}")
    if cases.MODES[name] != "train":
        return
    model.train()
    losses = model([torch.from_numpy(im) for im in images],
                   [{k: torch.from_numpy(v) for k, v in t.items()} for t in targets])
    assert sorted(losses) == sorted(k.split("/")[-1] for k in REF.files
                                    if k.startswith(f"{name}/train/"))
    for k, v in losses.items():
        np.testing.assert_allclose(v.detach().numpy(), REF[f"{name}/train/{k}"], rtol=2e-4,
                                   atol=1e-5, err_msg=k)
    if name == "fasterrcnn_mobilenet_v3_large_fpn":  # one backward pass through a detector
        sum(losses.values()).backward()
        grads = [p.grad for p in model.parameters() if p.requires_grad]
        assert all(g is not None and np.isfinite(g.numpy()).all() for g in grads)


def test_roi_align_sparse_backward_matches(monkeypatch):
    """Large maps scatter the gradient sample by sample instead of through a dense matrix."""
    from cadenza.vision import _roi
    monkeypatch.setattr(_roi, "_DENSE_LIMIT", 0)
    test_roi_align_forward_and_grad("adaptive")
    test_roi_align_forward_and_grad("outside")


def _ref_roi_pool(x, rois, ph, pw, scale):
    """torchvision's CPU roi_pool kernel, loop by loop."""
    out = np.zeros((len(rois), x.shape[1], ph, pw), x.dtype)
    H, W = x.shape[-2:]
    for k, (b, *box) in enumerate(rois):
        x1, y1, x2, y2 = [int(np.sign(v) * np.floor(abs(v) + 0.5)) for v in np.array(box) * scale]
        bh, bw = max(y2 - y1 + 1, 1) / ph, max(x2 - x1 + 1, 1) / pw
        for i in range(ph):
            for j in range(pw):
                hs = min(max(int(np.floor(i * bh)) + y1, 0), H)
                he = min(max(int(np.ceil((i + 1) * bh)) + y1, 0), H)
                ws = min(max(int(np.floor(j * bw)) + x1, 0), W)
                we = min(max(int(np.ceil((j + 1) * bw)) + x1, 0), W)
                if he > hs and we > ws:
                    out[k, :, i, j] = x[int(b), :, hs:he, ws:we].max(axis=(1, 2))
    return out


def test_roi_pool_forward_and_grad():
    x, rois, w = cases.roi_inputs()
    x = x.astype(np.float64)
    rois = rois.astype(np.float64)
    rois[0, 3:] += 6  # past the border
    xt = torch.from_numpy(x).requires_grad_()
    y = ops.roi_pool(xt, torch.from_numpy(rois), (2, 3), 0.9)
    np.testing.assert_allclose(y.detach().numpy(), _ref_roi_pool(x, rois, 2, 3, 0.9))
    wt = w[: y.numel()].reshape(y.shape).astype(np.float64)
    (y * torch.from_numpy(wt)).sum().backward()
    eps = 1e-6
    picked = np.flatnonzero(xt.grad.numpy().ravel())[::2]  # half the pixels that get gradient
    picked = np.concatenate([picked, np.arange(0, x.size, 7)])  # and a sweep of the others
    fd = np.zeros(len(picked))
    for n, i in enumerate(picked):  # the output is piecewise linear: central differences
        d = np.zeros(x.size)
        d[i] = eps
        up = (_ref_roi_pool(x + d.reshape(x.shape), rois, 2, 3, 0.9) * wt).sum()
        down = (_ref_roi_pool(x - d.reshape(x.shape), rois, 2, 3, 0.9) * wt).sum()
        fd[n] = (up - down) / (2 * eps)
    np.testing.assert_allclose(xt.grad.numpy().ravel()[picked], fd, atol=1e-6)
    assert repr(ops.RoIPool((2, 3), 0.9)) == "RoIPool(output_size=(2, 3), spatial_scale=0.9)"


def test_roi_align_rejects_bad_input():
    x = torch.zeros(1, 2, 4, 4)
    with pytest.raises(ValueError, match="roi_align"):
        ops.roi_align(x, torch.zeros(3, 4), 2)
    with pytest.raises(IndexError, match="batch index"):
        ops.roi_align(x, torch.tensor([[1.0, 0, 0, 2, 2]]), 2)
    assert ops.roi_align(x, [torch.zeros(0, 4)], 2).shape == (0, 2, 2, 2)


def test_builders_refuse_missing_pretrained_weights(tmp_path, monkeypatch):
    from cadenza.vision.models import _api
    monkeypatch.setattr(_api, "WEIGHTS_DIR", str(tmp_path))
    with pytest.raises(RuntimeError, match="no local weight file"):
        detection.fasterrcnn_mobilenet_v3_large_fpn(weights="DEFAULT")
    with pytest.raises(RuntimeError, match="no local weight file"):
        detection.fasterrcnn_mobilenet_v3_large_fpn(weights=None)  # ImageNet backbone default
    with pytest.raises(ValueError, match="num_classes"):
        detection.fasterrcnn_resnet50_fpn(weights="DEFAULT", num_classes=5)
    assert detection.FasterRCNN_ResNet50_FPN_Weights.DEFAULT.meta["categories"][1] == "person"
    from cadenza.vision import models
    assert models.list_models(detection) == sorted(
        n for n in detection.__all__ if n[0].islower())
    assert models.get_model_weights("maskrcnn_resnet50_fpn") is \
        detection.MaskRCNN_ResNet50_FPN_Weights


def test_ops_submodules_as_torchvision():
    """The tutorials import from torchvision.ops.boxes / .misc / .feature_pyramid_network."""
    from cadenza.vision.ops import boxes, feature_pyramid_network, misc, poolers
    assert boxes.masks_to_boxes is ops.masks_to_boxes and boxes.nms is ops.nms
    assert misc.FrozenBatchNorm2d is ops.FrozenBatchNorm2d
    assert feature_pyramid_network.LastLevelMaxPool is ops.LastLevelMaxPool
    assert poolers.MultiScaleRoIAlign is ops.MultiScaleRoIAlign
    fpn = ops.FeaturePyramidNetwork([4, 8], 6, extra_blocks=ops.LastLevelMaxPool())
    out = fpn({"a": torch.zeros(1, 4, 8, 8), "b": torch.zeros(1, 8, 4, 4)})
    assert [(k, tuple(v.shape)) for k, v in out.items()] == [
        ("a", (1, 6, 8, 8)), ("b", (1, 6, 4, 4)), ("pool", (1, 6, 2, 2))]
