"""Edge cases of detection's RoI heads and RetinaNet against torchvision (fixtures/
detection_edges.npz, recorded by ``record_detection.py edges`` with the tiny modules and inputs
of _detection_cases.py): an image without objects in training, score thresholds no detection
passes, masks pasted across the image borders, the keypoint helpers, every RetinaNet box loss
and the pre-Conv2dNormActivation RetinaNet head keys."""
import os
import sys

import numpy as np
import pytest

import cadenza as torch
from cadenza.vision import ops
from cadenza.vision.models import detection
from cadenza.vision.models.detection import roi_heads as rh

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import _detection_cases as cases  # noqa: E402
import _model_weights as mw  # noqa: E402

REF = np.load(os.path.join(HERE, "fixtures", "detection_edges.npz"))


def _close(got, key, **tol):
    want = REF[key]
    got = got.detach().numpy()
    assert got.shape == want.shape and got.dtype == want.dtype, key
    np.testing.assert_allclose(got, want, err_msg=key, **tol)


def _roi_heads(score_thresh):
    heads = cases.tiny_roi_heads(detection, ops, score_thresh)
    mw.fill(heads.state_dict(), torch.from_numpy)
    feats, proposals = cases.edge_features_and_proposals()
    feats = {k: torch.from_numpy(v).requires_grad_() for k, v in feats.items()}
    return heads, feats, [torch.from_numpy(p) for p in proposals]


def test_roi_heads_train_with_an_image_without_objects():
    heads, feats, props = _roi_heads(0.0)
    targets = [{k: torch.from_numpy(v) for k, v in t.items()} for t in cases.edge_targets()]
    heads.train()
    dets, losses = heads(feats, props, cases.EDGE_SIZES, targets)
    assert dets == [] and sorted(losses) == ["loss_box_reg", "loss_classifier", "loss_mask"]
    for k, v in losses.items():
        _close(v, f"roi/train/{k}", rtol=1e-5, atol=1e-6)
    sum(losses.values()).backward()
    _close(feats["0"].grad, "roi/train/grad", rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name,thresh", [("low", 0.0), ("high", 0.9)])
def test_roi_heads_eval_and_pasted_masks(name, thresh):
    """"high": every score is below the threshold, so empty detections and masks."""
    heads, feats, props = _roi_heads(thresh)
    heads.eval()
    with torch.no_grad():
        dets, losses = heads(feats, props, cases.EDGE_SIZES)
    assert losses == {}
    for i, d in enumerate(dets):
        assert sorted(d) == ["boxes", "labels", "masks", "scores"]
        for k, v in d.items():
            v = v[..., ::cases.MASK_STEP, ::cases.MASK_STEP] if k == "masks" else v
            _close(v, f"roi/{name}/{i}/{k}", rtol=1e-4, atol=1e-5)
        pasted = rh.paste_masks_in_image(d["masks"], d["boxes"], cases.EDGE_SIZES[i])
        _close(pasted, f"roi/{name}/{i}/pasted", atol=1e-5)


@pytest.mark.parametrize("padding", [1, 2])
def test_paste_masks_across_borders(padding):
    masks, boxes, shape = cases.paste_inputs()
    got = rh.paste_masks_in_image(torch.from_numpy(masks), torch.from_numpy(boxes), shape,
                                  padding=padding)
    _close(got, f"paste/{padding}", atol=1e-6)
    # one mask alone, on an integer box, is the same as row 1 of the batch (padding 0)
    one = rh.paste_mask_in_image(torch.from_numpy(masks[1, 0]), torch.tensor([12, 9, 30, 25]),
                                 *shape)
    np.testing.assert_allclose(
        one.numpy(), rh.paste_masks_in_image(torch.from_numpy(masks[1:2]),
                                             torch.from_numpy(boxes[1:2]), shape, 0)[0, 0]
        .numpy())


def test_keypoint_helpers():
    maps, rois, kps = cases.keypoint_inputs()
    heat, valid = rh.keypoints_to_heatmap(torch.from_numpy(kps), torch.from_numpy(rois), 6)
    _close(heat, "kp/heatmap")
    _close(valid, "kp/valid")
    xy, scores = rh.heatmaps_to_keypoints(torch.from_numpy(maps), torch.from_numpy(rois))
    _close(xy, "kp/xy", rtol=1e-6, atol=1e-5)
    _close(scores, "kp/scores", rtol=1e-5, atol=1e-5)
    mt = torch.from_numpy(maps).requires_grad_()
    loss = rh.keypointrcnn_loss(mt, [torch.from_numpy(rois)], [torch.from_numpy(kps)],
                                [torch.tensor([0, 1, 2])])
    loss.backward()
    _close(loss, "kp/loss", rtol=1e-6)
    _close(mt.grad, "kp/grad", atol=1e-7)
    with pytest.raises(ValueError, match="square"):
        rh.keypointrcnn_loss(mt[..., :5], [torch.from_numpy(rois)], [torch.from_numpy(kps)],
                             [torch.tensor([0, 1, 2])])


def _retinanet(name, thresh):
    """The tiny RetinaNet, its inputs, after checking its eval detections against the fixture."""
    model = cases.tiny_retinanet(detection, torch.nn, thresh)
    mw.fill(model.state_dict(), torch.from_numpy)
    cases.damp(model.state_dict())
    images, targets = cases.retinanet_edge_inputs()
    images = [torch.from_numpy(im) for im in images]
    model.eval()
    with torch.no_grad():
        dets = model(images)
    for i, d in enumerate(dets):
        assert sorted(d) == ["boxes", "labels", "scores"]
        for k, v in d.items():
            _close(v, f"retina/{name}/{i}/{k}", rtol=1e-4, atol=1e-4)
    return model, images, [{k: torch.from_numpy(v) for k, v in t.items()} for t in targets]


def test_retinanet_eval_and_all_box_losses():
    model, images, targets = _retinanet("low", 0.0)
    model.train()  # image 1 has no objects: all its anchors are background
    for kind in ("l1", "smooth_l1", "giou", "diou", "ciou"):
        model.head.regression_head._loss_type = kind
        for k, v in model(images, targets).items():
            _close(v, f"retina/train/{kind}/{k}", rtol=1e-5, atol=1e-6)
    model.head.regression_head._loss_type = "l2"
    with pytest.raises(ValueError, match="unknown box loss 'l2'"):
        model(images, targets)
    targets[0]["labels"] = torch.tensor([2, 3])
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\)"):
        model(images, targets)


def test_retinanet_below_threshold_and_old_head_keys():
    model, _, _ = _retinanet("high", 0.9)  # no score passes: empty detections
    # checkpoints from before the heads' Conv2dNormActivation blocks: conv.{2i}.* (Conv2d and
    # ReLU alternating) load into conv.{i}.0.* (checked against torchvision's loader)
    head = model.head.classification_head
    sd = head.state_dict()
    old = {}
    for k, v in sd.items():
        parts = k.split(".")
        old[f"conv.{2 * int(parts[1])}.{parts[3]}" if parts[0] == "conv" else k] = v * 2
    fresh = detection.retinanet.RetinaNetClassificationHead(8, 6, 3)
    fresh.load_state_dict(old)
    for k, v in fresh.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), sd[k].numpy() * 2)
