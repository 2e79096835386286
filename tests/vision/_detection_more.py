"""Settings and inputs shared by record_detection_more.py (torchvision) and
test_detection_more.py (Cadenza) for SSD, SSDlite and Keypoint R-CNN: ``det`` / ``nn`` / ``ops``
are whichever framework's detection package, nn and ops modules."""
from collections import OrderedDict

import numpy as np

# the builders whose state-dict keys (and shapes) are compared (built on the meta device)
KEY_BUILDERS = ["ssd300_vgg16", "ssdlite320_mobilenet_v3_large", "keypointrcnn_resnet50_fpn"]
# trainable_backbone_layers settings whose frozen parameter names are compared (with stand-in
# backbone weights: see fake_backbone_weights)
FREEZING = {"ssd300_vgg16": (0, 2), "ssdlite320_mobilenet_v3_large": (0, 3)}
# the full models run in eval and train mode (fewer candidates keep the fixture small)
RUN = {"ssdlite320_mobilenet_v3_large": dict(weights=None, weights_backbone=None,
                                             num_classes=4, topk_candidates=30,
                                             detections_per_img=12)}


def damp(state_dict):
    """Small box deltas (decoded boxes would otherwise swing by hundreds of pixels) and batch
    norms scaled by 0.8 (activations stay O(1))."""
    for key, value in state_dict.items():
        if key.startswith("head.regression_head") and key.endswith("weight") and \
                value.dim() == 4 and value.shape[2] == 1:
            value.mul_(0.1)
        elif key.endswith(".weight") and key[:-6] + "running_var" in state_dict:
            value.mul_(0.8)


def model_inputs():
    rs = np.random.RandomState(31)
    images = [rs.uniform(0, 1, (3, 60, 80)).astype(np.float32),
              rs.uniform(0, 1, (3, 72, 56)).astype(np.float32)]
    targets = [{"boxes": np.array([[5, 8, 40, 50], [30, 10, 78, 40]], np.float32),
                "labels": np.array([1, 3], np.int64)},
               {"boxes": np.array([[10, 20, 30, 60]], np.float32),
                "labels": np.array([2], np.int64)}]
    return images, targets


def tiny_ssd(det, nn, **kw):
    """SSD on a two-map, two-conv backbone (strides 4 and 8) at 32 x 40: 4 and 6 default
    boxes per location, 3 classes."""

    class Backbone(nn.Module):
        def __init__(self):
            super().__init__()
            self.c1 = nn.Conv2d(3, 8, 3, stride=4, padding=1)
            self.c2 = nn.Conv2d(8, 6, 3, stride=2, padding=1)

        def forward(self, x):
            a = self.c1(x).relu()
            return OrderedDict([("0", a), ("1", self.c2(a).relu())])

    from importlib import import_module
    anchors = import_module(det.__name__ + ".anchor_utils").DefaultBoxGenerator(
        [[2], [2, 3]], min_ratio=0.3, max_ratio=0.8)
    ssd = import_module(det.__name__ + ".ssd")
    head = ssd.SSDHead([8, 6], [4, 6], 3)
    return ssd.SSD(Backbone(), anchors, (32, 40), 3, head=head, **kw)


def tiny_inputs():
    """Image 1 has no objects (all its boxes are negatives; no positive, so no hard
    negatives either)."""
    rs = np.random.RandomState(32)
    images = [rs.uniform(0, 1, (3, 32, 40)).astype(np.float32),
              rs.uniform(0, 1, (3, 28, 36)).astype(np.float32),
              rs.uniform(0, 1, (3, 32, 40)).astype(np.float32)]
    targets = [{"boxes": np.array([[3, 4, 20, 30], [15, 2, 39, 17]], np.float32),
                "labels": np.array([2, 1], np.int64)},
               {"boxes": np.zeros((0, 4), np.float32), "labels": np.zeros(0, np.int64)},
               {"boxes": np.array([[1, 1, 2.5, 3]], np.float32),  # matches no box by IoU
                "labels": np.array([1], np.int64)}]
    return images, targets


