"""SSD / SSDlite (ssd300_vgg16, ssdlite320_mobilenet_v3_large and the SSD class on a tiny
backbone) and Keypoint R-CNN (keypointrcnn_resnet50_fpn's keys; the KeypointRCNN class on a
tiny backbone) against torchvision: state-dict keys, eval detections and train-mode losses with
the same weights (fixtures/detection_more.npz, recorded by record_detection_more.py with the
settings of _detection_more.py)."""
import os
import sys

import numpy as np
import pytest

import cadenza as torch
from cadenza.vision import ops
from cadenza.vision.models import detection

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import _model_weights as mw  # noqa: E402
import _detection_more as cases  # noqa: E402

REF = np.load(os.path.join(HERE, "fixtures", "detection_more.npz"))


def _check(model, images, targets, prefix, tol=1e-4):
    model.eval()
    with torch.no_grad():
        dets = model([torch.from_numpy(im) for im in images])
    for i, d in enumerate(dets):
        assert sorted(d) == sorted(k.split("/")[-1] for k in REF.files
                                   if k.startswith(f"{prefix}/eval/{i}/"))
        for k, v in d.items():
            want = REF[f"{prefix}/eval/{i}/{k}"]
            assert v.shape == want.shape, f"image {i} {k}: {v.shape} vs {want.shape}"
            np.testing.assert_allclose(v.numpy(), want, rtol=tol, atol=tol,
                                       err_msg=f"{prefix} image {i} {k}")
    model.train()
    losses = model([torch.from_numpy(im) for im in images],
                   [{k: torch.from_numpy(v) for k, v in t.items()} for t in targets])
    assert sorted(losses) == sorted(k.split("/")[-1] for k in REF.files
                                    if k.startswith(f"{prefix}/train/"))
    for k, v in losses.items():
        np.testing.assert_allclose(v.item(), REF[f"{prefix}/train/{k}"], rtol=tol,
                                   err_msg=f"{prefix} loss {k}")
    return losses


@pytest.mark.parametrize("name", cases.KEY_BUILDERS)
def test_ssd_builder_keys(name):
    with torch.device("meta"):
        model = getattr(detection, name)(weights=None, weights_backbone=None)
    assert cases.keys(model) == list(REF[f"{name}/keys"])


def test_ssdlite320_matches_torchvision():
    name = "ssdlite320_mobilenet_v3_large"
    model = getattr(detection, name)(**cases.RUN[name])
    mw.fill(model.state_dict(), torch.from_numpy)
    cases.damp(model.state_dict())
    images, targets = cases.model_inputs()
    _check(model, images, targets, name)


@pytest.mark.parametrize("tag", sorted(cases.TINY))
def test_tiny_ssd_matches_torchvision(tag):
    model = cases.tiny_ssd(detection, torch.nn, **cases.TINY[tag])
    mw.fill(model.state_dict(), torch.from_numpy)
    images, targets = cases.tiny_inputs()
    losses = _check(model, images, targets, f"tiny/{tag}", tol=1e-5)
    sum(losses.values()).backward()  # both losses reach the heads and the backbone
    assert float(model.backbone.c1.weight.grad.abs().sum()) > 0
    for head in (model.head.classification_head, model.head.regression_head):
        assert all(float(c.weight.grad.abs().sum()) > 0 for c in head.module_list)


def test_ssd_errors_and_settings():
    from cadenza.vision.models.detection import ssd
    anchors = detection.anchor_utils.AnchorGenerator()
    with pytest.raises(TypeError, match="anchor_generator should be of type "
                                        "DefaultBoxGenerator"):
        ssd.SSD(torch.nn.Identity(), anchors, (32, 32), 3, head=torch.nn.Identity())
    with pytest.warns(UserWarning, match="size of the model is already fixed"):
        with torch.device("meta"):
            m = detection.ssdlite320_mobilenet_v3_large(weights=None, weights_backbone=None,
                                                        size=(100, 100), num_classes=3)
    assert m.transform.fixed_size == (320, 320)
    with torch.device("meta"):  # no backbone weights: every VGG layer trains
        m = detection.ssd300_vgg16(weights=None, pretrained_backbone=False, num_classes=3)
    assert all(p.requires_grad for p in m.parameters())
    assert m.head.classification_head.module_list[0].out_channels == 4 * 3
    model = cases.tiny_ssd(detection, torch.nn)
    model.train()
    with pytest.raises(AssertionError, match="targets should not be none"):
        model([torch.rand(3, 32, 40)])


def test_keypoint_rcnn_matches_torchvision():
    model = cases.tiny_keypoint_rcnn(detection, torch.nn, ops)
    mw.fill(model.state_dict(), torch.from_numpy)
    images, targets = cases.keypoint_inputs()
    losses = _check(model, images, targets, "keypoint", tol=1e-5)
    assert "loss_keypoint" in losses
    losses["loss_keypoint"].backward()
    assert float(model.roi_heads.keypoint_predictor.kps_score_lowres.weight.grad.abs().sum()) > 0


def test_keypoint_rcnn_arguments():
    from cadenza.vision.models.detection import keypoint_rcnn as kr
    with torch.device("meta"):
        m = detection.keypointrcnn_resnet50_fpn(weights=None, weights_backbone=None,
                                                num_keypoints=5, num_classes=3)
    assert m.transform.min_size == (640, 672, 704, 736, 768, 800)
    assert m.roi_heads.keypoint_predictor.kps_score_lowres.out_channels == 5
    assert m.roi_heads.box_predictor.cls_score.out_features == 3
    with pytest.raises(ValueError, match="num_keypoints should be None"):
        cases.tiny_keypoint_rcnn(detection, torch.nn, ops, num_keypoints=5)
    with pytest.raises(TypeError, match="keypoint_roi_pool should be a MultiScaleRoIAlign"):
        cases.tiny_keypoint_rcnn(detection, torch.nn, ops, keypoint_roi_pool=torch.nn.Identity())
    with pytest.raises(ValueError, match="'num_keypoints' expected value 17 but got 5"):
        detection.keypointrcnn_resnet50_fpn(weights="DEFAULT", num_keypoints=5)
    w = kr.KeypointRCNN_ResNet50_FPN_Weights
    assert w.DEFAULT is w.COCO_V1 and len(w.COCO_V1.meta["keypoint_names"]) == 17


@pytest.mark.parametrize("name", sorted(cases.FREEZING))
def test_ssd_backbone_freezing(name, monkeypatch):
    from cadenza.vision import models
    from cadenza.vision.models import _api
    monkeypatch.setattr(_api.WeightsEnum, "get_state_dict", _api.WeightsEnum.get_state_dict)
    with torch.device("meta"):
        cases.fake_backbone_weights(_api, models)
        for count in cases.FREEZING[name]:
            model = getattr(detection, name)(num_classes=3, trainable_backbone_layers=count)
            assert cases.frozen(model) == list(REF[f"{name}/frozen/{count}"]), count
