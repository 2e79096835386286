"""Inputs and settings shared by record_detection.py (torchvision) and test_detection.py."""
import numpy as np

ROI_ALIGN = {
    "fixed": dict(output_size=(3, 4), spatial_scale=1.0, sampling_ratio=2, aligned=False),
    "adaptive": dict(output_size=2, spatial_scale=0.5, sampling_ratio=-1, aligned=False),
    "aligned": dict(output_size=(3, 3), spatial_scale=1.0, sampling_ratio=-1, aligned=True),
    # boxes reaching past the map: the samples outside [-1, H] x [-1, W] count as zero
    "outside": dict(output_size=(2, 3), spatial_scale=2.0, sampling_ratio=2, aligned=False),
}

# every anchor and proposal is sampled (batch sizes above their counts), so the losses do not
# depend on the random permutations of the samplers
_SMALL = dict(weights=None, weights_backbone=None, num_classes=3, min_size=128, max_size=160,
              rpn_pre_nms_top_n_train=60, rpn_post_nms_top_n_train=30,
              rpn_pre_nms_top_n_test=60, rpn_post_nms_top_n_test=30,
              rpn_batch_size_per_image=100000, box_batch_size_per_image=100000,
              box_positive_fraction=0.5, box_score_thresh=0.0, box_detections_per_img=8)
MODELS = {"fasterrcnn_mobilenet_v3_large_fpn": _SMALL, "fasterrcnn_resnet50_fpn": _SMALL,
          "maskrcnn_resnet50_fpn": _SMALL,
          "retinanet_resnet50_fpn": dict(weights=None, weights_backbone=None, num_classes=3,
                                         min_size=128, max_size=160, score_thresh=0.0,
                                         topk_candidates=40, detections_per_img=8)}
# what is compared: the state-dict keys, then eval detections, then the training losses
# (fasterrcnn_resnet50_fpn's ResNet-50-FPN path runs in maskrcnn_resnet50_fpn)
MODES = {"fasterrcnn_mobilenet_v3_large_fpn": "train", "fasterrcnn_resnet50_fpn": "keys",
         "maskrcnn_resnet50_fpn": "train", "retinanet_resnet50_fpn": "train"}
MASK_STEP = 4  # eval masks are stored at every 4th pixel


def damp(state_dict):
    """Scale the random box-delta and class-score weights by 0.1: with _model_weights' scale the
    decoded boxes swing by hundreds of pixels and float32 rounding moves them by tenths of a
    pixel (torch's own float32 losses were 5e-4 off its float64 ones); and ResNet's last batch
    norm of each residual branch by 0.2 and MobileNet's batch norms by 0.8 (else eval
    activations reach 1e4-1e5 and no proposal survives)."""
    for key in ("rpn.head.bbox_pred.weight", "roi_heads.box_predictor.cls_score.weight",
                "roi_heads.box_predictor.bbox_pred.weight",
                "roi_heads.mask_predictor.mask_fcn_logits.weight",
                "head.regression_head.bbox_reg.weight",
                "head.classification_head.cls_logits.weight"):
        if key in state_dict:
            state_dict[key].mul_(0.1)
    mobile = not any(key.endswith("bn3.weight") for key in state_dict)
    for key, value in state_dict.items():  # activations stay O(1) in eval mode
        if key.endswith(("bn3.weight", "bn3.bias")):  # ResNet's residual branches
            value.mul_(0.2)
        elif mobile and key.endswith(".weight") and key[:-6] + "running_var" in state_dict:
            value.mul_(0.8)


def roi_inputs():
    rs = np.random.RandomState(11)
    x = rs.standard_normal((2, 3, 9, 11)).astype(np.float32)
    k = 6
    x1 = rs.uniform(0, 6, k)
    y1 = rs.uniform(0, 4, k)
    rois = np.stack([np.arange(k) % 2, x1, y1, x1 + rs.uniform(0.5, 4.5, k),
                     y1 + rs.uniform(0.5, 4.5, k)], 1).astype(np.float32)
    w = rs.standard_normal(k * 3 * 16).astype(np.float32)
    return x, rois, w


def pooler_inputs():
    rs = np.random.RandomState(12)
    feats = {"0": rs.standard_normal((2, 4, 16, 20)), "1": rs.standard_normal((2, 4, 8, 10)),
             "2": rs.standard_normal((2, 4, 4, 5))}
    feats = {k: v.astype(np.float32) for k, v in feats.items()}
    boxes = []
    for n in (5, 3):
        xy = rs.uniform(0, 60, (n, 2))
        wh = rs.uniform(4, 70, (n, 2))
        b = np.concatenate([xy, np.minimum(xy + wh, [159, 127])], 1)
        boxes.append(b.astype(np.float32))
    return feats, boxes, [(128, 160), (120, 150)]


def model_inputs():
    rs = np.random.RandomState(13)
    images = [rs.uniform(0, 1, (3, 128, 160)).astype(np.float32) for _ in range(2)]
    targets = [
        {"boxes": np.array([[10, 20, 60, 90], [80, 30, 150, 110]], np.float32),
         "labels": np.array([1, 2], np.int64)},
        {"boxes": np.array([[30, 40, 100, 100]], np.float32), "labels": np.array([2], np.int64)},
    ]
    for t in targets:  # an ellipse inside each box (Mask R-CNN's targets)
        yy, xx = np.mgrid[:128, :160] + 0.5
        masks = []
        for x1, y1, x2, y2 in t["boxes"]:
            cx, cy, rx, ry = (x1 + x2) / 2, (y1 + y2) / 2, (x2 - x1) / 2, (y2 - y1) / 2
            masks.append(((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1)
        t["masks"] = np.array(masks, np.uint8)
    return images, targets
