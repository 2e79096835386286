"""torchvision.models.detection.faster_rcnn: Faster R-CNN (Ren et al., 2015) on an FPN backbone
(Lin et al., 2017).

A region proposal network slides small heads over every pyramid level and proposes boxes
relative to a fixed set of anchors; the best proposals are pooled to 7x7 (MultiScaleRoIAlign,
each box from the level matching its size) and a box head plus predictor classify them and
refine their corners per class. The builders assemble torchvision's published configurations;
module names and state-dict keys are torchvision's (pretrained weights come only from local
safetensors files, see models._api)."""
from cadenza import nn
from cadenza.nn import functional as F

from ...ops import Conv2dNormActivation, FrozenBatchNorm2d, MultiScaleRoIAlign
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

# the ImageNet statistics every torchvision backbone was trained with
_IMAGENET_MEAN = [0.485, 0.456, 0.406]
_IMAGENET_STD = [0.229, 0.224, 0.225]
# the feature maps BackboneWithFPN returns before its extra "pool" level (which RoI pooling
# skips: it only exists to give the RPN anchors of the largest size)
_POOLED_LEVELS = ["0", "1", "2", "3"]
_BOX_HEAD_WIDTH = 1024  # the fc width of the Faster R-CNN / FPN papers' box head


def _default_anchorgen():
    """One anchor size per FPN level (32 on the finest, doubling up to 512 on "pool"), three
    aspect ratios each: the FPN paper's RPN anchors."""
    sizes = tuple((32 << level,) for level in range(5))
    return AnchorGenerator(sizes, ((0.5, 1.0, 2.0),) * len(sizes))


def _check_parts(backbone, num_classes, rpn_anchor_generator, box_roi_pool, box_predictor):
    """The argument errors of torchvision's FasterRCNN, raised before anything is built."""
    if not hasattr(backbone, "out_channels"):
        raise ValueError("FasterRCNN: the backbone needs an attribute out_channels giving the "
                         "channel count of its feature maps (the same for all levels)")
    if rpn_anchor_generator is not None and not isinstance(rpn_anchor_generator,
                                                           AnchorGenerator):
        raise TypeError("FasterRCNN: rpn_anchor_generator should be an AnchorGenerator or "
                        f"None, got {type(rpn_anchor_generator)}")
    if box_roi_pool is not None and not isinstance(box_roi_pool, MultiScaleRoIAlign):
        raise TypeError("FasterRCNN: box_roi_pool should be a MultiScaleRoIAlign or None, got "
                        f"{type(box_roi_pool)}")
    if (num_classes is None) == (box_predictor is None):
        if num_classes is None:
            raise ValueError("FasterRCNN: num_classes should not be None when box_predictor "
                             "is not specified")
        raise ValueError("FasterRCNN: num_classes should be None when box_predictor is "
                         "specified (the predictor fixes the classes)")


