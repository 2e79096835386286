"""FCN, DeepLabV3 and LR-ASPP (torchvision's modules, keys and builders: ``weights`` and
``weights_backbone`` enums, ``num_classes``, ``aux_loss``). Outputs are an OrderedDict with
"out" (and "aux") upsampled to the input size with bilinear interpolation."""
from __future__ import annotations

from collections import OrderedDict

import cadenza as torch
from cadenza import nn
from cadenza.nn import functional as F
from .._api import Weights, WeightsEnum, load_pretrained, overwrite_value
from .._utils import IntermediateLayerGetter
from ..mobilenetv3 import MobileNet_V3_Large_Weights, mobilenet_v3_large
from ..resnet import ResNet50_Weights, ResNet101_Weights, resnet50, resnet101

__all__ = ["FCN", "FCNHead", "DeepLabV3", "DeepLabHead", "ASPP", "LRASPP", "LRASPPHead",
           "FCN_ResNet50_Weights", "FCN_ResNet101_Weights", "DeepLabV3_ResNet50_Weights",
           "DeepLabV3_ResNet101_Weights", "DeepLabV3_MobileNet_V3_Large_Weights",
           "LRASPP_MobileNet_V3_Large_Weights", "fcn_resnet50", "fcn_resnet101",
           "deeplabv3_resnet50", "deeplabv3_resnet101", "deeplabv3_mobilenet_v3_large",
           "lraspp_mobilenet_v3_large"]

_VOC_CATEGORIES = ["__background__", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus",
                   "car", "cat", "chair", "cow", "diningtable", "dog", "horse", "motorbike",
                   "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor"]


def _weights(name, file, num_params):
    meta = {"categories": _VOC_CATEGORIES, "num_params": num_params, "num_classes": None}
    entry = Weights(f"https://download.pytorch.org/models/{file}", meta)
    return WeightsEnum(name, {"COCO_WITH_VOC_LABELS_V1": entry, "DEFAULT": entry},
                       module=__name__)


FCN_ResNet50_Weights = _weights("FCN_ResNet50_Weights", "fcn_resnet50_coco-1167a1af.pth",
                                35322218)
FCN_ResNet101_Weights = _weights("FCN_ResNet101_Weights", "fcn_resnet101_coco-7ecb50ca.pth",
                                 54314346)
DeepLabV3_ResNet50_Weights = _weights("DeepLabV3_ResNet50_Weights",
                                      "deeplabv3_resnet50_coco-cd0a2569.pth", 42004074)
DeepLabV3_ResNet101_Weights = _weights("DeepLabV3_ResNet101_Weights",
                                       "deeplabv3_resnet101_coco-586e9e4e.pth", 60996202)
DeepLabV3_MobileNet_V3_Large_Weights = _weights("DeepLabV3_MobileNet_V3_Large_Weights",
                                                "deeplabv3_mobilenet_v3_large-fc3c493d.pth",
                                                11029328)
LRASPP_MobileNet_V3_Large_Weights = _weights("LRASPP_MobileNet_V3_Large_Weights",
                                             "lraspp_mobilenet_v3_large-d234d4ea.pth", 3221538)


def _upsample(x, size):
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


class _SimpleSegmentationModel(nn.Module):
    def __init__(self, backbone, classifier, aux_classifier=None):
        super().__init__()
        self.backbone, self.classifier, self.aux_classifier = backbone, classifier, aux_classifier

    def forward(self, x):
        input_shape = x.shape[-2:]
        features = self.backbone(x)
        result = OrderedDict()
        result["out"] = _upsample(self.classifier(features["out"]), input_shape)
        if self.aux_classifier is not None:
            result["aux"] = _upsample(self.aux_classifier(features["aux"]), input_shape)
        return result


class FCN(_SimpleSegmentationModel):
    """Fully-convolutional network (Long et al.)."""


class DeepLabV3(_SimpleSegmentationModel):
    """DeepLabV3 (Chen et al.): atrous spatial pyramid pooling head."""


class FCNHead(nn.Sequential):
    def __init__(self, in_channels, channels):
        inter = in_channels // 4
        super().__init__(nn.Conv2d(in_channels, inter, 3, padding=1, bias=False),
                         nn.BatchNorm2d(inter), nn.ReLU(), nn.Dropout(0.1),
                         nn.Conv2d(inter, channels, 1))


