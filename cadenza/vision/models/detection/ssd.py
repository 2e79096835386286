"""torchvision.models.detection.ssd: SSD (Liu et al., "SSD: Single Shot MultiBox Detector",
2016) and its VGG-16 300x300 variant.

A backbone returns feature maps of decreasing resolution; on each, one 3x3 convolution predicts
per default box (DefaultBoxGenerator) the class logits (softmax over the classes, background
0) and another the box offsets (encoded with weights 10, 10, 5, 5: the paper's variances 0.1,
0.2). Training matches boxes to objects (IoU >= 0.5, plus every object's best box), takes a
smooth-L1 loss over the matched boxes and a cross entropy over them and the hardest negatives
(``neg_to_pos_ratio`` = 3 per positive, chosen by their loss), both divided by the number of
matched boxes. Inference keeps, per class, the ``topk_candidates`` best scores above
``score_thresh``, runs per-class NMS and keeps ``detections_per_img``. Module names and
state-dict keys are torchvision's."""

from __future__ import annotations

import warnings
from collections import OrderedDict
from typing import Optional

import cadenza as torch
from cadenza import Tensor, nn
from cadenza.nn import functional as F

from ... import ops as box_ops
from ..vgg import VGG16_Weights, vgg16
from . import _utils as det_utils
from ._utils import _assert
from .anchor_utils import DefaultBoxGenerator
from .backbone_utils import _validate_trainable_layers
from .faster_rcnn import _coco_weights, _load, _resolve
from .retinanet import _per_anchor
from .transform import GeneralizedRCNNTransform

__all__ = ["SSD300_VGG16_Weights", "ssd300_vgg16"]

_IMAGENET_MEAN = [0.485, 0.456, 0.406]
_IMAGENET_STD = [0.229, 0.224, 0.225]


def _xavier_init(conv: nn.Module) -> None:
    for layer in conv.modules():
        if isinstance(layer, nn.Conv2d):
            nn.init.xavier_uniform_(layer.weight)
            if layer.bias is not None:
                nn.init.constant_(layer.bias, 0.0)


class SSDScoringHead(nn.Module):
    """One predictor per feature map; ``forward`` concatenates their outputs as
    (N, all boxes, ``num_columns``), boxes ordered level, location, box (the generator's
    order)."""

    def __init__(self, module_list: nn.ModuleList, num_columns: int):
        super().__init__()
        self.module_list = module_list
        self.num_columns = num_columns

    def _get_result_from_module_list(self, x: Tensor, idx: int) -> Tensor:
        return self.module_list[idx](x)

    def forward(self, x: list[Tensor]) -> Tensor:
        _assert(len(x) == len(self.module_list),
                f"{type(self).__name__}: got {len(x)} feature maps for "
                f"{len(self.module_list)} predictors")
        return torch.cat([_per_anchor(self._get_result_from_module_list(f, i),
                                      self.num_columns) for i, f in enumerate(x)], dim=1)


class SSDClassificationHead(SSDScoringHead):
    def __init__(self, in_channels: list[int], num_anchors: list[int], num_classes: int):
        convs = nn.ModuleList([nn.Conv2d(c, a * num_classes, kernel_size=3, padding=1)
                               for c, a in zip(in_channels, num_anchors)])
        _xavier_init(convs)
        super().__init__(convs, num_classes)


class SSDRegressionHead(SSDScoringHead):
    def __init__(self, in_channels: list[int], num_anchors: list[int]):
        convs = nn.ModuleList([nn.Conv2d(c, a * 4, kernel_size=3, padding=1)
                               for c, a in zip(in_channels, num_anchors)])
        _xavier_init(convs)
        super().__init__(convs, 4)


class SSDHead(nn.Module):
    def __init__(self, in_channels: list[int], num_anchors: list[int], num_classes: int):
        super().__init__()
        self.classification_head = SSDClassificationHead(in_channels, num_anchors, num_classes)
        self.regression_head = SSDRegressionHead(in_channels, num_anchors)

    def forward(self, x: list[Tensor]) -> dict[str, Tensor]:
        return {"bbox_regression": self.regression_head(x),
                "cls_logits": self.classification_head(x)}


