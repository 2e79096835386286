"""The Region Proposal Network of Faster R-CNN (the names of
``torchvision.models.detection.rpn``).

``RPNHead`` slides a small conv net over every feature level and predicts, for each of the A
anchors of a cell, an objectness logit and four box deltas. ``RegionProposalNetwork`` decodes
the deltas against the anchors, keeps the best-scoring boxes per level, clips them to the image,
drops tiny and low-score ones and runs non-maximum suppression per level (FPN, Lin et al.
2017); in training it also labels the anchors by IoU with the ground truth and returns the
objectness and box-regression losses on a balanced sample of them (Ren et al. 2015, sec. 3.1.3).

Proposals leave the network detached (the paper's "approximate joint training"), so ranking
and filtering pick indices with NumPy and only the losses stay on the autograd graph.
"""
from __future__ import annotations
from typing import Optional

import numpy as np

import cadenza as torch
from cadenza import Tensor, nn
from cadenza.nn import functional as F

from ... import ops as box_ops
from ...ops import Conv2dNormActivation
from . import _utils as det_utils
from .anchor_utils import AnchorGenerator
from .image_list import ImageList


class RPNHead(nn.Module):
    """``conv_depth`` 3x3 conv + ReLU layers shared by all levels, then two 1x1 convs: A
    objectness logits and 4 * A box deltas per cell. Weights start N(0, 0.01), biases 0."""

    def __init__(self, in_channels: int, num_anchors: int, conv_depth=1) -> None:
        super().__init__()
        self.conv = nn.Sequential(*[
            Conv2dNormActivation(in_channels, in_channels, kernel_size=3, norm_layer=None)
            for _ in range(conv_depth)])
        self.cls_logits = nn.Conv2d(in_channels, num_anchors, kernel_size=1, stride=1)
        self.bbox_pred = nn.Conv2d(in_channels, num_anchors * 4, kernel_size=1, stride=1)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.normal_(module.weight, std=0.01)
                if module.bias is not None:
                    nn.init.constant_(module.bias, 0)
        # stored directly (not through register_load_state_dict_pre_hook's closure) so that
        # torch.save(model) can still pickle the module
        self._load_state_dict_pre_hooks["rename_single_conv_keys"] = \
            RPNHead._rename_single_conv_keys

    @staticmethod
    def _rename_single_conv_keys(state_dict, prefix, *unused):
        """Checkpoints of the one-conv head before ``conv_depth`` existed (torchvision's
        version-1 RPNHead, e.g. the original COCO Faster R-CNN weights) name the conv
        ``conv.weight`` / ``conv.bias``; it is ``conv.0.0.*`` now."""
        for kind in ("weight", "bias"):
            old, new = f"{prefix}conv.{kind}", f"{prefix}conv.0.0.{kind}"
            if old in state_dict and new not in state_dict:
                state_dict[new] = state_dict.pop(old)

    def forward(self, x: list[Tensor]) -> tuple[list[Tensor], list[Tensor]]:
        logits, deltas = [], []
        for feature in x:
            hidden = self.conv(feature)
            logits.append(self.cls_logits(hidden))
            deltas.append(self.bbox_pred(hidden))
        return logits, deltas


def permute_and_flatten(layer: Tensor, N: int, A: int, C: int, H: int, W: int) -> Tensor:
    """(N, A * C, H, W) predictions -> (N, H * W * A, C), rows in the anchors' order (row,
    column, anchor)."""
    return layer.reshape(N, A, C, H, W).permute(0, 3, 4, 1, 2).reshape(N, H * W * A, C)


def concat_box_prediction_layers(
    box_cls: list[Tensor], box_regression: list[Tensor]
) -> tuple[Tensor, Tensor]:
    """Per-level class maps (N, A * C, H, W) and delta maps (N, A * 4, H, W) -> one
    (N * sum(H * W * A), C) score matrix and one (N * sum(H * W * A), 4) delta matrix, image
    by image, each image's rows level by level like the anchors."""
    scores, deltas = [], []
    for cls_map, reg_map in zip(box_cls, box_regression):
        n, _, height, width = cls_map.shape
        anchors = reg_map.shape[1] // 4
        classes = cls_map.shape[1] // anchors
        scores.append(permute_and_flatten(cls_map, n, anchors, classes, height, width))
        deltas.append(permute_and_flatten(reg_map, n, anchors, 4, height, width))
    scores = torch.cat(scores, dim=1)
    return scores.reshape(-1, scores.shape[-1]), torch.cat(deltas, dim=1).reshape(-1, 4)


