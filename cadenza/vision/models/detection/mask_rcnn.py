"""torchvision.models.detection.mask_rcnn: Mask R-CNN (He et al., 2017).

Faster R-CNN plus a mask branch run on the detected boxes: features pooled to 14x14 (RoIAlign
keeps them aligned with the image), four 3x3 convs (MaskRCNNHeads), a stride-2 transposed conv
to 28x28 and a 1x1 conv giving one mask logit map per class (MaskRCNNPredictor); only the map of
the box's class is used, so classes do not compete for pixels. Module names and state-dict keys
are torchvision's."""
from collections import OrderedDict

from cadenza import nn

from ...ops import Conv2dNormActivation, MultiScaleRoIAlign
from ..resnet import ResNet50_Weights
from .faster_rcnn import (_POOLED_LEVELS, FasterRCNN, _coco_weights, _kaiming_convs,
                          _v1_resnet50, _v2_resnet50)

__all__ = ["MaskRCNN", "MaskRCNN_ResNet50_FPN_Weights", "MaskRCNN_ResNet50_FPN_V2_Weights",
           "maskrcnn_resnet50_fpn", "maskrcnn_resnet50_fpn_v2"]

_MASK_WIDTH = 256  # channels of the mask branch, the paper's FPN mask head


class MaskRCNN(FasterRCNN):
    """Mask R-CNN: FasterRCNN's arguments plus mask_roi_pool / mask_head / mask_predictor; eval
    detections carry "masks" [N, 1, H, W] (probabilities pasted into the image), training adds
    "loss_mask"; targets need "masks" [N, H, W] (uint8)."""

    def __init__(self, backbone, num_classes=None, mask_roi_pool=None, mask_head=None,
                 mask_predictor=None, **kwargs):
        if mask_roi_pool is not None and not isinstance(mask_roi_pool, MultiScaleRoIAlign):
            raise TypeError("MaskRCNN: mask_roi_pool should be a MultiScaleRoIAlign or None, "
                            f"got {type(mask_roi_pool)}")
        if num_classes is not None and mask_predictor is not None:
            raise ValueError("MaskRCNN: num_classes should be None when mask_predictor is "
                             "specified (the predictor fixes the classes)")
        # The mask parts are made before FasterRCNN's (torchvision's order), which fixes the
        # random draws each part's init gets under a seed.
        if mask_roi_pool is None:
            mask_roi_pool = MultiScaleRoIAlign(featmap_names=_POOLED_LEVELS, output_size=14,
                                               sampling_ratio=2)
        if mask_head is None:
            mask_head = MaskRCNNHeads(backbone.out_channels, (_MASK_WIDTH,) * 4, 1)
        if mask_predictor is None:
            mask_predictor = MaskRCNNPredictor(_MASK_WIDTH, _MASK_WIDTH, num_classes)
        super().__init__(backbone, num_classes, **kwargs)
        # RoIHeads runs its mask branch once these are set; they follow the box parts in the
        # state dict ("roi_heads.mask_head.*", "roi_heads.mask_predictor.*")
        self.roi_heads.mask_roi_pool = mask_roi_pool
        self.roi_heads.mask_head = mask_head
        self.roi_heads.mask_predictor = mask_predictor


class MaskRCNNHeads(nn.Sequential):
    """3x3 Conv2dNormActivation layers of ``layers`` channels each (padding = ``dilation``,
    so the 14x14 size is kept), numbered 0, 1, ... in the state dict."""

    _version = 2  # version 1 named the layers mask_fcn1, mask_fcn2, ... (see below)

    def __init__(self, in_channels, layers, dilation, norm_layer=None):
        convs = []
        for out in layers:
            convs.append(Conv2dNormActivation(in_channels, out, kernel_size=3, stride=1,
                                              padding=dilation, dilation=dilation,
                                              norm_layer=norm_layer))
            in_channels = out
        super().__init__(*convs)
        _kaiming_convs(self)
        # stored directly (not through a closure) so that torch.save(model) can pickle it
        self._load_state_dict_pre_hooks["rename_mask_fcn_keys"] = \
            MaskRCNNHeads._rename_mask_fcn_keys

    @staticmethod
    def _rename_mask_fcn_keys(state_dict, prefix, *unused):
        """Checkpoints from before the heads took a norm_layer hold bare convs named
        ``mask_fcn{i}`` (1-based); they are conv ``{i - 1}.0`` of a Conv2dNormActivation now."""
        for key in [k for k in state_dict if k.startswith(prefix + "mask_fcn")]:
            number, _, kind = key[len(prefix) + len("mask_fcn"):].partition(".")
            if number.isdigit() and kind in ("weight", "bias"):
                new = f"{prefix}{int(number) - 1}.0.{kind}"
                if new not in state_dict:
                    state_dict[new] = state_dict.pop(key)


class MaskRCNNPredictor(nn.Sequential):
    """``conv5_mask`` (2x2 transposed conv, stride 2: 14x14 -> 28x28) + ReLU +
    ``mask_fcn_logits`` (1x1 conv to one logit map per class). Weights He-normal, biases keep
    their default init."""

    def __init__(self, in_channels, dim_reduced, num_classes):
        super().__init__(OrderedDict([
            ("conv5_mask", nn.ConvTranspose2d(in_channels, dim_reduced, 2, 2, 0)),
            ("relu", nn.ReLU(inplace=True)),
            ("mask_fcn_logits", nn.Conv2d(dim_reduced, num_classes, 1, 1, 0)),
        ]))
        for layer in (self.conv5_mask, self.mask_fcn_logits):
            nn.init.kaiming_normal_(layer.weight, mode="fan_out", nonlinearity="relu")


MaskRCNN_ResNet50_FPN_Weights = _coco_weights(
    "MaskRCNN_ResNet50_FPN_Weights", "maskrcnn_resnet50_fpn_coco-bf2d0c1e.pth", 44401393)
MaskRCNN_ResNet50_FPN_V2_Weights = _coco_weights(
    "MaskRCNN_ResNet50_FPN_V2_Weights", "maskrcnn_resnet50_fpn_v2_coco-73cbd019.pth", 46359409)


def maskrcnn_resnet50_fpn(*, weights=None, progress=True, num_classes=None,
                          weights_backbone=ResNet50_Weights.IMAGENET1K_V1,
                          trainable_backbone_layers=None, **kwargs):
    """Mask R-CNN with a ResNet-50-FPN backbone."""
    return _v1_resnet50(MaskRCNN, MaskRCNN_ResNet50_FPN_Weights, weights, num_classes,
                        weights_backbone, trainable_backbone_layers, kwargs)


def maskrcnn_resnet50_fpn_v2(*, weights=None, progress=True, num_classes=None,
                             weights_backbone=None, trainable_backbone_layers=None, **kwargs):
    """Mask R-CNN v2: batch-norm ResNet-50-FPN, 2-conv RPN head, conv+fc box head, batch-norm
    mask head."""
    def mask_head(width):
        return MaskRCNNHeads(width, [_MASK_WIDTH] * 4, 1, norm_layer=nn.BatchNorm2d)
    return _v2_resnet50(MaskRCNN, MaskRCNN_ResNet50_FPN_V2_Weights, weights, num_classes,
                        weights_backbone, trainable_backbone_layers, kwargs, mask_head=mask_head)