TINY = {"default": dict(), "strict": dict(score_thresh=0.3, topk_candidates=5,
                                          detections_per_img=4, nms_thresh=0.3),
        "positive_half": dict(positive_fraction=0.5, iou_thresh=0.3),
        # 99 negatives per positive: more than there are, so every negative counts (and the
        # positives, ranked last, are counted again: torchvision's behaviour)
        "saturated": dict(positive_fraction=0.01, iou_thresh=0.05)}


def keys(model):
    return [f"{k}:{tuple(v.shape)}" for k, v in model.state_dict().items()]


def tiny_keypoint_rcnn(det, nn, ops, **kw):
    """Keypoint R-CNN on one stride-4 map (8 channels) at 32 x 40, 3 classes, 5 keypoints, a
    two-conv keypoint head; every anchor and proposal is sampled (the losses do not depend on
    the samplers' random draws)."""

    class Backbone(nn.Module):
        def __init__(self):
            super().__init__()
            self.c1 = nn.Conv2d(3, 8, 3, stride=4, padding=1)
            self.out_channels = 8

        def forward(self, x):
            return OrderedDict([("0", self.c1(x).relu())])

    from importlib import import_module
    anchors = import_module(det.__name__ + ".anchor_utils").AnchorGenerator(
        ((8, 16),), ((0.5, 1.0, 2.0),))
    kp = import_module(det.__name__ + ".keypoint_rcnn")
    settings = dict(num_classes=3, min_size=32, max_size=40, rpn_anchor_generator=anchors,
                    box_roi_pool=ops.MultiScaleRoIAlign(["0"], 7, 2),
                    keypoint_roi_pool=ops.MultiScaleRoIAlign(["0"], 14, 2),
                    keypoint_head=kp.KeypointRCNNHeads(8, (8, 8)),
                    keypoint_predictor=kp.KeypointRCNNPredictor(8, 5),
                    rpn_batch_size_per_image=100000, box_batch_size_per_image=100000,
                    rpn_pre_nms_top_n_train=40, rpn_post_nms_top_n_train=20,
                    rpn_pre_nms_top_n_test=40, rpn_post_nms_top_n_test=20,
                    box_score_thresh=0.0, box_detections_per_img=6)
    return kp.KeypointRCNN(Backbone(), **{**settings, **kw})


def keypoint_inputs():
    """Two images; keypoints with visibility 0 (unlabelled) and some outside their box."""
    rs = np.random.RandomState(33)
    images = [rs.uniform(0, 1, (3, 32, 40)).astype(np.float32) for _ in range(2)]
    targets = []
    for boxes, labels in (([[3, 4, 20, 30], [15, 2, 39, 17]], [2, 1]), ([[5, 5, 30, 28]], [1])):
        boxes = np.array(boxes, np.float32)
        kps = np.zeros((len(boxes), 5, 3), np.float32)
        for i, (x1, y1, x2, y2) in enumerate(boxes):
            kps[i, :, 0] = rs.uniform(x1 - 2, x2, 5)
            kps[i, :, 1] = rs.uniform(y1, y2 + 2, 5)
            kps[i, :, 2] = (rs.uniform(0, 1, 5) > 0.25) * 2
        targets.append({"boxes": boxes, "labels": np.array(labels, np.int64),
                        "keypoints": kps})
    return images, targets


def fake_backbone_weights(api, models):
    """Make every WeightsEnum.get_state_dict return a meta-device VGG-16 / MobileNetV3-Large
    state dict (``api``: the models._api module, ``models``: the models package), so builders
    take their pretrained-backbone paths (layer freezing) without any download. The caller
    restores the method."""
    import importlib
    vgg = importlib.import_module(models.__name__ + ".vgg").vgg16().state_dict()
    mv3 = importlib.import_module(models.__name__ + ".mobilenetv3")
    mobile = mv3.mobilenet_v3_large().state_dict()
    api.WeightsEnum.get_state_dict = \
        lambda self, *a, **k: mobile if "mobilenet" in self.url else vgg


def frozen(model):
    return [n for n, p in model.named_parameters() if not p.requires_grad]