class RegionProposalNetwork(nn.Module):
    """Faster R-CNN's RPN. ``pre_nms_top_n`` / ``post_nms_top_n`` are dicts with "training"
    and "testing" counts (per level before NMS, per image after); anchors with IoU >=
    ``fg_iou_thresh`` are positives, < ``bg_iou_thresh`` negatives (plus each ground truth's
    best anchors); ``batch_size_per_image`` anchors per image enter the losses."""

    def __init__(
        self,
        anchor_generator: AnchorGenerator,
        head: nn.Module,
        fg_iou_thresh: float,
        bg_iou_thresh: float,
        batch_size_per_image: int,
        positive_fraction: float,
        pre_nms_top_n: dict[str, int],
        post_nms_top_n: dict[str, int],
        nms_thresh: float,
        score_thresh: float = 0.0,
    ) -> None:
        super().__init__()
        self.anchor_generator = anchor_generator
        self.head = head
        self.box_coder = det_utils.BoxCoder(weights=(1.0, 1.0, 1.0, 1.0))
        self.box_similarity = box_ops.box_iou
        self.proposal_matcher = det_utils.Matcher(
            fg_iou_thresh, bg_iou_thresh, allow_low_quality_matches=True)
        self.fg_bg_sampler = det_utils.BalancedPositiveNegativeSampler(
            batch_size_per_image, positive_fraction)
        self._pre_nms_top_n = pre_nms_top_n
        self._post_nms_top_n = post_nms_top_n
        self.nms_thresh = nms_thresh
        self.score_thresh = score_thresh
        self.min_size = 1e-3  # boxes thinner than this (after clipping) are dropped

    def _mode(self) -> str:
        return "training" if self.training else "testing"

    def pre_nms_top_n(self) -> int:
        return self._pre_nms_top_n[self._mode()]

    def post_nms_top_n(self) -> int:
        return self._post_nms_top_n[self._mode()]

    def assign_targets_to_anchors(
        self, anchors: list[Tensor], targets: list[dict[str, Tensor]]
    ) -> tuple[list[Tensor], list[Tensor]]:
        """Per image: anchor labels (1 object, 0 background, -1 ignored) and the ground-truth
        box each anchor regresses to (zeros where the image has no ground truth)."""
        labels, matched_boxes = [], []
        for image_anchors, target in zip(anchors, targets):
            gt_boxes = target["boxes"]
            count = image_anchors.shape[0]
            if gt_boxes.numel() == 0:  # an image of pure background
                matched_boxes.append(torch.zeros(image_anchors.shape, dtype=image_anchors.dtype,
                                                 device=image_anchors.device))
                labels.append(torch.zeros(count, dtype=torch.float32,
                                          device=image_anchors.device))
                continue
            matches = self.proposal_matcher(self.box_similarity(gt_boxes, image_anchors))
            matches_np = matches.numpy()
            label = np.where(matches_np >= 0, 1.0, 0.0).astype(np.float32)
            label[matches_np == self.proposal_matcher.BETWEEN_THRESHOLDS] = -1.0
            labels.append(torch.from_numpy(label).to(image_anchors.device))
            matched_boxes.append(gt_boxes[matches.clamp(min=0)])
        return labels, matched_boxes

    def _get_top_n_idx(self, objectness: Tensor, num_anchors_per_level: list[int]) -> Tensor:
        """(N, total) scores -> (N, sum of per-level k) column indices of each level's
        ``pre_nms_top_n`` best anchors, best first within a level."""
        picked, start = [], 0
        for count in num_anchors_per_level:
            level = objectness[:, start:start + count]
            k = det_utils._topk_min(level, self.pre_nms_top_n(), 1)
            picked.append(level.topk(k, dim=1)[1] + start)
            start += count
        return torch.cat(picked, dim=1)

    def filter_proposals(
        self,
        proposals: Tensor,
        objectness: Tensor,
        image_shapes: list[tuple[int, int]],
        num_anchors_per_level: list[int],
    ) -> tuple[list[Tensor], list[Tensor]]:
        """Per image, the surviving proposal boxes and their objectness probabilities."""
        num_images = proposals.shape[0]
        logits = objectness.detach().reshape(num_images, -1)
        columns = self._get_top_n_idx(logits, num_anchors_per_level).numpy()
        rows = np.arange(num_images)[:, None]
        level_of = np.repeat(np.arange(len(num_anchors_per_level)), num_anchors_per_level)
        probs = torch.sigmoid(torch.from_numpy(logits.numpy()[rows, columns]))
        candidates = proposals.detach().numpy()[rows, columns]
        kept_boxes, kept_scores = [], []
        for i, image_shape in enumerate(image_shapes):
            boxes = box_ops.clip_boxes_to_image(torch.from_numpy(candidates[i]), image_shape)
            scores = probs[i]
            big = np.zeros(len(columns[i]), bool)
            big[box_ops.remove_small_boxes(boxes, self.min_size).numpy()] = True
            keep = torch.from_numpy(np.flatnonzero(big & (scores.numpy() >= self.score_thresh)))
            boxes, scores = boxes[keep], scores[keep]
            levels = torch.from_numpy(level_of[columns[i]][keep.numpy()])
            # suppress within a level only: FPN levels see objects of different scales
            keep = box_ops.batched_nms(boxes, scores, levels, self.nms_thresh)
            keep = keep[: self.post_nms_top_n()]
            kept_boxes.append(boxes[keep].to(proposals.device))
            kept_scores.append(scores[keep].to(proposals.device))
        return kept_boxes, kept_scores

    def compute_loss(
        self, objectness: Tensor, pred_bbox_deltas: Tensor, labels: list[Tensor],
        regression_targets: list[Tensor],
    ) -> tuple[Tensor, Tensor]:
        """Binary cross-entropy of the objectness over the sampled anchors, and the smooth-L1
        (beta 1/9) box loss of the sampled positives summed and divided by the sample size."""
        positive_masks, negative_masks = self.fg_bg_sampler(labels)
        positives = np.flatnonzero(np.concatenate([m.numpy() for m in positive_masks]))
        negatives = np.flatnonzero(np.concatenate([m.numpy() for m in negative_masks]))
        sampled = torch.from_numpy(np.concatenate([positives, negatives]))
        positives = torch.from_numpy(positives)
        labels = torch.cat(labels, dim=0)
        regression_targets = torch.cat(regression_targets, dim=0)
        box_loss = F.smooth_l1_loss(pred_bbox_deltas[positives], regression_targets[positives],
                                    beta=1 / 9, reduction="sum") / sampled.numel()
        objectness_loss = F.binary_cross_entropy_with_logits(
            objectness.flatten()[sampled], labels[sampled].to(objectness.dtype))
        return objectness_loss, box_loss

    def forward(
        self, images: ImageList, features: dict[str, Tensor],
        targets: Optional[list[dict[str, Tensor]]] = None,
    ) -> tuple[list[Tensor], dict[str, Tensor]]:
        """Proposals per image (each (<= post_nms_top_n, 4)) and, in training, the losses
        ``loss_objectness`` and ``loss_rpn_box_reg``."""
        maps = list(features.values())
        logits, deltas = self.head(maps)
        anchors = self.anchor_generator(images, maps)
        per_level = [int(np.prod(level.shape[1:])) for level in logits]  # A * H * W
        logits, deltas = concat_box_prediction_layers(logits, deltas)
        proposals = self.box_coder.decode(deltas.detach(), anchors)
        proposals = proposals.reshape(len(anchors), -1, 4)
        boxes, _ = self.filter_proposals(proposals, logits, images.image_sizes, per_level)
        losses = {}
        if self.training:
            if targets is None:
                raise ValueError("RegionProposalNetwork: targets should not be None in "
                                 "training mode")
            labels, matched_boxes = self.assign_targets_to_anchors(anchors, targets)
            regression_targets = self.box_coder.encode(matched_boxes, anchors)
            objectness_loss, box_loss = self.compute_loss(logits, deltas, labels,
                                                          regression_targets)
            losses = {"loss_objectness": objectness_loss, "loss_rpn_box_reg": box_loss}
        return boxes, losses
