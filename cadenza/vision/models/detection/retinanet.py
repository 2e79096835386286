"""torchvision.models.detection.retinanet: RetinaNet (Lin et al., "Focal Loss for Dense Object
Detection", 2017), a one-stage detector.

Two small conv towers share every FPN level (P3-P7): one predicts, per anchor, a sigmoid score
for each class, the other the anchor's box deltas. Training matches anchors to objects by IoU
(>= 0.5 foreground, < 0.4 background, in between ignored, plus each object's best anchors) and
sums the focal loss over all non-ignored anchors and a box loss over the foreground ones, each
normalised by the number of foreground anchors. Inference keeps the best ``topk_candidates``
(anchor, class) scores per level, decodes their boxes and runs per-class NMS. The module names
and state-dict keys are torchvision's."""

from __future__ import annotations

import math
from functools import partial
from typing import Callable, Optional

import cadenza as torch
from cadenza import Tensor, nn
from cadenza.nn import functional as F

from ... import ops as box_ops
from ...ops import Conv2dNormActivation, LastLevelP6P7, sigmoid_focal_loss
from ..resnet import ResNet50_Weights
from . import _utils as det_utils
from ._utils import _assert, overwrite_eps
from .anchor_utils import AnchorGenerator
from .faster_rcnn import _coco_weights, _load, _resnet50_fpn, _resolve
from .transform import GeneralizedRCNNTransform

__all__ = [
    "RetinaNet",
    "RetinaNet_ResNet50_FPN_Weights",
    "RetinaNet_ResNet50_FPN_V2_Weights",
    "retinanet_resnet50_fpn",
    "retinanet_resnet50_fpn_v2",
]

_TOWER_DEPTH = 4  # 3x3 conv + ReLU layers in front of each predictor (the paper's head)
_IMAGENET_MEAN = [0.485, 0.456, 0.406]
_IMAGENET_STD = [0.229, 0.224, 0.225]


def _default_anchorgen():
    """Nine anchors per location: sizes 2^0, 2^(1/3), 2^(2/3) times the level's base size
    (32 on P3 ... 512 on P7, rounded down) at aspect ratios 1:2, 1:1, 2:1."""
    sizes = tuple(tuple(int(base * 2 ** (k / 3)) for k in range(3))
                  for base in (32, 64, 128, 256, 512))
    return AnchorGenerator(sizes, ((0.5, 1.0, 2.0),) * len(sizes))


def _tower(in_channels: int, norm_layer) -> nn.Sequential:
    """The shared conv tower; keys ``conv.{i}.0.weight`` (and the norm's ``conv.{i}.1.*``)."""
    return nn.Sequential(*[Conv2dNormActivation(in_channels, in_channels, norm_layer=norm_layer)
                           for _ in range(_TOWER_DEPTH)])


def _init_small_normal(modules, bias: float = 0.0) -> None:
    """N(0, 0.01) conv weights and a constant bias: the heads start out predicting almost the
    same thing everywhere (the paper's initialisation)."""
    for m in modules:
        if isinstance(m, nn.Conv2d):
            nn.init.normal_(m.weight, std=0.01)
            if m.bias is not None:
                nn.init.constant_(m.bias, bias)


def _upgrade_tower_keys(module, state_dict, prefix, *_):
    """State dicts saved before the tower layers became Conv2dNormActivation blocks name them
    ``conv.{i}.weight``; they are ``conv.{i}.0.weight`` now."""
    for i in range(_TOWER_DEPTH):
        for leaf in ("weight", "bias"):
            old = f"{prefix}conv.{2 * i}.{leaf}"  # the old tower alternated Conv2d and ReLU
            if old in state_dict and f"{prefix}conv.{i}.0.{leaf}" not in state_dict:
                state_dict[f"{prefix}conv.{i}.0.{leaf}"] = state_dict.pop(old)


