"""torchvision.models.detection.backbone_utils: the feature extractors of the detection models.

A classification network becomes a detection backbone in two steps: its early stages are frozen
(fine-tuning from ImageNet features only adapts the last ``trainable_layers`` stages, as in the
FPN and Mask R-CNN papers), then a few stage outputs are taken by name (IntermediateLayerGetter)
and merged top-down by a Feature Pyramid Network into maps of one common width. Module and
attribute names (``body``, ``fpn``, ``out_channels``) are torchvision's, so its checkpoints
load."""
import warnings

from cadenza import nn

from ...ops import FeaturePyramidNetwork, FrozenBatchNorm2d, LastLevelMaxPool
from .. import mobilenetv2, mobilenetv3, resnet
from .._utils import IntermediateLayerGetter

__all__ = ["BackboneWithFPN", "resnet_fpn_backbone", "mobilenet_backbone"]

# Every pyramid level of torchvision's detectors is this wide, whatever the backbone.
_PYRAMID_WIDTH = 256

# ResNet's top-level modules ranked from the output end: ``trainable_layers=k`` keeps the modules
# of rank <= k trainable. The stem (conv1 with its batch norm) is one stage, the fifth.
_RESNET_RANK = {"layer4": 1, "layer3": 2, "layer2": 3, "layer1": 4, "conv1": 5, "bn1": 5}


def _freeze(modules) -> None:
    for module in modules:
        for parameter in module.parameters():
            parameter.requires_grad_(False)


def _check_layer_range(what: str, value, low: int, high: int) -> None:
    """ValueError unless ``value`` (a number or a list of them) lies in [low, high]."""
    values = value if isinstance(value, (list, tuple)) else [value]
    if any(v < low or v > high for v in values):
        raise ValueError(f"{what} should be in the range [{low},{high}], got {value}")


class BackboneWithFPN(nn.Module):
    """``backbone``'s ``return_layers`` outputs ({module name: output key}) merged by an FPN
    into ``out_channels``-wide maps (an OrderedDict, finest level first, plus the
    ``extra_blocks`` levels; a max-pooled "pool" level by default)."""

    def __init__(self, backbone, return_layers, in_channels_list, out_channels,
                 extra_blocks=None, norm_layer=None):
        super().__init__()
        if extra_blocks is None:
            extra_blocks = LastLevelMaxPool()
        # body before fpn: the state-dict lists the backbone's keys first, as torchvision's
        self.body = IntermediateLayerGetter(backbone, return_layers=return_layers)
        self.fpn = FeaturePyramidNetwork(in_channels_list=in_channels_list,
                                         out_channels=out_channels, extra_blocks=extra_blocks,
                                         norm_layer=norm_layer)
        self.out_channels = out_channels  # read by the detectors to size their heads

    def forward(self, x):
        stage_outputs = self.body(x)
        return self.fpn(stage_outputs)


def _validate_trainable_layers(is_trained, trainable_backbone_layers, max_value, default_value):
    """The builders' ``trainable_backbone_layers``: without any pretrained weights there is
    nothing worth freezing, so all ``max_value`` stages train (a warning if a value was given);
    otherwise None means ``default_value``. ValueError outside [0, max_value]."""
    if not is_trained:
        if trainable_backbone_layers is not None:
            warnings.warn(f"trainable_backbone_layers={trainable_backbone_layers} is ignored "
                          "when neither weights nor weights_backbone are given: all "
                          f"{max_value} backbone layers are trainable "
                          f"(trainable_backbone_layers={max_value})")
        return max_value
    chosen = default_value if trainable_backbone_layers is None else trainable_backbone_layers
    _check_layer_range("trainable_backbone_layers", chosen, 0, max_value)
    return chosen


def _resnet_fpn_extractor(backbone, trainable_layers, returned_layers=None, extra_blocks=None,
                          norm_layer=None):
    """A ResNet with all but its last ``trainable_layers`` stages frozen, its stages
    ``returned_layers`` (1-4, default all) feeding a 256-wide FPN."""
    _check_layer_range("trainable_layers", trainable_layers, 0, 5)
    _freeze(child for name, child in backbone.named_children()
            if _RESNET_RANK.get(name, len(_RESNET_RANK)) > trainable_layers)
    stages = [1, 2, 3, 4] if returned_layers is None else list(returned_layers)
    _check_layer_range("returned_layers", stages, 1, 4)
    # ``inplanes`` ends as layer4's width; each earlier stage is half as wide as the next
    widths = [backbone.inplanes >> (4 - stage) for stage in stages]
    names = {f"layer{stage}": str(position) for position, stage in enumerate(stages)}
    return BackboneWithFPN(backbone, names, widths, _PYRAMID_WIDTH, extra_blocks=extra_blocks,
                           norm_layer=norm_layer)


def resnet_fpn_backbone(*, backbone_name, weights, norm_layer=FrozenBatchNorm2d,
                        trainable_layers=3, returned_layers=None, extra_blocks=None):
    """``resnet.<backbone_name>(weights=, norm_layer=)`` turned into a BackboneWithFPN."""
    network = getattr(resnet, backbone_name)(weights=weights, norm_layer=norm_layer)
    return _resnet_fpn_extractor(network, trainable_layers, returned_layers, extra_blocks)


def _mobilenet_extractor(backbone, fpn, trainable_layers, returned_layers=None,
                         extra_blocks=None, norm_layer=None):
    """MobileNet's ``features`` split into stages at its strided blocks (``_is_cn``); the
    stages before the last ``trainable_layers`` are frozen. With ``fpn`` the stages
    ``returned_layers`` (default the last two) feed a 256-wide FPN; without it a 1x1 conv maps
    the last features to 256 channels."""
    features = backbone.features
    last = len(features) - 1
    starts = [0] + [i for i, block in enumerate(features) if getattr(block, "_is_cn", False)]
    starts.append(last)
    num_stages = len(starts)
    _check_layer_range("trainable_layers", trainable_layers, 0, num_stages)
    first_trainable = len(features) if trainable_layers == 0 else starts[-trainable_layers]
    _freeze(features[:first_trainable])
    if not fpn:
        projected = nn.Sequential(features, nn.Conv2d(features[-1].out_channels,
                                                      _PYRAMID_WIDTH, 1))
        projected.out_channels = _PYRAMID_WIDTH
        return projected
    stages = [num_stages - 2, num_stages - 1] if returned_layers is None else returned_layers
    _check_layer_range("returned_layers", list(stages), 0, num_stages - 1)
    names = {str(starts[stage]): str(position) for position, stage in enumerate(stages)}
    widths = [features[starts[stage]].out_channels for stage in stages]
    return BackboneWithFPN(features, names, widths, _PYRAMID_WIDTH, extra_blocks=extra_blocks,
                           norm_layer=norm_layer)


def mobilenet_backbone(*, backbone_name, weights, fpn, norm_layer=FrozenBatchNorm2d,
                       trainable_layers=2, returned_layers=None, extra_blocks=None):
    """``mobilenet_v2`` / ``mobilenet_v3_*`` (weights=, norm_layer=) as a detection backbone
    (see _mobilenet_extractor)."""
    family = mobilenetv2 if backbone_name == "mobilenet_v2" else mobilenetv3
    network = getattr(family, backbone_name)(weights=weights, norm_layer=norm_layer)
    return _mobilenet_extractor(network, fpn, trainable_layers, returned_layers, extra_blocks)
