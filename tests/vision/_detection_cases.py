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


# --- edge cases of the RoI heads and RetinaNet on tiny modules (test_detection_heads.py) ------
# image 1 has no objects; "high" score thresholds leave no detection at all
EDGE_SIZES = [(40, 48), (36, 44)]


def edge_features_and_proposals():
    rs = np.random.RandomState(21)
    feats = {"0": rs.standard_normal((2, 4, 10, 12)).astype(np.float32)}
    proposals = []
    for h, w in EDGE_SIZES:
        xy = rs.uniform(-4, [w - 6, h - 6], (10, 2))
        wh = rs.uniform(3, 30, (10, 2))
        b = np.concatenate([xy, xy + wh], 1)
        b[:, 0::2] = b[:, 0::2].clip(0, w)  # RPN proposals lie inside the image, some on its
        b[:, 1::2] = b[:, 1::2].clip(0, h)  # borders
        proposals.append(b.astype(np.float32))
    return feats, proposals


def edge_targets(h=40, w=48):
    yy, xx = np.mgrid[:h, :w] + 0.5
    boxes = np.array([[2, 3, 30, 25], [20, 10, 47, 39]], np.float32)
    masks = np.array([((xx - (x1 + x2) / 2) / ((x2 - x1) / 2)) ** 2
                      + ((yy - (y1 + y2) / 2) / ((y2 - y1) / 2)) ** 2 <= 1
                      for x1, y1, x2, y2 in boxes], np.uint8)
    empty_h, empty_w = EDGE_SIZES[1]
    return [{"boxes": boxes, "labels": np.array([1, 2], np.int64), "masks": masks},
            {"boxes": np.zeros((0, 4), np.float32), "labels": np.zeros(0, np.int64),
             "masks": np.zeros((0, empty_h, empty_w), np.uint8)}]


def tiny_roi_heads(det, ops, score_thresh):
    """RoIHeads with a small box head and mask branch (every proposal sampled)."""
    from importlib import import_module
    frcnn = import_module(det.__name__ + ".faster_rcnn")
    mrcnn = import_module(det.__name__ + ".mask_rcnn")
    roi = import_module(det.__name__ + ".roi_heads")
    return roi.RoIHeads(
        ops.MultiScaleRoIAlign(["0"], 7, 2), frcnn.TwoMLPHead(4 * 7 * 7, 16),
        frcnn.FastRCNNPredictor(16, 3), 0.5, 0.5, 100000, 0.25, None, score_thresh, 0.5, 4,
        ops.MultiScaleRoIAlign(["0"], 14, 2), mrcnn.MaskRCNNHeads(4, (8, 8), 1),
        mrcnn.MaskRCNNPredictor(8, 8, 3))


def tiny_retinanet(det, nn, score_thresh):
    """RetinaNet on a two-level, two-conv backbone (strides 4 and 8) and 32 x 40 images."""
    from collections import OrderedDict

    class Backbone(nn.Module):
        def __init__(self):
            super().__init__()
            self.c1 = nn.Conv2d(3, 8, 3, stride=4, padding=1)
            self.c2 = nn.Conv2d(8, 8, 3, stride=2, padding=1)
            self.out_channels = 8

        def forward(self, x):
            a = self.c1(x).relu()
            return OrderedDict([("0", a), ("1", self.c2(a).relu())])

    from importlib import import_module
    anchors = import_module(det.__name__ + ".anchor_utils").AnchorGenerator(
        ((8, 12), (16, 24)), ((0.5, 1.0, 2.0),) * 2)
    return det.RetinaNet(Backbone(), 3, min_size=32, max_size=40, anchor_generator=anchors,
                         score_thresh=score_thresh, topk_candidates=20, detections_per_img=6)


def retinanet_edge_inputs():
    rs = np.random.RandomState(22)
    images = [rs.uniform(0, 1, (3, 32, 40)).astype(np.float32) for _ in range(2)]
    targets = [{"boxes": np.array([[3, 4, 20, 30], [15, 2, 39, 17]], np.float32),
                "labels": np.array([2, 1], np.int64)},
               {"boxes": np.zeros((0, 4), np.float32), "labels": np.zeros(0, np.int64)}]
    return images, targets


def paste_inputs():
    """Mask probabilities and boxes reaching past every border, tiny, negative and inverted."""
    rs = np.random.RandomState(23)
    masks = rs.uniform(0, 1, (7, 1, 6, 6)).astype(np.float32)
    boxes = np.array([[-5, -3, 10, 8], [12, 9, 30, 25], [3, 4, 3.4, 4.2], [-9, -9, -2, -1],
                      [14, 6, 9, 12], [0, 0, 24, 20], [-2.7, 5.5, 26.3, 14.9]], np.float32)
    return masks, boxes, (20, 24)


def keypoint_inputs():
    """Heatmap logits, RoIs (one thinner than a pixel) and keypoints on, in and off the RoIs."""
    rs = np.random.RandomState(24)
    rois = np.array([[2, 3, 20, 15], [5.5, 1, 6.2, 9], [0, 0, 31, 27]], np.float32)
    maps = rs.standard_normal((3, 4, 6, 6)).astype(np.float32)
    x = rs.uniform(0, 32, (3, 4))
    y = rs.uniform(0, 28, (3, 4))
    x[0, 0], y[0, 0] = 20, 15  # exactly on the right / bottom edge
    vis = (rs.uniform(0, 1, (3, 4)) > 0.2).astype(np.float32)
    keypoints = np.stack([x, y, vis], -1).astype(np.float32)
    return maps, rois, keypoints