def _per_anchor(x: Tensor, columns: int) -> Tensor:
    """``(N, A * columns, H, W)`` conv output -> ``(N, H * W * A, columns)``, anchors ordered by
    location first (as the anchor generator lists them)."""
    n, _, h, w = x.shape
    return x.reshape(n, -1, columns, h, w).permute(0, 3, 4, 1, 2).reshape(n, -1, columns)


class RetinaNetHead(nn.Module):
    """The classification and regression subnets; ``forward`` returns ``{"cls_logits": (N,
    anchors, classes), "bbox_regression": (N, anchors, 4)}`` over all levels."""

    def __init__(self, in_channels, num_anchors, num_classes,
                 norm_layer: Optional[Callable[..., nn.Module]] = None):
        super().__init__()
        self.classification_head = RetinaNetClassificationHead(
            in_channels, num_anchors, num_classes, norm_layer=norm_layer)
        self.regression_head = RetinaNetRegressionHead(in_channels, num_anchors,
                                                       norm_layer=norm_layer)

    def compute_loss(self, targets, head_outputs, anchors, matched_idxs):
        return {
            "classification": self.classification_head.compute_loss(targets, head_outputs,
                                                                    matched_idxs),
            "bbox_regression": self.regression_head.compute_loss(targets, head_outputs,
                                                                 anchors, matched_idxs),
        }

    def forward(self, x):
        return {"cls_logits": self.classification_head(x),
                "bbox_regression": self.regression_head(x)}


def _stack_matches(matched_idxs: list[Tensor]) -> Tensor:
    return torch.stack(list(matched_idxs), dim=0)


def _per_image_mean(per_image_sums: Tensor, matched: Tensor) -> Tensor:
    """Each image's loss divided by its number of foreground anchors (at least 1), then the
    mean over the images."""
    num_fg = (matched >= 0).sum(dim=1).clamp(min=1).to(per_image_sums.dtype)
    return (per_image_sums / num_fg).sum() / max(1, matched.shape[0])


class RetinaNetClassificationHead(nn.Module):
    """Per anchor and class a logit; the focal loss against one-hot targets."""

    _version = 2

    def __init__(self, in_channels, num_anchors, num_classes, prior_probability=0.01,
                 norm_layer: Optional[Callable[..., nn.Module]] = None):
        super().__init__()
        self.conv = _tower(in_channels, norm_layer)
        _init_small_normal(self.conv.modules())
        self.cls_logits = nn.Conv2d(in_channels, num_anchors * num_classes, kernel_size=3,
                                    stride=1, padding=1)
        # every class starts at probability ~prior_probability, so the many easy background
        # anchors do not swamp the first iterations' loss
        _init_small_normal([self.cls_logits],
                           bias=-math.log((1 - prior_probability) / prior_probability))
        self.num_classes = num_classes
        self.num_anchors = num_anchors
        self.register_load_state_dict_pre_hook(_upgrade_tower_keys)

    def compute_loss(self, targets, head_outputs, matched_idxs):
        """Focal loss summed over the anchors that are not ignored, per image divided by its
        foreground count, averaged over images."""
        logits = head_outputs["cls_logits"]  # (N, anchors, classes)
        matched = _stack_matches(matched_idxs)
        classes = torch.arange(logits.shape[-1])
        onehot = []
        for t, m in zip(targets, matched):
            lab = t["labels"]
            if lab.numel() and (int(lab.min()) < 0 or int(lab.max()) >= logits.shape[-1]):
                raise ValueError(f"RetinaNet: target labels must lie in [0, {logits.shape[-1]})"
                                 f" (num_classes), got {lab.tolist()}")
            # each foreground anchor's class; -1 (matching no column) for all other anchors
            gt_class = t["labels"][m.clamp(min=0)] if t["labels"].numel() else m
            gt_class = torch.where(m >= 0, gt_class, torch.full_like(gt_class, -1))
            onehot.append(gt_class[:, None] == classes[None, :])
        onehot = torch.stack(onehot, dim=0).to(logits.dtype)
        counted = (matched != det_utils.Matcher.BETWEEN_THRESHOLDS).to(logits.dtype)
        loss = sigmoid_focal_loss(logits, onehot, reduction="none") * counted[..., None]
        return _per_image_mean(loss.sum(dim=(1, 2)), matched)

    def forward(self, x):
        return torch.cat([_per_anchor(self.cls_logits(self.conv(f)), self.num_classes)
                          for f in x], dim=1)


