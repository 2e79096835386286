"""torchvision.models.detection.ssdlite: SSDlite (Sandler et al., "MobileNetV2", 2018: SSD with
every 3x3 convolution of the extra layers and the heads made depthwise-separable) on a
MobileNetV3-Large backbone (Howard et al., "Searching for MobileNetV3", 2019: the first map is
taken after the expansion layer of the last stride-2 block, the last stage's channels halved).
Module names and state-dict keys are torchvision's."""

from __future__ import annotations

import warnings
from collections import OrderedDict
from functools import partial
from typing import Callable

from cadenza import Tensor, nn

from ...ops import Conv2dNormActivation
from ..mobilenetv3 import MobileNet_V3_Large_Weights, mobilenet_v3_large
from . import _utils as det_utils
from .anchor_utils import DefaultBoxGenerator
from .backbone_utils import _validate_trainable_layers
from .faster_rcnn import _coco_weights, _load, _resolve
from .ssd import SSD, SSDScoringHead

__all__ = ["SSDLite320_MobileNet_V3_Large_Weights", "ssdlite320_mobilenet_v3_large"]


def _normal_init(conv: nn.Module) -> None:
    for layer in conv.modules():
        if isinstance(layer, nn.Conv2d):
            nn.init.normal_(layer.weight, mean=0.0, std=0.03)
            if layer.bias is not None:
                nn.init.constant_(layer.bias, 0.0)


def _prediction_block(in_channels: int, out_channels: int, kernel_size: int,
                      norm_layer: Callable[..., nn.Module]) -> nn.Sequential:
    """A depthwise ``kernel_size`` convolution (norm, ReLU6) then a 1x1 projection."""
    return nn.Sequential(
        Conv2dNormActivation(in_channels, in_channels, kernel_size=kernel_size,
                             groups=in_channels, norm_layer=norm_layer,
                             activation_layer=nn.ReLU6),
        nn.Conv2d(in_channels, out_channels, 1),
    )


def _extra_block(in_channels: int, out_channels: int,
                 norm_layer: Callable[..., nn.Module]) -> nn.Sequential:
    """1x1 down to half the output channels, a depthwise 3x3 of stride 2, 1x1 up (each with
    norm and ReLU6)."""
    mid = out_channels // 2
    return nn.Sequential(
        Conv2dNormActivation(in_channels, mid, kernel_size=1, norm_layer=norm_layer,
                             activation_layer=nn.ReLU6),
        Conv2dNormActivation(mid, mid, kernel_size=3, stride=2, groups=mid,
                             norm_layer=norm_layer, activation_layer=nn.ReLU6),
        Conv2dNormActivation(mid, out_channels, kernel_size=1, norm_layer=norm_layer,
                             activation_layer=nn.ReLU6),
    )


class SSDLiteClassificationHead(SSDScoringHead):
    def __init__(self, in_channels: list[int], num_anchors: list[int], num_classes: int,
                 norm_layer: Callable[..., nn.Module]):
        blocks = nn.ModuleList([_prediction_block(c, a * num_classes, 3, norm_layer)
                                for c, a in zip(in_channels, num_anchors)])
        _normal_init(blocks)
        super().__init__(blocks, num_classes)


class SSDLiteRegressionHead(SSDScoringHead):
    def __init__(self, in_channels: list[int], num_anchors: list[int],
                 norm_layer: Callable[..., nn.Module]):
        blocks = nn.ModuleList([_prediction_block(c, a * 4, 3, norm_layer)
                                for c, a in zip(in_channels, num_anchors)])
        _normal_init(blocks)
        super().__init__(blocks, 4)


class SSDLiteHead(nn.Module):
    def __init__(self, in_channels: list[int], num_anchors: list[int], num_classes: int,
                 norm_layer: Callable[..., nn.Module]):
        super().__init__()
        self.classification_head = SSDLiteClassificationHead(in_channels, num_anchors,
                                                             num_classes, norm_layer)
        self.regression_head = SSDLiteRegressionHead(in_channels, num_anchors, norm_layer)

    def forward(self, x: list[Tensor]) -> dict[str, Tensor]:
        return {"bbox_regression": self.regression_head(x),
                "cls_logits": self.classification_head(x)}


