# Much of this file follows torchvision's source of the same name closely (BSD 3-Clause,
# Copyright (c) Soumith Chintala 2016; LICENSE.torchvision beside it). Owed: a rewrite as
# Cadenza's own code (STATUS.md, Known gaps).
"""torchvision.models.detection.faster_rcnn: FasterRCNN (GeneralizedRCNN with an RPN and RoIHeads
on a backbone with FPN), its TwoMLPHead / FastRCNNConvFCHead box heads, FastRCNNPredictor, and
the fasterrcnn_* builders (torchvision's module names and state-dict keys; pretrained weights
only from local safetensors files, see models._api)."""
from cadenza import nn
from cadenza.nn import functional as F

from ... import ops as misc_nn_ops
from ...ops import MultiScaleRoIAlign
from .._api import Weights, WeightsEnum, overwrite_value
from ..mobilenetv3 import MobileNet_V3_Large_Weights, mobilenet_v3_large
from ..resnet import ResNet50_Weights, resnet50
from ._meta import _COCO_CATEGORIES
from ._utils import _assert, overwrite_eps
from .anchor_utils import AnchorGenerator
from .backbone_utils import _mobilenet_extractor, _resnet_fpn_extractor, _validate_trainable_layers
from .generalized_rcnn import GeneralizedRCNN
from .roi_heads import RoIHeads
from .rpn import RegionProposalNetwork, RPNHead
from .transform import GeneralizedRCNNTransform

__all__ = ["FasterRCNN", "FasterRCNN_ResNet50_FPN_Weights", "FasterRCNN_ResNet50_FPN_V2_Weights",
           "FasterRCNN_MobileNet_V3_Large_FPN_Weights",
           "FasterRCNN_MobileNet_V3_Large_320_FPN_Weights", "fasterrcnn_resnet50_fpn",
           "fasterrcnn_resnet50_fpn_v2", "fasterrcnn_mobilenet_v3_large_fpn",
           "fasterrcnn_mobilenet_v3_large_320_fpn"]


def _default_anchorgen():
    anchor_sizes = ((32,), (64,), (128,), (256,), (512,))
    aspect_ratios = ((0.5, 1.0, 2.0),) * len(anchor_sizes)
    return AnchorGenerator(anchor_sizes, aspect_ratios)