def _box_regression_loss(kind: str, coder, anchors: Tensor, gt_boxes: Tensor, deltas: Tensor
                         ) -> Tensor:
    """Elementwise box loss: on the encoded deltas for ``l1`` / ``smooth_l1`` (summed over the
    four coordinates), on the decoded boxes for the IoU-type losses."""
    if kind in ("l1", "smooth_l1"):
        target = coder.encode_single(gt_boxes, anchors)
        if kind == "l1":
            return (deltas - target).abs().sum(dim=-1)
        return F.smooth_l1_loss(deltas, target, reduction="none", beta=1.0).sum(dim=-1)
    iou_losses = {"giou": box_ops.generalized_box_iou_loss,
                  "diou": box_ops.distance_box_iou_loss,
                  "ciou": box_ops.complete_box_iou_loss}
    if kind not in iou_losses:
        raise ValueError(f"RetinaNetRegressionHead: unknown box loss {kind!r}; expected one of "
                         f"l1, smooth_l1, {', '.join(iou_losses)}")
    boxes = coder.decode_single(deltas, anchors)
    return iou_losses[kind](boxes, gt_boxes, reduction="none", eps=1e-7)


class RetinaNetRegressionHead(nn.Module):
    """Per anchor four box deltas (BoxCoder with unit weights); L1 loss by default
    (``_loss_type``: "l1", "smooth_l1", "giou", "diou" or "ciou")."""

    _version = 2

    def __init__(self, in_channels, num_anchors,
                 norm_layer: Optional[Callable[..., nn.Module]] = None):
        super().__init__()
        self.conv = _tower(in_channels, norm_layer)
        self.bbox_reg = nn.Conv2d(in_channels, num_anchors * 4, kernel_size=3, stride=1,
                                  padding=1)
        _init_small_normal([self.bbox_reg])
        _init_small_normal(self.conv.modules())
        self.box_coder = det_utils.BoxCoder(weights=(1.0, 1.0, 1.0, 1.0))
        self._loss_type = "l1"
        self.register_load_state_dict_pre_hook(_upgrade_tower_keys)

    def compute_loss(self, targets, head_outputs, anchors, matched_idxs):
        """Box loss summed over each image's foreground anchors, divided by their count,
        averaged over images."""
        deltas = head_outputs["bbox_regression"]  # (N, anchors, 4)
        matched = _stack_matches(matched_idxs)
        anchors = torch.stack(list(anchors), dim=0)
        # every non-foreground anchor is paired with itself: a finite loss that is masked out
        gt = torch.stack([t["boxes"][m.clamp(min=0)] if t["boxes"].numel() else a
                          for t, m, a in zip(targets, matched, anchors)], dim=0)
        fg = matched >= 0
        gt = torch.where(fg[..., None], gt, anchors)
        loss = _box_regression_loss(self._loss_type, self.box_coder, anchors.reshape(-1, 4),
                                    gt.reshape(-1, 4), deltas.reshape(-1, 4))
        loss = loss.reshape(matched.shape) * fg.to(loss.dtype)
        return _per_image_mean(loss.sum(dim=1), matched)

    def forward(self, x):
        return torch.cat([_per_anchor(self.bbox_reg(self.conv(f)), 4) for f in x], dim=1)


