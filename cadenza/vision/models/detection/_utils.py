"""Shared pieces of the detectors (the names of ``torchvision.models.detection._utils``).

- ``BoxCoder`` / ``BoxLinearCoder``: boxes <-> regression targets relative to reference boxes.
- ``Matcher`` / ``SSDMatcher``: give every prediction the ground-truth box it overlaps most, or
  mark it background / ignored by IoU thresholds.
- ``BalancedPositiveNegativeSampler``: pick a fixed-size, class-balanced minibatch of anchors
  or proposals per image for the classification losses.
- ``_box_loss``, ``_prepare``, ``overwrite_eps`` ...: small helpers the model files share.

Matching and sampling only pick indices, so they run on NumPy copies of detached tensors; the
coders stay on Cadenza ops because their decoded boxes carry gradients (RetinaNet's IoU
losses).
"""
from __future__ import annotations
import math
from typing import Optional

import numpy as np

import cadenza as torch
from cadenza import Tensor, nn
from cadenza.nn import functional as F

from ...ops import (
    FrozenBatchNorm2d,
    box_iou,
    complete_box_iou_loss,
    distance_box_iou_loss,
    generalized_box_iou_loss,
)


def _assert(condition, message):
    """torch._assert: AssertionError with ``message`` when ``condition`` is false."""
    if not condition:
        raise AssertionError(message)