class ASPPConv(nn.Sequential):
    def __init__(self, in_channels, out_channels, dilation):
        super().__init__(nn.Conv2d(in_channels, out_channels, 3, padding=dilation,
                                   dilation=dilation, bias=False),
                         nn.BatchNorm2d(out_channels), nn.ReLU())


class ASPPPooling(nn.Sequential):
    def __init__(self, in_channels, out_channels):
        super().__init__(nn.AdaptiveAvgPool2d(1),
                         nn.Conv2d(in_channels, out_channels, 1, bias=False),
                         nn.BatchNorm2d(out_channels), nn.ReLU())

    def forward(self, x):
        size = x.shape[-2:]
        for mod in self:
            x = mod(x)
        return _upsample(x, size)


class ASPP(nn.Module):
    def __init__(self, in_channels, atrous_rates, out_channels=256):
        super().__init__()
        modules = [nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, bias=False),
                                 nn.BatchNorm2d(out_channels), nn.ReLU())]
        modules += [ASPPConv(in_channels, out_channels, rate) for rate in tuple(atrous_rates)]
        modules.append(ASPPPooling(in_channels, out_channels))
        self.convs = nn.ModuleList(modules)
        self.project = nn.Sequential(
            nn.Conv2d(len(self.convs) * out_channels, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels), nn.ReLU(), nn.Dropout(0.5))

    def forward(self, x):
        return self.project(torch.cat([conv(x) for conv in self.convs], dim=1))


class DeepLabHead(nn.Sequential):
    def __init__(self, in_channels, num_classes, atrous_rates=(12, 24, 36)):
        super().__init__(ASPP(in_channels, atrous_rates),
                         nn.Conv2d(256, 256, 3, padding=1, bias=False), nn.BatchNorm2d(256),
                         nn.ReLU(), nn.Conv2d(256, num_classes, 1))


class LRASPP(nn.Module):
    """Lite R-ASPP (Howard et al., MobileNetV3): low- and high-resolution features fused."""

    def __init__(self, backbone, low_channels, high_channels, num_classes, inter_channels=128):
        super().__init__()
        self.backbone = backbone
        self.classifier = LRASPPHead(low_channels, high_channels, num_classes, inter_channels)

    def forward(self, input):
        out = _upsample(self.classifier(self.backbone(input)), input.shape[-2:])
        result = OrderedDict()
        result["out"] = out
        return result


class LRASPPHead(nn.Module):
    def __init__(self, low_channels, high_channels, num_classes, inter_channels):
        super().__init__()
        self.cbr = nn.Sequential(nn.Conv2d(high_channels, inter_channels, 1, bias=False),
                                 nn.BatchNorm2d(inter_channels), nn.ReLU(inplace=True))
        self.scale = nn.Sequential(nn.AdaptiveAvgPool2d(1),
                                   nn.Conv2d(high_channels, inter_channels, 1, bias=False),
                                   nn.Sigmoid())
        self.low_classifier = nn.Conv2d(low_channels, num_classes, 1)
        self.high_classifier = nn.Conv2d(inter_channels, num_classes, 1)

    def forward(self, input):
        low, high = input["low"], input["high"]
        x = self.cbr(high) * self.scale(high)
        x = _upsample(x, low.shape[-2:])
        return self.low_classifier(low) + self.high_classifier(x)


def _resolve(weights_cls, weights, backbone_cls, weights_backbone, num_classes, aux_loss):
    """torchvision's segmentation builders' argument rules: pretrained weights fix
    num_classes (21) and aux_loss (True) and drop the backbone weights."""
    weights = weights_cls.verify(weights)
    weights_backbone = backbone_cls.verify(weights_backbone)
    if weights is not None:
        weights_backbone = None
        num_classes = overwrite_value("num_classes", num_classes,
                                      len(weights.meta["categories"]))
        if aux_loss is not None and aux_loss is not True:
            raise ValueError(f"The parameter 'aux_loss' expected value True but got {aux_loss} "
                             f"instead.")
        aux_loss = True
    elif num_classes is None:
        num_classes = 21
    return weights, weights_backbone, num_classes, aux_loss