class RetinaNet(nn.Module):
    """RetinaNet: ``model(images, targets)`` gives ``{"classification", "bbox_regression"}``
    losses in training mode, ``model(images)`` one ``{"boxes", "scores", "labels"}`` dict per
    image in eval mode. ``backbone`` must return the FPN levels and carry ``out_channels``."""

    def __init__(self, backbone, num_classes, min_size=800, max_size=1333, image_mean=None,
                 image_std=None, anchor_generator=None, head=None, proposal_matcher=None,
                 score_thresh=0.05, nms_thresh=0.5, detections_per_img=300, fg_iou_thresh=0.5,
                 bg_iou_thresh=0.4, topk_candidates=1000, **kwargs):
        super().__init__()
        if not hasattr(backbone, "out_channels"):
            raise ValueError("backbone should contain an attribute out_channels specifying the "
                             "number of output channels (assumed to be the same for all the "
                             "levels)")
        if anchor_generator is None:
            anchor_generator = _default_anchorgen()
        if not isinstance(anchor_generator, AnchorGenerator):
            raise TypeError(f"anchor_generator should be of type AnchorGenerator or None, "
                            f"got {type(anchor_generator)}")
        if head is None:
            head = RetinaNetHead(backbone.out_channels,
                                 anchor_generator.num_anchors_per_location()[0], num_classes)
        if proposal_matcher is None:
            # objects whose best IoU is below fg_iou_thresh still get their best anchors
            proposal_matcher = det_utils.Matcher(fg_iou_thresh, bg_iou_thresh,
                                                 allow_low_quality_matches=True)
        self.backbone = backbone
        self.anchor_generator = anchor_generator
        self.head = head
        self.proposal_matcher = proposal_matcher
        self.box_coder = det_utils.BoxCoder(weights=(1.0, 1.0, 1.0, 1.0))
        self.transform = GeneralizedRCNNTransform(
            min_size, max_size, _IMAGENET_MEAN if image_mean is None else image_mean,
            _IMAGENET_STD if image_std is None else image_std, **kwargs)
        self.score_thresh = score_thresh
        self.nms_thresh = nms_thresh
        self.detections_per_img = detections_per_img
        self.topk_candidates = topk_candidates
        self._has_warned = False

    def eager_outputs(self, losses, detections):
        return losses if self.training else detections

    def compute_loss(self, targets, head_outputs, anchors):
        """Match every image's anchors to its objects (all background when it has none), then
        the head's losses."""
        matched_idxs = det_utils._match_anchors(self.proposal_matcher, targets, anchors)
        return self.head.compute_loss(targets, head_outputs, anchors, matched_idxs)

    def _detect_level(self, logits: Tensor, deltas: Tensor, anchors: Tensor, image_shape):
        """One image's candidates on one level: the ``topk_candidates`` best (anchor, class)
        pairs scoring above ``score_thresh``, with their decoded, clipped boxes."""
        num_classes = logits.shape[-1]
        scores = torch.sigmoid(logits).flatten()
        candidates = torch.where(scores > self.score_thresh)[0]
        k = min(self.topk_candidates, candidates.shape[0])
        scores, order = scores[candidates].topk(k)
        candidates = candidates[order]
        anchor_idx = torch.div(candidates, num_classes, rounding_mode="floor")
        boxes = self.box_coder.decode_single(deltas[anchor_idx], anchors[anchor_idx])
        return box_ops.clip_boxes_to_image(boxes, image_shape), scores, candidates % num_classes

    def postprocess_detections(self, head_outputs, anchors, image_shapes):
        """``head_outputs`` and ``anchors`` split by level; per image the candidates of all
        levels go through per-class NMS and the ``detections_per_img`` best remain."""
        detections = []
        for i, shape in enumerate(image_shapes):
            per_level = [self._detect_level(logits[i], deltas[i], level_anchors, shape)
                         for logits, deltas, level_anchors in zip(
                             head_outputs["cls_logits"], head_outputs["bbox_regression"],
                             anchors[i])]
            boxes, scores, labels = (torch.cat(parts, dim=0) for parts in zip(*per_level))
            keep = box_ops.batched_nms(boxes, scores, labels, self.nms_thresh)
            keep = keep[: self.detections_per_img]
            detections.append({"boxes": boxes[keep], "scores": scores[keep],
                               "labels": labels[keep]})
        return detections

    def forward(self, images, targets=None):
        images, targets, original_image_sizes, features, head_outputs, anchors = \
            det_utils._dense_start(self, images, targets)

        losses, detections = {}, []
        if self.training:
            _assert(targets is not None, "targets should not be none when in training mode")
            losses = self.compute_loss(targets, head_outputs, anchors)
        else:
            # the head lists anchors level by level: split its outputs and the anchors the same
            locations = [f.shape[-2] * f.shape[-1] for f in features]
            per_location = head_outputs["cls_logits"].shape[1] // sum(locations)
            sizes = [n * per_location for n in locations]
            split_outputs = {k: list(v.split(sizes, dim=1)) for k, v in head_outputs.items()}
            split_anchors = [list(a.split(sizes)) for a in anchors]
            detections = self.postprocess_detections(split_outputs, split_anchors,
                                                     images.image_sizes)
            detections = self.transform.postprocess(detections, images.image_sizes,
                                                    original_image_sizes)
        return self.eager_outputs(losses, detections)