def _centres_and_sizes(boxes: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """(x1, y1, x2, y2) rows -> their centre x, centre y, width and height columns."""
    width = boxes[:, 2] - boxes[:, 0]
    height = boxes[:, 3] - boxes[:, 1]
    return boxes[:, 0] + 0.5 * width, boxes[:, 1] + 0.5 * height, width, height


def _check_boxes(where: str, name: str, boxes) -> None:
    if not isinstance(boxes, Tensor) or boxes.dim() != 2 or boxes.shape[-1] != 4:
        got = tuple(boxes.shape) if isinstance(boxes, Tensor) else type(boxes).__name__
        raise ValueError(f"{where}: {name} should be a tensor of shape [N, 4], got {got}")


def encode_boxes(reference_boxes: Tensor, proposals: Tensor, weights: Tensor) -> Tensor:
    """Regression targets (dx, dy, dw, dh) that move each proposal onto its reference box:
    the centre offset in units of the proposal's size and the log size ratio (Faster R-CNN,
    eq. 2), each scaled by its weight."""
    ref_x, ref_y, ref_w, ref_h = _centres_and_sizes(reference_boxes)
    box_x, box_y, box_w, box_h = _centres_and_sizes(proposals)
    wx, wy, ww, wh = weights[0], weights[1], weights[2], weights[3]
    return torch.stack([wx * (ref_x - box_x) / box_w, wy * (ref_y - box_y) / box_h,
                        ww * torch.log(ref_w / box_w), wh * torch.log(ref_h / box_h)], dim=1)


class BoxCoder:
    """Faster R-CNN's box parameterisation (Ren et al. 2015): a box relative to a reference
    box is its centre offset divided by the reference's width / height and the log of its size
    ratio, times ``weights`` (wx, wy, ww, wh). Decoding clips the log sizes at
    ``bbox_xform_clip`` so one wild prediction cannot overflow ``exp``."""

    def __init__(
        self, weights: tuple[float, float, float, float],
        bbox_xform_clip: float = math.log(1000.0 / 16),
    ) -> None:
        self.weights = weights
        self.bbox_xform_clip = bbox_xform_clip

    def encode(self, reference_boxes: list[Tensor], proposals: list[Tensor]) -> list[Tensor]:
        """Per-image lists in, per-image targets out (one encode over the concatenation)."""
        counts = [len(b) for b in reference_boxes]
        targets = self.encode_single(torch.cat(list(reference_boxes), dim=0),
                                     torch.cat(list(proposals), dim=0))
        return targets.split(counts, 0)

    def encode_single(self, reference_boxes: Tensor, proposals: Tensor) -> Tensor:
        _check_boxes("BoxCoder.encode_single", "reference_boxes", reference_boxes)
        _check_boxes("BoxCoder.encode_single", "proposals", proposals)
        weights = torch.as_tensor(self.weights, dtype=reference_boxes.dtype,
                                  device=reference_boxes.device)
        return encode_boxes(reference_boxes, proposals, weights)

    def decode(self, rel_codes: Tensor, boxes: list[Tensor]) -> Tensor:
        """``rel_codes`` (sum of the images' box counts, 4 * K) against the per-image reference
        ``boxes``; returns (total, K, 4) (or ``rel_codes``' shape when there are no boxes)."""
        if not isinstance(boxes, (list, tuple)) or not isinstance(rel_codes, Tensor):
            raise TypeError("BoxCoder.decode: expected a Tensor of codes and a list of box "
                            f"tensors, got {type(rel_codes).__name__} and "
                            f"{type(boxes).__name__}")
        references = torch.cat(list(boxes), dim=0)
        total = references.shape[0]
        width = rel_codes.numel() // total if total else rel_codes.shape[-1]
        decoded = self.decode_single(rel_codes.reshape(total, width), references)
        return decoded.reshape(total, width // 4, 4) if total else decoded

    def decode_single(self, rel_codes: Tensor, boxes: Tensor) -> Tensor:
        """(N, 4 * K) codes (K boxes per reference, e.g. one per class) -> (N, 4 * K) boxes."""
        n, width = rel_codes.shape
        if width % 4 or boxes.shape[0] != n:
            raise ValueError(f"BoxCoder.decode_single: codes of shape {tuple(rel_codes.shape)} "
                             f"do not fit {tuple(boxes.shape)} reference boxes (expected (N, "
                             "4 * K) codes for N boxes)")
        boxes = boxes.to(rel_codes.dtype)
        centre_x, centre_y, box_w, box_h = _centres_and_sizes(boxes)
        weights = torch.as_tensor(self.weights, dtype=rel_codes.dtype, device=rel_codes.device)
        codes = rel_codes.reshape(n, width // 4, 4) / weights
        log_w = codes[..., 2].clamp(max=self.bbox_xform_clip)
        log_h = codes[..., 3].clamp(max=self.bbox_xform_clip)
        x = codes[..., 0] * box_w[:, None] + centre_x[:, None]
        y = codes[..., 1] * box_h[:, None] + centre_y[:, None]
        half_w = 0.5 * (torch.exp(log_w) * box_w[:, None])
        half_h = 0.5 * (torch.exp(log_h) * box_h[:, None])
        corners = torch.stack([x - half_w, y - half_h, x + half_w, y + half_h], dim=2)
        return corners.reshape(n, width)


class BoxLinearCoder:
    """FCOS's box parameterisation: a box as its distances (left, top, right, bottom) from the
    centre of a reference box, optionally in units of the reference's width / height."""

    def __init__(self, normalize_by_size: bool = True) -> None:
        self.normalize_by_size = normalize_by_size

    def _scale(self, reference: Tensor) -> Optional[Tensor]:
        if not self.normalize_by_size:
            return None
        _, _, width, height = _centres_and_sizes(reference)
        return torch.stack([width, height, width, height], dim=1)

    def encode(self, reference_boxes: Tensor, proposals: Tensor) -> Tensor:
        """Distances from each ``reference_boxes`` centre to the sides of ``proposals``."""
        centre_x, centre_y, _, _ = _centres_and_sizes(reference_boxes)
        distances = torch.stack([centre_x - proposals[:, 0], centre_y - proposals[:, 1],
                                 proposals[:, 2] - centre_x, proposals[:, 3] - centre_y], dim=1)
        scale = self._scale(reference_boxes)
        return distances if scale is None else distances / scale

    def decode(self, rel_codes: Tensor, boxes: Tensor) -> Tensor:
        """Boxes whose sides lie ``rel_codes`` away from the centres of ``boxes``."""
        boxes = boxes.to(rel_codes.dtype)
        scale = self._scale(boxes)
        distances = rel_codes if scale is None else rel_codes * scale
        centre_x, centre_y, _, _ = _centres_and_sizes(boxes)
        return torch.stack([centre_x - distances[:, 0], centre_y - distances[:, 1],
                            centre_x + distances[:, 2], centre_y + distances[:, 3]], dim=1)


class Matcher:
    """Assign each prediction (column of an M ground truths x N predictions quality matrix,
    usually IoU) the ground truth it overlaps most. Best quality >= ``high_threshold``: that
    ground truth's index; below ``low_threshold``: BELOW_LOW_THRESHOLD (background); between:
    BETWEEN_THRESHOLDS (ignored). With ``allow_low_quality_matches`` each ground truth also
    keeps the predictions that overlap it best even under the threshold (Faster R-CNN's rule
    so that no ground truth goes without a positive anchor)."""

    BELOW_LOW_THRESHOLD = -1
    BETWEEN_THRESHOLDS = -2

    def __init__(
        self, high_threshold: float, low_threshold: float,
        allow_low_quality_matches: bool = False,
    ) -> None:
        _assert(low_threshold <= high_threshold, "low_threshold should be <= high_threshold")
        self.high_threshold = high_threshold
        self.low_threshold = low_threshold
        self.allow_low_quality_matches = allow_low_quality_matches

    @staticmethod
    def _quality(match_quality_matrix: Tensor) -> np.ndarray:
        if match_quality_matrix.numel() == 0:
            if match_quality_matrix.shape[0] == 0:  # training needs targets in every image
                raise ValueError("No ground-truth boxes available for one of the images "
                                 "during training")
            raise ValueError("No proposal boxes available for one of the images during "
                             "training")
        return match_quality_matrix.detach().cpu().numpy()

    def __call__(self, match_quality_matrix: Tensor) -> Tensor:
        quality = self._quality(match_quality_matrix)
        best_gt = quality.argmax(axis=0)  # the first of equal maxima, as torch.max(dim)
        best_quality = quality[best_gt, np.arange(quality.shape[1])]
        matches = best_gt.astype(np.int64)
        matches[best_quality < self.high_threshold] = self.BETWEEN_THRESHOLDS
        matches[best_quality < self.low_threshold] = self.BELOW_LOW_THRESHOLD
        matches = torch.from_numpy(matches)
        if self.allow_low_quality_matches:
            self.set_low_quality_matches_(matches, torch.from_numpy(best_gt.astype(np.int64)),
                                          match_quality_matrix)
        return matches

    def set_low_quality_matches_(
        self, matches: Tensor, all_matches: Tensor, match_quality_matrix: Tensor
    ) -> None:
        """Give back their unthresholded match to the predictions that are some ground truth's
        best (all of them when several tie for best), in place."""
        quality = match_quality_matrix.detach().cpu().numpy()
        is_best = quality == quality.max(axis=1, keepdims=True)
        columns = np.flatnonzero(is_best.any(axis=0))
        if columns.size:
            picked = torch.from_numpy(columns)
            matches[picked] = all_matches[picked]


class SSDMatcher(Matcher):
    """SSD's matching: one IoU threshold, and every ground truth takes its single best
    prediction whatever their overlap."""

    def __init__(self, threshold: float) -> None:
        super().__init__(threshold, threshold, allow_low_quality_matches=False)

    def __call__(self, match_quality_matrix: Tensor) -> Tensor:
        matches = super().__call__(match_quality_matrix)
        best_prediction = self._quality(match_quality_matrix).argmax(axis=1)
        ground_truths = np.arange(len(best_prediction), dtype=np.int64)
        matches[torch.from_numpy(best_prediction)] = torch.from_numpy(ground_truths)
        return matches


class BalancedPositiveNegativeSampler:
    """Per image, draw at most ``batch_size_per_image`` labelled elements (label >= 1:
    positive, 0: negative, -1: ignored), at most ``positive_fraction`` of them positive and
    the rest filled with negatives, uniformly at random (``torch.randperm``)."""

    def __init__(self, batch_size_per_image: int, positive_fraction: float) -> None:
        self.batch_size_per_image = batch_size_per_image
        self.positive_fraction = positive_fraction

    def _pick(self, candidates: np.ndarray, count: int, size: int) -> np.ndarray:
        order = torch.randperm(len(candidates)).numpy()[:count]
        mask = np.zeros(size, np.uint8)
        mask[candidates[order]] = 1
        return mask

    def __call__(self, matched_idxs: list[Tensor]) -> tuple[list[Tensor], list[Tensor]]:
        """Returns two lists (positive, negative) of uint8 masks shaped like the labels."""
        positive_masks, negative_masks = [], []
        for labels in matched_idxs:
            values = labels.detach().cpu().numpy().reshape(-1)
            positives = np.flatnonzero(values >= 1)
            negatives = np.flatnonzero(values == 0)
            num_pos = min(len(positives), int(self.batch_size_per_image *
                                              self.positive_fraction))
            num_neg = min(len(negatives), self.batch_size_per_image - num_pos)
            for masks, candidates, count in ((positive_masks, positives, num_pos),
                                             (negative_masks, negatives, num_neg)):
                mask = self._pick(candidates, count, values.size).reshape(labels.shape)
                masks.append(torch.from_numpy(mask))
        return positive_masks, negative_masks


def overwrite_eps(model: nn.Module, eps: float) -> None:
    """Set the eps of every FrozenBatchNorm2d (old checkpoints were trained with 0)."""
    for module in model.modules():
        if isinstance(module, FrozenBatchNorm2d):
            module.eps = eps


def retrieve_out_channels(model: nn.Module, size: tuple[int, int]) -> list[int]:
    """The channel count of each feature map a backbone returns, found by running it once on a
    zero image of ``size`` in eval mode (its training mode is put back)."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            device = next(model.parameters()).device
            features = model(torch.zeros((1, 3, size[0], size[1]), device=device))
    finally:
        model.train(was_training)
    if isinstance(features, Tensor):
        features = {"0": features}
    return [f.shape[1] for f in features.values()]


def _topk_min(input: Tensor, orig_kval: int, axis: int) -> int:
    """How many top-k elements can be taken: ``orig_kval`` capped by the axis length."""
    return min(int(orig_kval), int(input.shape[axis]))


def _box_loss(
    type: str,
    box_coder: BoxCoder,
    anchors_per_image: Tensor,
    matched_gt_boxes_per_image: Tensor,
    bbox_regression_per_image: Tensor,
    cnf: Optional[dict[str, float]] = None,
) -> Tensor:
    """Summed box-regression loss of one image: on the encoded targets ("l1", "smooth_l1"
    with ``cnf['beta']``, default 1) or on the decoded boxes ("giou", "diou", "ciou" with
    ``cnf['eps']``, default 1e-7)."""
    cnf = cnf or {}
    if type in ("l1", "smooth_l1"):
        targets = box_coder.encode_single(matched_gt_boxes_per_image, anchors_per_image)
        if type == "l1":
            return F.l1_loss(bbox_regression_per_image, targets, reduction="sum")
        return F.smooth_l1_loss(bbox_regression_per_image, targets, reduction="sum",
                                beta=cnf.get("beta", 1.0))
    iou_losses = {"giou": generalized_box_iou_loss, "diou": distance_box_iou_loss,
                  "ciou": complete_box_iou_loss}
    _assert(type in iou_losses, f"Unsupported loss: {type}")
    boxes = box_coder.decode_single(bbox_regression_per_image, anchors_per_image)
    return iou_losses[type](boxes, matched_gt_boxes_per_image, reduction="sum",
                            eps=cnf.get("eps", 1e-7))


def _prepare(transform, images, targets, training):
    """The detectors' common start: check the targets (training) and image shapes, run the
    transform, refuse degenerate target boxes. Returns (image_list, targets, original
    sizes)."""
    if training:
        _assert(targets is not None, "targets should not be none when in training mode")
        for target in targets:
            boxes = target["boxes"]
            _assert(isinstance(boxes, Tensor),
                    f"Expected target boxes to be of type Tensor, got {type(boxes)}.")
            _assert(boxes.dim() == 2 and boxes.shape[-1] == 4,
                    f"Expected target boxes to be a tensor of shape [N, 4], got {boxes.shape}.")
    original_sizes = []
    for image in images:
        _assert(image.dim() >= 2, "expecting the last two dimensions of the Tensor to be H "
                f"and W instead got {image.shape[-2:]}")
        original_sizes.append((int(image.shape[-2]), int(image.shape[-1])))
    image_list, targets = transform(images, targets)
    for index, target in enumerate(targets or []):
        corners = target["boxes"].detach().cpu().numpy()
        flat = (corners[:, 2:] <= corners[:, :2]).any(axis=1)
        if flat.any():
            box = target["boxes"][int(np.flatnonzero(flat)[0])].tolist()
            _assert(False, "All bounding boxes should have positive height and width. Found "
                    f"invalid box {box} for target at index {index}.")
    return image_list, targets, original_sizes


def _dense_start(model, images, targets):
    """The one-stage detectors' (RetinaNet, SSD) common start: ``_prepare``, the backbone's
    maps as a list, the head's outputs and the anchors. Returns (image_list, targets, original
    sizes, features, head_outputs, anchors)."""
    images, targets, original_sizes = _prepare(model.transform, images, targets,
                                               model.training)
    features = model.backbone(images.tensors)
    features = [features] if isinstance(features, Tensor) else list(features.values())
    head_outputs = model.head(features)
    anchors = model.anchor_generator(images, features)
    return images, targets, original_sizes, features, head_outputs, anchors


def _match_anchors(matcher, targets, anchors) -> list[Tensor]:
    """Per image, the matched object index of every anchor (-1 everywhere for an image
    without objects)."""
    matched = []
    for target, anchors_i in zip(targets, anchors):
        if target["boxes"].numel() == 0:
            matched.append(torch.full((anchors_i.shape[0],), -1, dtype=torch.int64))
        else:
            matched.append(matcher(box_iou(target["boxes"], anchors_i)))
    return matched