class FasterRCNN(GeneralizedRCNN):
    """Faster R-CNN: ``model(images, targets)`` gives the loss dict in training mode,
    ``model(images)`` a list of {"boxes", "labels", "scores"} in eval mode."""

    def __init__(self, backbone, num_classes=None, min_size=800, max_size=1333, image_mean=None,
                 image_std=None, rpn_anchor_generator=None, rpn_head=None,
                 rpn_pre_nms_top_n_train=2000, rpn_pre_nms_top_n_test=1000,
                 rpn_post_nms_top_n_train=2000, rpn_post_nms_top_n_test=1000, rpn_nms_thresh=0.7,
                 rpn_fg_iou_thresh=0.7, rpn_bg_iou_thresh=0.3, rpn_batch_size_per_image=256,
                 rpn_positive_fraction=0.5, rpn_score_thresh=0.0, box_roi_pool=None,
                 box_head=None, box_predictor=None, box_score_thresh=0.05, box_nms_thresh=0.5,
                 box_detections_per_img=100, box_fg_iou_thresh=0.5, box_bg_iou_thresh=0.5,
                 box_batch_size_per_image=512, box_positive_fraction=0.25, bbox_reg_weights=None,
                 **kwargs):
        if not hasattr(backbone, "out_channels"):
            raise ValueError("backbone should contain an attribute out_channels specifying the "
                             "number of output channels (assumed to be the same for all the "
                             "levels)")
        if not isinstance(rpn_anchor_generator, (AnchorGenerator, type(None))):
            raise TypeError(f"rpn_anchor_generator should be of type AnchorGenerator or None "
                            f"instead of {type(rpn_anchor_generator)}")
        if not isinstance(box_roi_pool, (MultiScaleRoIAlign, type(None))):
            raise TypeError(f"box_roi_pool should be of type MultiScaleRoIAlign or None instead "
                            f"of {type(box_roi_pool)}")
        if num_classes is not None:
            if box_predictor is not None:
                raise ValueError("num_classes should be None when box_predictor is specified")
        elif box_predictor is None:
            raise ValueError("num_classes should not be None when box_predictor is not "
                             "specified")
        out_channels = backbone.out_channels
        if rpn_anchor_generator is None:
            rpn_anchor_generator = _default_anchorgen()
        if rpn_head is None:
            rpn_head = RPNHead(out_channels, rpn_anchor_generator.num_anchors_per_location()[0])
        rpn = RegionProposalNetwork(
            rpn_anchor_generator, rpn_head, rpn_fg_iou_thresh, rpn_bg_iou_thresh,
            rpn_batch_size_per_image, rpn_positive_fraction,
            dict(training=rpn_pre_nms_top_n_train, testing=rpn_pre_nms_top_n_test),
            dict(training=rpn_post_nms_top_n_train, testing=rpn_post_nms_top_n_test),
            rpn_nms_thresh, score_thresh=rpn_score_thresh)
        if box_roi_pool is None:
            box_roi_pool = MultiScaleRoIAlign(featmap_names=["0", "1", "2", "3"], output_size=7,
                                              sampling_ratio=2)
        if box_head is None:
            resolution = box_roi_pool.output_size[0]
            box_head = TwoMLPHead(out_channels * resolution ** 2, 1024)
        if box_predictor is None:
            box_predictor = FastRCNNPredictor(1024, num_classes)
        roi_heads = RoIHeads(box_roi_pool, box_head, box_predictor, box_fg_iou_thresh,
                             box_bg_iou_thresh, box_batch_size_per_image, box_positive_fraction,
                             bbox_reg_weights, box_score_thresh, box_nms_thresh,
                             box_detections_per_img)
        if image_mean is None:
            image_mean = [0.485, 0.456, 0.406]
        if image_std is None:
            image_std = [0.229, 0.224, 0.225]
        transform = GeneralizedRCNNTransform(min_size, max_size, image_mean, image_std, **kwargs)
        super().__init__(backbone, rpn, roi_heads, transform)


class TwoMLPHead(nn.Module):
    """Two fully connected layers (fc6, fc7) with ReLU on the flattened pooled features."""

    def __init__(self, in_channels, representation_size):
        super().__init__()
        self.fc6 = nn.Linear(in_channels, representation_size)
        self.fc7 = nn.Linear(representation_size, representation_size)

    def forward(self, x):
        x = x.flatten(start_dim=1)
        return F.relu(self.fc7(F.relu(self.fc6(x))))


class FastRCNNConvFCHead(nn.Sequential):
    """Convs (Conv2dNormActivation), then Flatten and Linear + ReLU layers (the v2 box head)."""

    def __init__(self, input_size, conv_layers, fc_layers, norm_layer=None):
        in_channels, in_height, in_width = input_size
        blocks = []
        previous = in_channels
        for current in conv_layers:
            blocks.append(misc_nn_ops.Conv2dNormActivation(previous, current,
                                                           norm_layer=norm_layer))
            previous = current
        blocks.append(nn.Flatten())
        previous = previous * in_height * in_width
        for current in fc_layers:
            blocks.append(nn.Linear(previous, current))
            blocks.append(nn.ReLU(inplace=True))
            previous = current
        super().__init__(*blocks)
        for layer in self.modules():
            if isinstance(layer, nn.Conv2d):
                nn.init.kaiming_normal_(layer.weight, mode="fan_out", nonlinearity="relu")
                if layer.bias is not None:
                    nn.init.zeros_(layer.bias)


class FastRCNNPredictor(nn.Module):
    """Class scores (cls_score) and per-class box deltas (bbox_pred) from the box features."""

    def __init__(self, in_channels, num_classes):
        super().__init__()
        self.cls_score = nn.Linear(in_channels, num_classes)
        self.bbox_pred = nn.Linear(in_channels, num_classes * 4)

    def forward(self, x):
        if x.dim() == 4:
            _assert(list(x.shape[2:]) == [1, 1], f"x has the wrong shape, expecting the last two "
                    f"dimensions to be [1,1] instead of {list(x.shape[2:])}")
        x = x.flatten(start_dim=1)
        return self.cls_score(x), self.bbox_pred(x)


