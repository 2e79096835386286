"""Settings shared by record_detection_builders.py (torchvision) and
test_detection_builders.py (Cadenza); ``torch`` here is whichever framework built the module."""

# tag: (models module, builder, norm layer, (backbone_utils extractor, its arguments before
# the trainable layer count)); one network per tag is built once and re-extracted for every
# count. BatchNorm2d has parameters to freeze (the ResNet stem's bn1 counts), FrozenBatchNorm2d
# none.
FREEZING = {
    "resnet18": ("resnet", "resnet18", "BatchNorm2d", ("_resnet_fpn_extractor",)),
    "mobilenet_v3_large_fpn": ("mobilenet_v3", "mobilenet_v3_large", "FrozenBatchNorm2d",
                               ("_mobilenet_extractor", True)),
    "mobilenet_v2_plain": ("mobilenet_v2", "mobilenet_v2", "BatchNorm2d",
                           ("_mobilenet_extractor", False)),
}

# builders whose keys test_detection.py does not check; trainable_backbone_layers without any
# weights is ignored (all layers train) after a warning
BUILDERS = {
    "maskrcnn_resnet50_fpn_v2": dict(weights=None, weights_backbone=None, num_classes=3,
                                     trainable_backbone_layers=2),
    "fasterrcnn_mobilenet_v3_large_320_fpn": dict(weights=None, weights_backbone=None,
                                                  num_classes=5, trainable_backbone_layers=1),
}


def layer_counts(tag):
    """The trainable-layer counts recorded: every valid one (ResNet 0-5, MobileNetV3-Large's
    six stages, a few of MobileNetV2's six)."""
    return {"resnet18": range(6), "mobilenet_v3_large_fpn": range(7),
            "mobilenet_v2_plain": (0, 3, 6)}[tag]


def unfreeze(module):
    for parameter in module.parameters():
        parameter.requires_grad_(True)


def frozen(module):
    return sorted(name for name, p in module.named_parameters() if not p.requires_grad)


def keys(module):
    return [f"{k}:{tuple(v.shape)}" for k, v in module.state_dict().items()]


def settings(model):
    """The numbers a builder sets beyond the constructor defaults it forwards."""
    rpn, heads, transform = model.rpn, model.roi_heads, model.transform
    return [transform.min_size[0], transform.max_size, rpn._pre_nms_top_n["testing"],
            rpn._post_nms_top_n["testing"], rpn._pre_nms_top_n["training"],
            rpn.score_thresh, rpn.nms_thresh, heads.score_thresh, heads.nms_thresh,
            heads.detections_per_img, model.backbone.out_channels,
            sum(p.numel() for p in model.parameters() if not p.requires_grad)]