def _resnet_model(model_cls, head_cls, resnet, weights_cls, backbone_cls, weights,
                  weights_backbone, num_classes, aux_loss):
    weights, weights_backbone, num_classes, aux = _resolve(
        weights_cls, weights, backbone_cls, weights_backbone, num_classes, aux_loss)
    backbone = resnet(weights=weights_backbone, replace_stride_with_dilation=[False, True, True])
    return_layers = {"layer4": "out"}
    if aux:
        return_layers["layer3"] = "aux"
    backbone = IntermediateLayerGetter(backbone, return_layers=return_layers)
    model = model_cls(backbone, head_cls(2048, num_classes),
                      FCNHead(1024, num_classes) if aux else None)
    return load_pretrained(model, weights)


def fcn_resnet50(*, weights=None, progress=True, num_classes=None, aux_loss=None,
                 weights_backbone=ResNet50_Weights.IMAGENET1K_V1, **kwargs):
    return _resnet_model(FCN, FCNHead, resnet50, FCN_ResNet50_Weights, ResNet50_Weights,
                         weights, weights_backbone, num_classes, aux_loss)


def fcn_resnet101(*, weights=None, progress=True, num_classes=None, aux_loss=None,
                  weights_backbone=ResNet101_Weights.IMAGENET1K_V1, **kwargs):
    return _resnet_model(FCN, FCNHead, resnet101, FCN_ResNet101_Weights, ResNet101_Weights,
                         weights, weights_backbone, num_classes, aux_loss)


def deeplabv3_resnet50(*, weights=None, progress=True, num_classes=None, aux_loss=None,
                       weights_backbone=ResNet50_Weights.IMAGENET1K_V1, **kwargs):
    return _resnet_model(DeepLabV3, DeepLabHead, resnet50, DeepLabV3_ResNet50_Weights,
                         ResNet50_Weights, weights, weights_backbone, num_classes, aux_loss)


def deeplabv3_resnet101(*, weights=None, progress=True, num_classes=None, aux_loss=None,
                        weights_backbone=ResNet101_Weights.IMAGENET1K_V1, **kwargs):
    return _resnet_model(DeepLabV3, DeepLabHead, resnet101, DeepLabV3_ResNet101_Weights,
                         ResNet101_Weights, weights, weights_backbone, num_classes, aux_loss)


def _mobilenet_backbone(weights_cls, weights, weights_backbone, num_classes, aux_loss):
    """(resolved weights, num_classes, aux, the dilated MobileNetV3-Large features, the index of
    the last layer, the index of the stage 4 from the end)."""
    weights, weights_backbone, num_classes, aux = _resolve(
        weights_cls, weights, MobileNet_V3_Large_Weights, weights_backbone, num_classes,
        aux_loss)
    features = mobilenet_v3_large(weights=weights_backbone, dilated=True).features
    stages = [0] + [i for i, b in enumerate(features) if getattr(b, "_is_cn", False)] + \
        [len(features) - 1]
    return weights, num_classes, aux, features, stages[-1], stages[-4]


def deeplabv3_mobilenet_v3_large(*, weights=None, progress=True, num_classes=None,
                                 aux_loss=None,
                                 weights_backbone=MobileNet_V3_Large_Weights.IMAGENET1K_V1,
                                 **kwargs):
    weights, num_classes, aux, features, out_pos, aux_pos = _mobilenet_backbone(
        DeepLabV3_MobileNet_V3_Large_Weights, weights, weights_backbone, num_classes, aux_loss)
    return_layers = {str(out_pos): "out"}
    if aux:
        return_layers[str(aux_pos)] = "aux"
    backbone = IntermediateLayerGetter(features, return_layers=return_layers)
    model = DeepLabV3(backbone, DeepLabHead(features[out_pos].out_channels, num_classes),
                      FCNHead(features[aux_pos].out_channels, num_classes) if aux else None)
    return load_pretrained(model, weights)


def lraspp_mobilenet_v3_large(*, weights=None, progress=True, num_classes=None,
                              weights_backbone=MobileNet_V3_Large_Weights.IMAGENET1K_V1,
                              **kwargs):
    if kwargs.pop("aux_loss", False):
        raise NotImplementedError("This model does not use auxiliary loss")
    weights, num_classes, _, features, high_pos, low_pos = _mobilenet_backbone(
        LRASPP_MobileNet_V3_Large_Weights, weights, weights_backbone, num_classes, None)
    backbone = IntermediateLayerGetter(features, return_layers={str(low_pos): "low",
                                                                str(high_pos): "high"})
    model = LRASPP(backbone, features[low_pos].out_channels, features[high_pos].out_channels,
                   num_classes)
    return load_pretrained(model, weights)
