# Much of this file follows torchvision's source of the same name closely (BSD 3-Clause,
# Copyright (c) Soumith Chintala 2016; LICENSE.torchvision beside it). Owed: a rewrite as
# Cadenza's own code (STATUS.md, Known gaps).
"""torchvision.models.detection.mask_rcnn: MaskRCNN (Faster R-CNN plus a mask branch on 14x14
pooled features: MaskRCNNHeads convs, MaskRCNNPredictor's transposed conv to 28x28 logits per
class) and the maskrcnn_resnet50_fpn builders; torchvision's module names and state-dict keys."""
from collections import OrderedDict

from cadenza import nn

from ... import ops as misc_nn_ops
from ...ops import MultiScaleRoIAlign
from ..resnet import ResNet50_Weights
from ._utils import overwrite_eps
from .faster_rcnn import (FasterRCNN, FastRCNNConvFCHead, RPNHead, _coco_weights,
                          _default_anchorgen, _load, _resnet50_fpn, _resolve)

__all__ = ["MaskRCNN", "MaskRCNN_ResNet50_FPN_Weights", "MaskRCNN_ResNet50_FPN_V2_Weights",
           "maskrcnn_resnet50_fpn", "maskrcnn_resnet50_fpn_v2"]


class MaskRCNN(FasterRCNN):
    """Mask R-CNN: FasterRCNN's arguments plus mask_roi_pool / mask_head / mask_predictor; eval
    detections carry "masks" [N, 1, H, W] (probabilities pasted into the image), training adds
    "loss_mask"; targets need "masks" [N, H, W] (uint8)."""

    def __init__(self, backbone, num_classes=None, mask_roi_pool=None, mask_head=None,
                 mask_predictor=None, **kwargs):
        if not isinstance(mask_roi_pool, (MultiScaleRoIAlign, type(None))):
            raise TypeError(f"mask_roi_pool should be of type MultiScaleRoIAlign or None instead "
                            f"of {type(mask_roi_pool)}")
        if num_classes is not None and mask_predictor is not None:
            raise ValueError("num_classes should be None when mask_predictor is specified")
        out_channels = backbone.out_channels
        if mask_roi_pool is None:
            mask_roi_pool = MultiScaleRoIAlign(featmap_names=["0", "1", "2", "3"], output_size=14,
                                               sampling_ratio=2)
        if mask_head is None:
            mask_head = MaskRCNNHeads(out_channels, (256, 256, 256, 256), 1)
        if mask_predictor is None:
            mask_predictor = MaskRCNNPredictor(256, 256, num_classes)
        super().__init__(backbone, num_classes, **kwargs)
        self.roi_heads.mask_roi_pool = mask_roi_pool
        self.roi_heads.mask_head = mask_head
        self.roi_heads.mask_predictor = mask_predictor


class MaskRCNNHeads(nn.Sequential):
    """3x3 Conv2dNormActivation layers (``layers`` channels, ``dilation``)."""

    _version = 2

    def __init__(self, in_channels, layers, dilation, norm_layer=None):
        blocks = []
        next_feature = in_channels
        for layer_features in layers:
            blocks.append(misc_nn_ops.Conv2dNormActivation(
                next_feature, layer_features, kernel_size=3, stride=1, padding=dilation,
                dilation=dilation, norm_layer=norm_layer))
            next_feature = layer_features
        super().__init__(*blocks)
        for layer in self.modules():
            if isinstance(layer, nn.Conv2d):
                nn.init.kaiming_normal_(layer.weight, mode="fan_out", nonlinearity="relu")
                if layer.bias is not None:
                    nn.init.zeros_(layer.bias)


class MaskRCNNPredictor(nn.Sequential):
    """conv5_mask (2x transposed conv) + ReLU + mask_fcn_logits (1x1 conv to the classes)."""

    def __init__(self, in_channels, dim_reduced, num_classes):
        super().__init__(OrderedDict([
            ("conv5_mask", nn.ConvTranspose2d(in_channels, dim_reduced, 2, 2, 0)),
            ("relu", nn.ReLU(inplace=True)),
            ("mask_fcn_logits", nn.Conv2d(dim_reduced, num_classes, 1, 1, 0)),
        ]))
        for name, param in self.named_parameters():
            if "weight" in name:
                nn.init.kaiming_normal_(param, mode="fan_out", nonlinearity="relu")


MaskRCNN_ResNet50_FPN_Weights = _coco_weights(
    "MaskRCNN_ResNet50_FPN_Weights", "maskrcnn_resnet50_fpn_coco-bf2d0c1e.pth", 44401393)
MaskRCNN_ResNet50_FPN_V2_Weights = _coco_weights(
    "MaskRCNN_ResNet50_FPN_V2_Weights", "maskrcnn_resnet50_fpn_v2_coco-73cbd019.pth", 46359409)


def maskrcnn_resnet50_fpn(*, weights=None, progress=True, num_classes=None,
                          weights_backbone=ResNet50_Weights.IMAGENET1K_V1,
                          trainable_backbone_layers=None, **kwargs):
    """Mask R-CNN with a ResNet-50-FPN backbone."""
    weights, weights_backbone, num_classes = _resolve(
        MaskRCNN_ResNet50_FPN_Weights, weights, ResNet50_Weights, weights_backbone, num_classes,
        kwargs)
    backbone = _resnet50_fpn(weights, weights_backbone, trainable_backbone_layers, True)
    model = _load(MaskRCNN(backbone, num_classes=num_classes, **kwargs), weights)
    if weights is not None:
        overwrite_eps(model, 0.0)
    return model


def maskrcnn_resnet50_fpn_v2(*, weights=None, progress=True, num_classes=None,
                             weights_backbone=None, trainable_backbone_layers=None, **kwargs):
    """Mask R-CNN v2: batch-norm ResNet-50-FPN, 2-conv RPN head, conv+fc box head, batch-norm
    mask head."""
    weights, weights_backbone, num_classes = _resolve(
        MaskRCNN_ResNet50_FPN_V2_Weights, weights, ResNet50_Weights, weights_backbone,
        num_classes, kwargs)
    backbone = _resnet50_fpn(weights, weights_backbone, trainable_backbone_layers, False,
                             norm_layer=nn.BatchNorm2d)
    anchor_gen = _default_anchorgen()
    rpn_head = RPNHead(backbone.out_channels, anchor_gen.num_anchors_per_location()[0],
                       conv_depth=2)
    box_head = FastRCNNConvFCHead((backbone.out_channels, 7, 7), [256, 256, 256, 256], [1024],
                                  norm_layer=nn.BatchNorm2d)
    mask_head = MaskRCNNHeads(backbone.out_channels, [256, 256, 256, 256], 1,
                              norm_layer=nn.BatchNorm2d)
    model = MaskRCNN(backbone, num_classes=num_classes, rpn_anchor_generator=anchor_gen,
                     rpn_head=rpn_head, box_head=box_head, mask_head=mask_head, **kwargs)
    return _load(model, weights)