class FasterRCNN(GeneralizedRCNN):
    """Faster R-CNN: ``model(images, targets)`` gives the loss dict in training mode,
    ``model(images)`` a list of {"boxes", "labels", "scores"} in eval mode. Any part left None
    gets the FPN paper's default; the rpn_* / box_* numbers configure the RPN and RoIHeads, the
    rest (and ``**kwargs``) the GeneralizedRCNNTransform."""

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
        _check_parts(backbone, num_classes, rpn_anchor_generator, box_roi_pool, box_predictor)
        width = backbone.out_channels
        # The default parts are made in torchvision's order (RPN head, box head, predictor):
        # under a fixed seed the order decides which random draws each part's init gets.
        anchors = _default_anchorgen() if rpn_anchor_generator is None else rpn_anchor_generator
        if rpn_head is None:
            rpn_head = RPNHead(width, anchors.num_anchors_per_location()[0])
        rpn = RegionProposalNetwork(
            anchor_generator=anchors, head=rpn_head, fg_iou_thresh=rpn_fg_iou_thresh,
            bg_iou_thresh=rpn_bg_iou_thresh, batch_size_per_image=rpn_batch_size_per_image,
            positive_fraction=rpn_positive_fraction,
            pre_nms_top_n={"training": rpn_pre_nms_top_n_train,
                           "testing": rpn_pre_nms_top_n_test},
            post_nms_top_n={"training": rpn_post_nms_top_n_train,
                            "testing": rpn_post_nms_top_n_test},
            nms_thresh=rpn_nms_thresh, score_thresh=rpn_score_thresh)
        if box_roi_pool is None:
            box_roi_pool = MultiScaleRoIAlign(featmap_names=_POOLED_LEVELS, output_size=7,
                                              sampling_ratio=2)
        if box_head is None:
            side = box_roi_pool.output_size[0]
            box_head = TwoMLPHead(width * side * side, _BOX_HEAD_WIDTH)
        if box_predictor is None:
            box_predictor = FastRCNNPredictor(_BOX_HEAD_WIDTH, num_classes)
        roi_heads = RoIHeads(
            box_roi_pool=box_roi_pool, box_head=box_head, box_predictor=box_predictor,
            fg_iou_thresh=box_fg_iou_thresh, bg_iou_thresh=box_bg_iou_thresh,
            batch_size_per_image=box_batch_size_per_image,
            positive_fraction=box_positive_fraction, bbox_reg_weights=bbox_reg_weights,
            score_thresh=box_score_thresh, nms_thresh=box_nms_thresh,
            detections_per_img=box_detections_per_img)
        transform = GeneralizedRCNNTransform(
            min_size, max_size, _IMAGENET_MEAN if image_mean is None else image_mean,
            _IMAGENET_STD if image_std is None else image_std, **kwargs)
        super().__init__(backbone, rpn, roi_heads, transform)


class TwoMLPHead(nn.Module):
    """The FPN paper's box head: the pooled features flattened through two ReLU'd fully
    connected layers, ``fc6`` and ``fc7``, of ``representation_size`` units."""

    def __init__(self, in_channels, representation_size):
        super().__init__()
        self.fc6 = nn.Linear(in_channels, representation_size)
        self.fc7 = nn.Linear(representation_size, representation_size)

    def forward(self, x):
        hidden = F.relu(self.fc6(x.flatten(start_dim=1)))
        return F.relu(self.fc7(hidden))


def _kaiming_convs(module: nn.Module) -> None:
    """He-normal (fan_out, ReLU) conv weights and zero conv biases: the conv heads' init,
    applied after the whole head is built (the layers' default inits draw from the generator
    first, as in torchvision)."""
    for layer in module.modules():
        if isinstance(layer, nn.Conv2d):
            nn.init.kaiming_normal_(layer.weight, mode="fan_out", nonlinearity="relu")
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)


class FastRCNNConvFCHead(nn.Sequential):
    """The v2 box head: 3x3 Conv2dNormActivation layers (``conv_layers`` channels each), then
    Flatten, then Linear + ReLU pairs (``fc_layers`` units); ``input_size`` is the pooled
    (channels, height, width). The Sequential's indices are the state-dict keys."""

    def __init__(self, input_size, conv_layers, fc_layers, norm_layer=None):
        channels, height, width = input_size
        layers = []
        for out in conv_layers:
            layers.append(Conv2dNormActivation(channels, out, norm_layer=norm_layer))
            channels = out
        layers.append(nn.Flatten())
        features = channels * height * width  # 3x3 convs with padding 1 keep the size
        for out in fc_layers:
            layers += [nn.Linear(features, out), nn.ReLU(inplace=True)]
            features = out
        super().__init__(*layers)
        _kaiming_convs(self)


class FastRCNNPredictor(nn.Module):
    """The last box layers: ``cls_score`` (one logit per class) and ``bbox_pred`` (four box
    deltas per class) on the box head's features (flattened; 4-d input must be 1x1)."""

    def __init__(self, in_channels, num_classes):
        super().__init__()
        self.cls_score = nn.Linear(in_channels, num_classes)
        self.bbox_pred = nn.Linear(in_channels, num_classes * 4)

    def forward(self, x):
        if x.dim() == 4:
            _assert(tuple(x.shape[2:]) == (1, 1),
                    "FastRCNNPredictor: x has the wrong shape, expecting the last two "
                    f"dimensions to be [1,1] instead of {list(x.shape[2:])}")
        flat = x.flatten(start_dim=1)
        return self.cls_score(flat), self.bbox_pred(flat)


