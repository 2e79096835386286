"""torchvision.models.detection.keypoint_rcnn: Keypoint R-CNN (He et al., "Mask R-CNN", 2017,
section 5: human pose estimation).

Faster R-CNN plus a keypoint branch run on the detected boxes: features pooled to 14x14, eight
3x3 convs of 512 channels with ReLU (KeypointRCNNHeads), a stride-2 4x4 transposed conv to one
28x28 logit map per keypoint and a 2x bilinear upsampling to 56x56 (KeypointRCNNPredictor).
Training takes, per keypoint, a cross entropy over the heatmap's cells (a one-hot target at the
keypoint's cell); inference puts each keypoint at its map's maximum. Module names and
state-dict keys are torchvision's."""
from cadenza import nn
from cadenza.nn import functional as F

from ...ops import MultiScaleRoIAlign
from ..resnet import ResNet50_Weights
from .._api import Weights, WeightsEnum, overwrite_value
from .faster_rcnn import _POOLED_LEVELS, FasterRCNN, _load, _resnet50_fpn, _resolve
from ._utils import overwrite_eps

__all__ = ["KeypointRCNN", "KeypointRCNN_ResNet50_FPN_Weights", "keypointrcnn_resnet50_fpn"]

_COCO_PERSON_CATEGORIES = ["no person", "person"]
_COCO_PERSON_KEYPOINT_NAMES = [
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip",
    "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
]
_HEAD_WIDTH = 512  # channels of the keypoint head's convs (the paper's)
_HEAD_DEPTH = 8


class KeypointRCNN(FasterRCNN):
    """Keypoint R-CNN: FasterRCNN's arguments plus keypoint_roi_pool / keypoint_head /
    keypoint_predictor / num_keypoints; eval detections carry "keypoints" [N, K, 3] (x, y,
    visibility 1) and "keypoints_scores" [N, K], training adds "loss_keypoint"; targets need
    "keypoints" [N, K, 3] (float; visibility 0 = not labelled). ``min_size`` defaults to
    640-800 in steps of 32 (multi-scale training)."""

    def __init__(self, backbone, num_classes=None, min_size=None, max_size=1333,
                 image_mean=None, image_std=None, rpn_anchor_generator=None, rpn_head=None,
                 rpn_pre_nms_top_n_train=2000, rpn_pre_nms_top_n_test=1000,
                 rpn_post_nms_top_n_train=2000, rpn_post_nms_top_n_test=1000,
                 rpn_nms_thresh=0.7, rpn_fg_iou_thresh=0.7, rpn_bg_iou_thresh=0.3,
                 rpn_batch_size_per_image=256, rpn_positive_fraction=0.5, rpn_score_thresh=0.0,
                 box_roi_pool=None, box_head=None, box_predictor=None, box_score_thresh=0.05,
                 box_nms_thresh=0.5, box_detections_per_img=100, box_fg_iou_thresh=0.5,
                 box_bg_iou_thresh=0.5, box_batch_size_per_image=512,
                 box_positive_fraction=0.25, bbox_reg_weights=None, keypoint_roi_pool=None,
                 keypoint_head=None, keypoint_predictor=None, num_keypoints=None, **kwargs):
        if keypoint_roi_pool is not None and not isinstance(keypoint_roi_pool,
                                                            MultiScaleRoIAlign):
            raise TypeError("KeypointRCNN: keypoint_roi_pool should be a MultiScaleRoIAlign "
                            f"or None, got {type(keypoint_roi_pool)}")
        if min_size is None:
            min_size = (640, 672, 704, 736, 768, 800)
        if num_keypoints is not None and keypoint_predictor is not None:
            raise ValueError("KeypointRCNN: num_keypoints should be None when "
                             "keypoint_predictor is specified")
        if num_keypoints is None:
            num_keypoints = 17
        if keypoint_roi_pool is None:
            keypoint_roi_pool = MultiScaleRoIAlign(featmap_names=_POOLED_LEVELS, output_size=14,
                                                   sampling_ratio=2)
        if keypoint_head is None:
            keypoint_head = KeypointRCNNHeads(backbone.out_channels,
                                              (_HEAD_WIDTH,) * _HEAD_DEPTH)
        if keypoint_predictor is None:
            keypoint_predictor = KeypointRCNNPredictor(_HEAD_WIDTH, num_keypoints)
        super().__init__(
            backbone, num_classes, min_size, max_size, image_mean, image_std,
            rpn_anchor_generator, rpn_head, rpn_pre_nms_top_n_train, rpn_pre_nms_top_n_test,
            rpn_post_nms_top_n_train, rpn_post_nms_top_n_test, rpn_nms_thresh,
            rpn_fg_iou_thresh, rpn_bg_iou_thresh, rpn_batch_size_per_image,
            rpn_positive_fraction, rpn_score_thresh, box_roi_pool, box_head, box_predictor,
            box_score_thresh, box_nms_thresh, box_detections_per_img, box_fg_iou_thresh,
            box_bg_iou_thresh, box_batch_size_per_image, box_positive_fraction,
            bbox_reg_weights, **kwargs)
        # RoIHeads runs its keypoint branch once these are set ("roi_heads.keypoint_*" keys)
        self.roi_heads.keypoint_roi_pool = keypoint_roi_pool
        self.roi_heads.keypoint_head = keypoint_head
        self.roi_heads.keypoint_predictor = keypoint_predictor