class SSDLiteFeatureExtractorMobileNet(nn.Module):
    """``features[0]``: the backbone up to and including the expansion layer of its last
    stride-2 block (the C4 map); ``features[1]``: the rest of that block (its own indices
    kept) and the remaining layers; then four ``_extra_block``s (512, 256, 256, 128
    channels)."""

    def __init__(self, backbone: nn.Module, c4_pos: int, norm_layer: Callable[..., nn.Module],
                 width_mult: float = 1.0, min_depth: int = 16):
        super().__init__()
        if not getattr(backbone[c4_pos], "_is_cn", False):
            raise ValueError(f"SSDLiteFeatureExtractorMobileNet: layer {c4_pos} of the backbone "
                             "should be a stride-2 inverted residual block")
        block = backbone[c4_pos].block
        self.features = nn.Sequential(
            nn.Sequential(*backbone[:c4_pos], block[0]),
            nn.Sequential(block[1:], *backbone[c4_pos + 1:]),
        )

        def depth(channels: int) -> int:
            return max(min_depth, int(channels * width_mult))
        channels = [backbone[-1].out_channels, depth(512), depth(256), depth(256), depth(128)]
        extra = nn.ModuleList([_extra_block(c_in, c_out, norm_layer)
                               for c_in, c_out in zip(channels[:-1], channels[1:])])
        _normal_init(extra)
        self.extra = extra

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        out = []
        for block in self.features:
            x = block(x)
            out.append(x)
        for block in self.extra:
            x = block(x)
            out.append(x)
        return OrderedDict((str(i), v) for i, v in enumerate(out))


def _mobilenet_extractor(backbone, trainable_layers: int, norm_layer):
    """The extractor over ``backbone.features`` with all but its last ``trainable_layers``
    stages frozen (stages start at the stem and at every stride-2 block)."""
    layers = backbone.features
    stages = [0] + [i for i, b in enumerate(layers) if getattr(b, "_is_cn", False)] + \
        [len(layers) - 1]
    num_stages = len(stages)
    det_utils._assert(0 <= trainable_layers <= num_stages,
                      f"trainable_layers should be in the range [0, {num_stages}], "
                      f"got {trainable_layers}")
    freeze_before = len(layers) if trainable_layers == 0 else \
        stages[num_stages - trainable_layers]
    for layer in layers[:freeze_before]:
        for parameter in layer.parameters():
            parameter.requires_grad_(False)
    return SSDLiteFeatureExtractorMobileNet(layers, stages[-2], norm_layer)


SSDLite320_MobileNet_V3_Large_Weights = _coco_weights(
    "SSDLite320_MobileNet_V3_Large_Weights", "ssdlite320_mobilenet_v3_large_coco-a79551df.pth",
    3440060)


def ssdlite320_mobilenet_v3_large(*, weights=None, progress=True, num_classes=None,
                                  weights_backbone=MobileNet_V3_Large_Weights.IMAGENET1K_V1,
                                  trainable_backbone_layers=None, norm_layer=None, **kwargs):
    """SSDlite on MobileNetV3-Large (reduced tail) at 320x320: six maps, six boxes per
    location (aspect ratios 2 and 3, scales 0.2 to 0.95), BatchNorm2d(eps=0.001,
    momentum=0.03), inputs normalised to [-1, 1]."""
    if "size" in kwargs:
        warnings.warn("The size of the model is already fixed; ignoring the parameter.")
        kwargs.pop("size")
    weights, weights_backbone, num_classes = _resolve(
        SSDLite320_MobileNet_V3_Large_Weights, weights, MobileNet_V3_Large_Weights,
        weights_backbone, num_classes, kwargs)
    trainable = _validate_trainable_layers(weights is not None or weights_backbone is not None,
                                           trainable_backbone_layers, 6, 6)
    reduce_tail = weights_backbone is None
    if norm_layer is None:
        norm_layer = partial(nn.BatchNorm2d, eps=0.001, momentum=0.03)
    backbone = mobilenet_v3_large(weights=weights_backbone, progress=progress,
                                  norm_layer=norm_layer, reduced_tail=reduce_tail)
    if weights_backbone is None:
        _normal_init(backbone)
    backbone = _mobilenet_extractor(backbone, trainable, norm_layer)
    size = (320, 320)
    anchor_generator = DefaultBoxGenerator([[2, 3] for _ in range(6)], min_ratio=0.2,
                                           max_ratio=0.95)
    out_channels = [672, 480, 512, 256, 256, 128] if reduce_tail else \
        [672, 960, 512, 256, 256, 128]
    num_anchors = anchor_generator.num_anchors_per_location()
    defaults = {"score_thresh": 0.001, "nms_thresh": 0.55, "detections_per_img": 300,
                "topk_candidates": 300, "image_mean": [0.5, 0.5, 0.5],
                "image_std": [0.5, 0.5, 0.5]}
    kwargs = {**defaults, **kwargs}
    model = SSD(backbone, anchor_generator, size, num_classes,
                head=SSDLiteHead(out_channels, num_anchors, num_classes, norm_layer), **kwargs)
    return _load(model, weights)