# --- pretrained weights and builders -------------------------------------------------------

def _coco_weights(name, file, num_params):
    """A WeightsEnum ``name`` with COCO_V1 (= DEFAULT): torchvision's COCO checkpoint ``file``
    (looked up locally by its file name), 91 categories, ``num_params`` parameters."""
    entry = Weights(f"https://download.pytorch.org/models/{file}",
                    {"categories": _COCO_CATEGORIES, "min_size": (1, 1),
                     "num_params": num_params, "num_classes": None})
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
    """The argument handling every detection builder shares. Honours the deprecated
    ``pretrained`` / ``pretrained_backbone`` flags (popped from ``kwargs``, as is ``progress``),
    turns names into enum members, drops the backbone weights when the whole model's are
    given, and settles num_classes: the weights' category count (a different explicit value
    is an error) or else 91, COCO's. Returns (weights, weights_backbone, num_classes)."""
    if kwargs.pop("pretrained", False):
        weights = weights_cls.COCO_V1
    if "pretrained_backbone" in kwargs:
        weights_backbone = backbone_cls.IMAGENET1K_V1 if kwargs.pop("pretrained_backbone") \
            else None
    kwargs.pop("progress", None)
    weights = weights_cls.verify(weights)
    weights_backbone = backbone_cls.verify(weights_backbone)
    if weights is None:
        return None, weights_backbone, 91 if num_classes is None else num_classes
    categories = len(weights.meta["categories"])
    return weights, None, overwrite_value("num_classes", num_classes, categories)


def _resnet50_fpn(weights, weights_backbone, trainable_backbone_layers, frozen_bn, **extractor):
    """The builders' ResNet-50-FPN: every stage trainable when nothing is pretrained, else the
    last ``trainable_backbone_layers`` (default 3) of 5. ``frozen_bn`` (the v1 models) swaps in
    FrozenBatchNorm2d whenever pretrained weights are loaded; ``extractor`` goes to
    _resnet_fpn_extractor."""
    pretrained = weights is not None or weights_backbone is not None
    trainable = _validate_trainable_layers(pretrained, trainable_backbone_layers, 5, 3)
    norm = FrozenBatchNorm2d if frozen_bn and pretrained else nn.BatchNorm2d
    return _resnet_fpn_extractor(resnet50(weights=weights_backbone, norm_layer=norm), trainable,
                                 **extractor)


def _load(model, weights):
    """``model`` with ``weights``' state dict loaded (strictly), if any."""
    if weights is not None:
        model.load_state_dict(weights.get_state_dict(), strict=True)
    return model


def _v1_resnet50(model_cls, weights_cls, weights, num_classes, weights_backbone,
                 trainable_backbone_layers, kwargs):
    """The v1 ResNet-50-FPN detectors (Faster / Mask R-CNN): default heads; the COCO
    checkpoints were trained with FrozenBatchNorm2d eps 0."""
    weights, weights_backbone, num_classes = _resolve(
        weights_cls, weights, ResNet50_Weights, weights_backbone, num_classes, kwargs)
    backbone = _resnet50_fpn(weights, weights_backbone, trainable_backbone_layers, True)
    model = _load(model_cls(backbone, num_classes=num_classes, **kwargs), weights)
    if weights is not None:
        overwrite_eps(model, 0.0)
    return model


def _v2_resnet50(model_cls, weights_cls, weights, num_classes, weights_backbone,
                 trainable_backbone_layers, kwargs, **heads):
    """The v2 ResNet-50-FPN detectors ("Benchmarking detection transfer learning with vision
    transformers", Li et al. 2021): batch norm in the backbone, FPN and box head, a two-conv
    RPN head. ``heads`` maps extra head names to builders of the FPN width."""
    weights, weights_backbone, num_classes = _resolve(
        weights_cls, weights, ResNet50_Weights, weights_backbone, num_classes, kwargs)
    backbone = _resnet50_fpn(weights, weights_backbone, trainable_backbone_layers, False,
                             norm_layer=nn.BatchNorm2d)
    width = backbone.out_channels
    anchors = _default_anchorgen()
    parts = dict(rpn_anchor_generator=anchors,
                 rpn_head=RPNHead(width, anchors.num_anchors_per_location()[0], conv_depth=2),
                 box_head=FastRCNNConvFCHead((width, 7, 7), [256] * 4, [_BOX_HEAD_WIDTH],
                                             norm_layer=nn.BatchNorm2d))
    parts.update({name: build(width) for name, build in heads.items()})
    return _load(model_cls(backbone, num_classes=num_classes, **parts, **kwargs), weights)