class SSD(nn.Module):
    """SSD: ``model(images, targets)`` gives ``{"bbox_regression", "classification"}`` losses
    in training mode, ``model(images)`` one ``{"boxes", "scores", "labels"}`` dict per image in
    eval mode. Images are resized to ``size`` (h, w) exactly."""

    def __init__(self, backbone: nn.Module, anchor_generator: DefaultBoxGenerator,
                 size: tuple[int, int], num_classes: int, image_mean: Optional[list] = None,
                 image_std: Optional[list] = None, head: Optional[nn.Module] = None,
                 score_thresh: float = 0.01, nms_thresh: float = 0.45,
                 detections_per_img: int = 200, iou_thresh: float = 0.5,
                 topk_candidates: int = 400, positive_fraction: float = 0.25, **kwargs):
        super().__init__()
        if not isinstance(anchor_generator, DefaultBoxGenerator):
            raise TypeError(f"anchor_generator should be of type DefaultBoxGenerator, "
                            f"got {type(anchor_generator)}")
        self.backbone = backbone
        self.anchor_generator = anchor_generator
        self.box_coder = det_utils.BoxCoder(weights=(10.0, 10.0, 5.0, 5.0))
        if head is None:
            if hasattr(backbone, "out_channels"):
                out_channels = backbone.out_channels
            else:
                out_channels = det_utils.retrieve_out_channels(backbone, size)
            num_anchors = anchor_generator.num_anchors_per_location()
            if len(out_channels) != len(num_anchors):
                raise ValueError(f"SSD: the backbone returns {len(out_channels)} feature maps "
                                 f"but the anchor generator has {len(num_anchors)} levels")
            head = SSDHead(out_channels, num_anchors, num_classes)
        self.head = head
        self.proposal_matcher = det_utils.SSDMatcher(iou_thresh)
        self.transform = GeneralizedRCNNTransform(
            min(size), max(size), _IMAGENET_MEAN if image_mean is None else image_mean,
            _IMAGENET_STD if image_std is None else image_std, size_divisible=1,
            fixed_size=size, **kwargs)
        self.score_thresh = score_thresh
        self.nms_thresh = nms_thresh
        self.detections_per_img = detections_per_img
        self.topk_candidates = topk_candidates
        self.neg_to_pos_ratio = (1.0 - positive_fraction) / positive_fraction
        self._has_warned = False

    def eager_outputs(self, losses, detections):
        return losses if self.training else detections

    def compute_loss(self, targets, head_outputs, anchors, matched_idxs):
        deltas, logits = head_outputs["bbox_regression"], head_outputs["cls_logits"]
        num_foreground = 0
        box_losses, class_targets = [], []
        for target, deltas_i, anchors_i, matched in zip(targets, deltas, anchors,
                                                        matched_idxs):
            fg = torch.where(matched >= 0)[0]
            fg_objects = matched[fg]
            num_foreground += fg.numel()
            gt = target["boxes"][fg_objects]
            encoded = self.box_coder.encode_single(gt, anchors_i[fg])
            box_losses.append(F.smooth_l1_loss(deltas_i[fg], encoded, reduction="sum"))
            labels = torch.zeros((anchors_i.shape[0],), dtype=target["labels"].dtype,
                                 device=anchors_i.device)
            labels[fg] = target["labels"][fg_objects]
            class_targets.append(labels)
        box_loss = torch.stack(box_losses)
        class_targets = torch.stack(class_targets)
        num_classes = logits.shape[-1]
        ce = F.cross_entropy(logits.reshape(-1, num_classes), class_targets.reshape(-1),
                             reduction="none").reshape(class_targets.shape)
        # hard negative mining: per image the neg_to_pos_ratio * positives highest-loss
        # background boxes
        positive = class_targets > 0
        num_negative = self.neg_to_pos_ratio * positive.sum(1, keepdim=True)
        negative_loss = ce.detach().clone()
        negative_loss[positive] = -float("inf")
        order = negative_loss.sort(1, descending=True)[1]
        rank = order.sort(1)[1]
        hard_negative = rank < num_negative
        n = max(1, num_foreground)
        return {"bbox_regression": box_loss.sum() / n,
                "classification": (ce[positive].sum() + ce[hard_negative].sum()) / n}

    def postprocess_detections(self, head_outputs, image_anchors, image_shapes):
        deltas = head_outputs["bbox_regression"]
        scores = F.softmax(head_outputs["cls_logits"], dim=-1)
        num_classes = scores.shape[-1]
        detections = []
        for deltas_i, scores_i, anchors_i, shape in zip(deltas, scores, image_anchors,
                                                        image_shapes):
            boxes = self.box_coder.decode_single(deltas_i, anchors_i)
            boxes = box_ops.clip_boxes_to_image(boxes, shape)
            all_boxes, all_scores, all_labels = [], [], []
            for label in range(1, num_classes):
                score = scores_i[:, label]
                keep = score > self.score_thresh
                score, box = score[keep], boxes[keep]
                k = det_utils._topk_min(score, self.topk_candidates, 0)
                score, idx = score.topk(k)
                all_boxes.append(box[idx])
                all_scores.append(score)
                all_labels.append(torch.full_like(score, label, dtype=torch.int64))
            boxes_i = torch.cat(all_boxes, dim=0)
            scores_i = torch.cat(all_scores, dim=0)
            labels_i = torch.cat(all_labels, dim=0)
            keep = box_ops.batched_nms(boxes_i, scores_i, labels_i, self.nms_thresh)
            keep = keep[: self.detections_per_img]
            detections.append({"boxes": boxes_i[keep], "scores": scores_i[keep],
                               "labels": labels_i[keep]})
        return detections

    def forward(self, images, targets=None):
        images, targets, original_image_sizes, _, head_outputs, anchors = \
            det_utils._dense_start(self, images, targets)
        losses, detections = {}, []
        if self.training:
            matched_idxs = det_utils._match_anchors(self.proposal_matcher, targets, anchors)
            losses = self.compute_loss(targets, head_outputs, anchors, matched_idxs)
        else:
            detections = self.postprocess_detections(head_outputs, anchors,
                                                     images.image_sizes)
            detections = self.transform.postprocess(detections, images.image_sizes,
                                                    original_image_sizes)
        return self.eager_outputs(losses, detections)


