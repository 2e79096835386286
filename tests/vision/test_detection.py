"""torchvision.ops roi_align / roi_pool (forward and gradients), MultiScaleRoIAlign, and the
Faster R-CNN models against torchvision (fixtures/detection.npz, recorded by
record_detection.py with the inputs and settings of _detection_cases.py)."""
import os
import sys
import time

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


def _model(name):
    model = getattr(detection, name)(**cases.MODELS[name])
    mw.fill(model.state_dict(), torch.from_numpy)
    return model.to(getattr(torch, cases.DTYPES[name]))


@pytest.mark.parametrize("name", sorted(cases.MODELS))
def test_faster_rcnn_matches_torchvision(name):
    model = _model(name)
    keys = [f"{k}:{tuple(v.shape)}" for k, v in model.state_dict().items()]
    assert keys == list(REF[f"{name}/keys"])
    images, targets = cases.model_inputs(cases.DTYPES[name])
    model.eval()
    with torch.no_grad():
        dets = model([torch.from_numpy(im) for im in images])
    for i, d in enumerate(dets):
        assert sorted(d) == ["boxes", "labels", "scores"]
        for k, v in d.items():
            np.testing.assert_allclose(v.numpy(), REF[f"{name}/eval/{i}/{k}"], rtol=1e-4,
                                       atol=1e-4, err_msg=f"image {i} {k}")
    model.train()
    losses = model([torch.from_numpy(im) for im in images],
                   [{k: torch.from_numpy(v) for k, v in t.items()} for t in targets])
    assert sorted(losses) == sorted(k.split("/")[-1] for k in REF.files
                                    if k.startswith(f"{name}/train/"))
    for k, v in losses.items():
        np.testing.assert_allclose(v.detach().numpy(), REF[f"{name}/train/{k}"], rtol=1e-4,
                                   atol=1e-5, err_msg=k)
    sum(losses.values()).backward()