def fasterrcnn_resnet50_fpn(*, weights=None, progress=True, num_classes=None,
                            weights_backbone=ResNet50_Weights.IMAGENET1K_V1,
                            trainable_backbone_layers=None, **kwargs):
    """Faster R-CNN with a ResNet-50-FPN backbone (frozen batch norm when any weights are
    used)."""
    return _v1_resnet50(FasterRCNN, FasterRCNN_ResNet50_FPN_Weights, weights, num_classes,
                        weights_backbone, trainable_backbone_layers, kwargs)


def fasterrcnn_resnet50_fpn_v2(*, weights=None, progress=True, num_classes=None,
                               weights_backbone=None, trainable_backbone_layers=None, **kwargs):
    """Faster R-CNN v2: ResNet-50-FPN with batch norm, a 2-conv RPN head and a conv+fc box
    head."""
    return _v2_resnet50(FasterRCNN, FasterRCNN_ResNet50_FPN_V2_Weights, weights, num_classes,
                        weights_backbone, trainable_backbone_layers, kwargs)


def _mobilenet_v3_fpn(weights_cls, weights, num_classes, weights_backbone,
                      trainable_backbone_layers, defaults, kwargs):
    """Faster R-CNN on MobileNetV3-Large with an FPN over its last two stages (last 3 of 6
    stages trainable by default), five anchor sizes on each of the three levels; ``defaults``
    are the variant's settings, which ``kwargs`` may override."""
    kwargs = {**defaults, **kwargs}
    weights, weights_backbone, num_classes = _resolve(
        weights_cls, weights, MobileNet_V3_Large_Weights, weights_backbone, num_classes, kwargs)
    pretrained = weights is not None or weights_backbone is not None
    trainable = _validate_trainable_layers(pretrained, trainable_backbone_layers, 6, 3)
    norm = FrozenBatchNorm2d if pretrained else nn.BatchNorm2d
    backbone = _mobilenet_extractor(mobilenet_v3_large(weights=weights_backbone, norm_layer=norm),
                                    True, trainable)
    sizes = ((32, 64, 128, 256, 512),) * 3
    anchors = AnchorGenerator(sizes, ((0.5, 1.0, 2.0),) * len(sizes))
    model = FasterRCNN(backbone, num_classes, rpn_anchor_generator=anchors, **kwargs)
    return _load(model, weights)


def fasterrcnn_mobilenet_v3_large_320_fpn(*, weights=None, progress=True, num_classes=None,
                                          weights_backbone=MobileNet_V3_Large_Weights.IMAGENET1K_V1,
                                          trainable_backbone_layers=None, **kwargs):
    """Faster R-CNN on MobileNetV3-Large-FPN for low resolution (min_size 320, 150 proposals)."""
    low_resolution = {"min_size": 320, "max_size": 640, "rpn_pre_nms_top_n_test": 150,
                      "rpn_post_nms_top_n_test": 150, "rpn_score_thresh": 0.05}
    return _mobilenet_v3_fpn(FasterRCNN_MobileNet_V3_Large_320_FPN_Weights, weights,
                             num_classes, weights_backbone, trainable_backbone_layers,
                             low_resolution, kwargs)


def fasterrcnn_mobilenet_v3_large_fpn(*, weights=None, progress=True, num_classes=None,
                                      weights_backbone=MobileNet_V3_Large_Weights.IMAGENET1K_V1,
                                      trainable_backbone_layers=None, **kwargs):
    """Faster R-CNN on MobileNetV3-Large with FPN (its last two stages)."""
    return _mobilenet_v3_fpn(FasterRCNN_MobileNet_V3_Large_FPN_Weights, weights, num_classes,
                             weights_backbone, trainable_backbone_layers,
                             {"rpn_score_thresh": 0.05}, kwargs)