class SSDFeatureExtractorVGG(nn.Module):
    """VGG's layers up to conv4_3 (its third max-pool in ceil mode), whose output is
    L2-normalised per location and scaled by a learned per-channel weight (initially 20, as
    in ParseNet), then pool5 + conv5, the dilated fc6 / 1x1 fc7 convolutions and four
    1x1-then-3x3 blocks: six maps (38, 19, 10, 5, 3, 1 at 300x300). ``highres`` (SSD512) adds
    a fifth 1x1-then-4x4 block."""

    def __init__(self, backbone: nn.Module, highres: bool):
        super().__init__()
        pools = [i for i, layer in enumerate(backbone) if isinstance(layer, nn.MaxPool2d)]
        _assert(len(pools) == 5, "SSDFeatureExtractorVGG expects VGG's five max-pools")
        backbone[pools[-3]].ceil_mode = True
        self.scale_weight = nn.Parameter(torch.ones(512) * 20)
        self.features = nn.Sequential(*backbone[: pools[-2]])
        extra = [
            (1024, 256, 512, 2, 1, 3),
            (512, 128, 256, 2, 1, 3),
            (256, 128, 256, 1, 0, 3),
            (256, 128, 256, 1, 0, 3),
        ]
        if highres:
            extra.append((256, 128, 256, 1, 1, 4))
        blocks = [nn.Sequential(nn.Conv2d(c_in, mid, kernel_size=1), nn.ReLU(inplace=True),
                                nn.Conv2d(mid, c_out, kernel_size=k, stride=s, padding=p),
                                nn.ReLU(inplace=True))
                  for c_in, mid, c_out, s, p, k in extra]
        for block in blocks:
            _xavier_init(block)
        fc = nn.Sequential(
            nn.MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=False),
            nn.Conv2d(512, 1024, kernel_size=3, padding=6, dilation=6),  # fc6, dilated
            nn.ReLU(inplace=True),
            nn.Conv2d(1024, 1024, kernel_size=1),  # fc7
            nn.ReLU(inplace=True),
        )
        _xavier_init(fc)
        # pool4, conv5_1..conv5_3 (VGG's last pool replaced by fc's 3x3 stride-1 pool)
        self.extra = nn.ModuleList([nn.Sequential(*backbone[pools[-2]: pools[-1]], fc)]
                                   + blocks)

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        x = self.features(x)
        out = [self.scale_weight.reshape(1, -1, 1, 1) * F.normalize(x)]
        for block in self.extra:
            x = block(x)
            out.append(x)
        return OrderedDict((str(i), v) for i, v in enumerate(out))