RetinaNet_ResNet50_FPN_Weights = _coco_weights(
    "RetinaNet_ResNet50_FPN_Weights", "retinanet_resnet50_fpn_coco-eeacb38b.pth", 34014999)
RetinaNet_ResNet50_FPN_V2_Weights = _coco_weights(
    "RetinaNet_ResNet50_FPN_V2_Weights", "retinanet_resnet50_fpn_v2_coco-5905b1c5.pth", 38198935)


def retinanet_resnet50_fpn(*, weights=None, progress=True, num_classes=None,
                           weights_backbone=ResNet50_Weights.IMAGENET1K_V1,
                           trainable_backbone_layers=None, **kwargs):
    """RetinaNet with a ResNet-50-FPN backbone (levels P3-P5 plus P6, P7 from P5)."""
    weights, weights_backbone, num_classes = _resolve(
        RetinaNet_ResNet50_FPN_Weights, weights, ResNet50_Weights, weights_backbone,
        num_classes, kwargs)
    backbone = _resnet50_fpn(weights, weights_backbone, trainable_backbone_layers, True,
                             returned_layers=[2, 3, 4], extra_blocks=LastLevelP6P7(256, 256))
    model = _load(RetinaNet(backbone, num_classes, **kwargs), weights)
    if weights is not None:  # the COCO checkpoint was trained with FrozenBatchNorm eps 0
        overwrite_eps(model, 0.0)
    return model


def retinanet_resnet50_fpn_v2(*, weights=None, progress=True, num_classes=None,
                              weights_backbone=None, trainable_backbone_layers=None, **kwargs):
    """RetinaNet v2: P6 from C5 (2048 channels), GroupNorm(32) in the heads, GIoU box loss."""
    weights, weights_backbone, num_classes = _resolve(
        RetinaNet_ResNet50_FPN_V2_Weights, weights, ResNet50_Weights, weights_backbone,
        num_classes, kwargs)
    backbone = _resnet50_fpn(weights, weights_backbone, trainable_backbone_layers, False,
                             returned_layers=[2, 3, 4], extra_blocks=LastLevelP6P7(2048, 256))
    anchor_generator = _default_anchorgen()
    head = RetinaNetHead(backbone.out_channels, anchor_generator.num_anchors_per_location()[0],
                         num_classes, norm_layer=partial(nn.GroupNorm, 32))
    head.regression_head._loss_type = "giou"
    model = RetinaNet(backbone, num_classes, anchor_generator=anchor_generator, head=head,
                      **kwargs)
    return _load(model, weights)