def _coco_weights(name, file, num_params):
    meta = {"categories": _COCO_CATEGORIES, "min_size": (1, 1), "num_params": num_params,
            "num_classes": None}
    entry = Weights(f"https://download.pytorch.org/models/{file}", meta)
    return WeightsEnum(name, {"COCO_V1": entry, "DEFAULT": entry}, module=__name__)


FasterRCNN_ResNet50_FPN_Weights = _coco_weights(
    "FasterRCNN_ResNet50_FPN_Weights", "fasterrcnn_resnet50_fpn_coco-258fb6c6.pth", 41755286)
FasterRCNN_ResNet50_FPN_V2_Weights = _coco_weights(
    "FasterRCNN_ResNet50_FPN_V2_Weights", "fasterrcnn_resnet50_fpn_v2_coco-dd69338a.pth",
    43712278)
FasterRCNN_MobileNet_V3_Large_FPN_Weights = _coco_weights(
    "FasterRCNN_MobileNet_V3_Large_FPN_Weights", "fasterrcnn_mobilenet_v3_large_fpn-fb6a3cc7.pth",
    19386354)
FasterRCNN_MobileNet_V3_Large_320_FPN_Weights = _coco_weights(
    "FasterRCNN_MobileNet_V3_Large_320_FPN_Weights",
    "fasterrcnn_mobilenet_v3_large_320_fpn-907ea3f9.pth", 19386354)


def _resolve(weights_cls, weights, backbone_cls, weights_backbone, num_classes, kwargs):
    """torchvision's builder preamble: ``pretrained=`` / ``pretrained_backbone=`` aliases,
    verified enums, num_classes fixed by the weights' categories (91 by default)."""
    if kwargs.pop("pretrained", False):
        weights = weights_cls.COCO_V1
    if "pretrained_backbone" in kwargs:
        weights_backbone = (backbone_cls.IMAGENET1K_V1 if kwargs.pop("pretrained_backbone")
                            else None)
    weights = weights_cls.verify(weights)
    weights_backbone = backbone_cls.verify(weights_backbone)
    if weights is not None:
        weights_backbone = None
        num_classes = overwrite_value("num_classes", num_classes,
                                      len(weights.meta["categories"]))
    elif num_classes is None:
        num_classes = 91
    kwargs.pop("progress", None)
    return weights, weights_backbone, num_classes


def _resnet50_fpn(weights, weights_backbone, trainable_backbone_layers, frozen_bn, **extractor):
    """The ResNet-50-FPN backbone of the detection builders: all layers trainable without
    weights, else the last ``trainable_backbone_layers`` (3); with ``frozen_bn`` (the v1 models)
    FrozenBatchNorm2d when any weights are loaded."""
    is_trained = weights is not None or weights_backbone is not None
    trainable = _validate_trainable_layers(is_trained, trainable_backbone_layers, 5, 3)
    norm_layer = (misc_nn_ops.FrozenBatchNorm2d if frozen_bn and is_trained
                  else nn.BatchNorm2d)
    backbone = resnet50(weights=weights_backbone, norm_layer=norm_layer)
    return _resnet_fpn_extractor(backbone, trainable, **extractor)


def _load(model, weights):
    if weights is not None:
        model.load_state_dict(weights.get_state_dict(), strict=True)
    return model


def fasterrcnn_resnet50_fpn(*, weights=None, progress=True, num_classes=None,
                            weights_backbone=ResNet50_Weights.IMAGENET1K_V1,
                            trainable_backbone_layers=None, **kwargs):
    """Faster R-CNN with a ResNet-50-FPN backbone (frozen batch norm when any weights are
    used)."""
    weights, weights_backbone, num_classes = _resolve(
        FasterRCNN_ResNet50_FPN_Weights, weights, ResNet50_Weights, weights_backbone,
        num_classes, kwargs)
    backbone = _resnet50_fpn(weights, weights_backbone, trainable_backbone_layers, True)
    model = _load(FasterRCNN(backbone, num_classes=num_classes, **kwargs), weights)
    if weights is not None:
        overwrite_eps(model, 0.0)
    return model