class KeypointRCNNHeads(nn.Sequential):
    """3x3 conv (padding 1) + ReLU per entry of ``layers``: state-dict keys 0, 2, 4, ...
    (He-normal fan-out weights, zero biases)."""

    def __init__(self, in_channels, layers):
        modules = []
        for width in layers:
            modules += [nn.Conv2d(in_channels, width, 3, stride=1, padding=1),
                        nn.ReLU(inplace=True)]
            in_channels = width
        super().__init__(*modules)
        for layer in self.modules():
            if isinstance(layer, nn.Conv2d):
                nn.init.kaiming_normal_(layer.weight, mode="fan_out", nonlinearity="relu")
                nn.init.constant_(layer.bias, 0)


class KeypointRCNNPredictor(nn.Module):
    """``kps_score_lowres``: 4x4 transposed conv of stride 2 (one map per keypoint, doubling
    the size), then a 2x bilinear upsampling (align_corners=False)."""

    def __init__(self, in_channels, num_keypoints):
        super().__init__()
        self.kps_score_lowres = nn.ConvTranspose2d(in_channels, num_keypoints, 4, stride=2,
                                                   padding=1)
        nn.init.kaiming_normal_(self.kps_score_lowres.weight, mode="fan_out",
                                nonlinearity="relu")
        nn.init.constant_(self.kps_score_lowres.bias, 0)
        self.up_scale = 2
        self.out_channels = num_keypoints

    def forward(self, x):
        x = self.kps_score_lowres(x)
        return F.interpolate(x, scale_factor=float(self.up_scale), mode="bilinear",
                             align_corners=False, recompute_scale_factor=False)


_URL = "https://download.pytorch.org/models/"


def _keypoint_entry(file):
    return Weights(_URL + file, {"categories": _COCO_PERSON_CATEGORIES,
                                 "keypoint_names": _COCO_PERSON_KEYPOINT_NAMES,
                                 "min_size": (1, 1), "num_params": 59137258})


_COCO_V1 = _keypoint_entry("keypointrcnn_resnet50_fpn_coco-fc266e95.pth")
KeypointRCNN_ResNet50_FPN_Weights = WeightsEnum(
    "KeypointRCNN_ResNet50_FPN_Weights",
    {"COCO_LEGACY": _keypoint_entry("keypointrcnn_resnet50_fpn_coco-9f466800.pth"),
     "COCO_V1": _COCO_V1, "DEFAULT": _COCO_V1}, module=__name__)


def keypointrcnn_resnet50_fpn(*, weights=None, progress=True, num_classes=None,
                              num_keypoints=None,
                              weights_backbone=ResNet50_Weights.IMAGENET1K_V1,
                              trainable_backbone_layers=None, **kwargs):
    """Keypoint R-CNN with a ResNet-50-FPN backbone: 2 classes (background, person) and the 17
    COCO person keypoints unless told otherwise (the weights fix both)."""
    if kwargs.pop("pretrained", False):  # the legacy flag meant the legacy checkpoint
        weights = KeypointRCNN_ResNet50_FPN_Weights.COCO_LEGACY
    given_classes = num_classes
    weights, weights_backbone, num_classes = _resolve(
        KeypointRCNN_ResNet50_FPN_Weights, weights, ResNet50_Weights, weights_backbone,
        num_classes, kwargs)
    if weights is not None:
        num_keypoints = overwrite_value("num_keypoints", num_keypoints,
                                        len(weights.meta["keypoint_names"]))
    else:
        num_classes = 2 if given_classes is None else num_classes
        num_keypoints = 17 if num_keypoints is None else num_keypoints
    backbone = _resnet50_fpn(weights, weights_backbone, trainable_backbone_layers, True)
    model = _load(KeypointRCNN(backbone, num_classes, num_keypoints=num_keypoints, **kwargs),
                  weights)
    if weights is not None:  # the COCO checkpoints were trained with FrozenBatchNorm eps 0
        overwrite_eps(model, 0.0)
    return model