def _vgg_extractor(backbone, highres: bool, trainable_layers: int) -> SSDFeatureExtractorVGG:
    """``backbone`` (VGG's ``features``) with all but its last ``trainable_layers`` of 5
    stages (split at the max-pools) frozen."""
    stages = [0] + [i for i, layer in enumerate(backbone)
                    if isinstance(layer, nn.MaxPool2d)][:-1]
    _assert(0 <= trainable_layers <= len(stages),
            f"trainable_layers should be in the range [0, {len(stages)}], "
            f"got {trainable_layers}")
    if trainable_layers < len(stages):
        end = len(backbone) if trainable_layers == 0 else stages[len(stages) - trainable_layers]
        for parameter in backbone[:end].parameters():
            parameter.requires_grad_(False)
    return SSDFeatureExtractorVGG(backbone, highres)


SSD300_VGG16_Weights = _coco_weights("SSD300_VGG16_Weights", "ssd300_vgg16_coco-b556d3b4.pth",
                                     35641826)


def ssd300_vgg16(*, weights=None, progress=True, num_classes=None,
                 weights_backbone=VGG16_Weights.IMAGENET1K_FEATURES,
                 trainable_backbone_layers=None, **kwargs):
    """SSD300 with a VGG-16 backbone (the paper's model): 300x300 inputs, six maps with
    4, 6, 6, 6, 4, 4 boxes per location, mean (0.48235, 0.45882, 0.40784) and std 1/255 (the
    backbone expects 0-255 pixels)."""
    if "size" in kwargs:
        warnings.warn("The size of the model is already fixed; ignoring the parameter.")
        kwargs.pop("size")
    if "pretrained_backbone" in kwargs:  # the legacy flag: the SSD backbone's weights
        weights_backbone = VGG16_Weights.IMAGENET1K_FEATURES \
            if kwargs.pop("pretrained_backbone") else None
    weights, weights_backbone, num_classes = _resolve(
        SSD300_VGG16_Weights, weights, VGG16_Weights, weights_backbone, num_classes, kwargs)
    trainable = _validate_trainable_layers(weights is not None or weights_backbone is not None,
                                           trainable_backbone_layers, 5, 4)
    backbone = _vgg_extractor(vgg16(weights=weights_backbone).features, False, trainable)
    anchor_generator = DefaultBoxGenerator(
        [[2], [2, 3], [2, 3], [2, 3], [2], [2]],
        scales=[0.07, 0.15, 0.33, 0.51, 0.69, 0.87, 1.05],
        steps=[8, 16, 32, 64, 100, 300])
    defaults = {"image_mean": [0.48235, 0.45882, 0.40784],
                "image_std": [1.0 / 255.0, 1.0 / 255.0, 1.0 / 255.0]}
    kwargs = {**defaults, **kwargs}
    model = SSD(backbone, anchor_generator, (300, 300), num_classes,
                head=SSDHead([512, 1024, 512, 256, 256, 256], [4, 6, 6, 6, 4, 4], num_classes),
                **kwargs)
    return _load(model, weights)