def fasterrcnn_resnet50_fpn_v2(*, weights=None, progress=True, num_classes=None,
                               weights_backbone=None, trainable_backbone_layers=None, **kwargs):
    """Faster R-CNN v2: ResNet-50-FPN with batch norm, a 2-conv RPN head and a conv+fc box
    head."""
    weights, weights_backbone, num_classes = _resolve(
        FasterRCNN_ResNet50_FPN_V2_Weights, weights, ResNet50_Weights, weights_backbone,
        num_classes, kwargs)
    backbone = _resnet50_fpn(weights, weights_backbone, trainable_backbone_layers, False,
                             norm_layer=nn.BatchNorm2d)
    anchor_gen = _default_anchorgen()
    rpn_head = RPNHead(backbone.out_channels, anchor_gen.num_anchors_per_location()[0],
                       conv_depth=2)
    box_head = FastRCNNConvFCHead((backbone.out_channels, 7, 7), [256, 256, 256, 256], [1024],
                                  norm_layer=nn.BatchNorm2d)
    model = FasterRCNN(backbone, num_classes=num_classes, rpn_anchor_generator=anchor_gen,
                       rpn_head=rpn_head, box_head=box_head, **kwargs)
    return _load(model, weights)


def _fasterrcnn_mobilenet_v3_large_fpn(weights_cls, weights, num_classes, weights_backbone,
                                       trainable_backbone_layers, kwargs):
    weights, weights_backbone, num_classes = _resolve(
        weights_cls, weights, MobileNet_V3_Large_Weights, weights_backbone, num_classes, kwargs)
    is_trained = weights is not None or weights_backbone is not None
    trainable = _validate_trainable_layers(is_trained, trainable_backbone_layers, 6, 3)
    norm_layer = misc_nn_ops.FrozenBatchNorm2d if is_trained else nn.BatchNorm2d
    backbone = mobilenet_v3_large(weights=weights_backbone, norm_layer=norm_layer)
    backbone = _mobilenet_extractor(backbone, True, trainable)
    anchor_sizes = ((32, 64, 128, 256, 512),) * 3
    aspect_ratios = ((0.5, 1.0, 2.0),) * len(anchor_sizes)
    model = FasterRCNN(backbone, num_classes,
                       rpn_anchor_generator=AnchorGenerator(anchor_sizes, aspect_ratios),
                       **kwargs)
    return _load(model, weights)


def fasterrcnn_mobilenet_v3_large_320_fpn(*, weights=None, progress=True, num_classes=None,
                                          weights_backbone=MobileNet_V3_Large_Weights.IMAGENET1K_V1,
                                          trainable_backbone_layers=None, **kwargs):
    """Faster R-CNN on MobileNetV3-Large-FPN for low resolution (min_size 320, 150 proposals)."""
    defaults = {"min_size": 320, "max_size": 640, "rpn_pre_nms_top_n_test": 150,
                "rpn_post_nms_top_n_test": 150, "rpn_score_thresh": 0.05}
    return _fasterrcnn_mobilenet_v3_large_fpn(
        FasterRCNN_MobileNet_V3_Large_320_FPN_Weights, weights, num_classes, weights_backbone,
        trainable_backbone_layers, {**defaults, "progress": progress, **kwargs})


def fasterrcnn_mobilenet_v3_large_fpn(*, weights=None, progress=True, num_classes=None,
                                      weights_backbone=MobileNet_V3_Large_Weights.IMAGENET1K_V1,
                                      trainable_backbone_layers=None, **kwargs):
    """Faster R-CNN on MobileNetV3-Large with FPN (its last two stages)."""
    return _fasterrcnn_mobilenet_v3_large_fpn(
        FasterRCNN_MobileNet_V3_Large_FPN_Weights, weights, num_classes, weights_backbone,
        trainable_backbone_layers, {"rpn_score_thresh": 0.05, "progress": progress, **kwargs})
