"""torchvision.models.detection.roi_heads: the second stage of Faster / Mask / Keypoint R-CNN.

``RoIHeads`` pools features for each proposal, classifies it and refines its box; in training
it first matches the proposals to the ground truth and samples a balanced minibatch of them
(Fast R-CNN, Girshick 2015), in eval it turns class scores and box deltas into per-class
detections (score threshold, tiny-box removal, per-class NMS). The optional mask branch (Mask
R-CNN, He et al. 2017) predicts a 28x28 mask per class for each positive proposal / detection;
the keypoint branch one heatmap per keypoint. The module-level functions are torchvision's
public helpers of the same names (losses, inference, mask pasting)."""

from __future__ import annotations

from typing import Optional

import cadenza as torch
from cadenza import Tensor, nn
from cadenza.nn import functional as F

from ... import ops as box_ops
from ...ops import roi_align
from . import _utils as det_utils

# the box head's smooth-L1 switches from quadratic to linear at 1/9 (Fast R-CNN's sigma = 3)
_BOX_LOSS_BETA = 1.0 / 9
# detections narrower or shorter than this (in pixels) are dropped before NMS
_MIN_BOX_SIDE = 1e-2


# --- Fast R-CNN box head --------------------------------------------------------------------


def fastrcnn_loss(
    class_logits: Tensor,
    box_regression: Tensor,
    labels: list[Tensor],
    regression_targets: list[Tensor],
) -> tuple[Tensor, Tensor]:
    """Fast R-CNN's two losses over the sampled proposals of the whole batch.

    Classification: cross-entropy over all classes (0 is background), averaged.
    Box regression: only foreground proposals count, and only the deltas predicted for their own
    class; smooth-L1 summed, then divided by the number of *all* sampled proposals, so that the
    box term does not grow when a batch happens to hold few foreground samples."""
    labels = torch.cat(labels, dim=0)
    targets = torch.cat(regression_targets, dim=0)
    classification = F.cross_entropy(class_logits, labels)

    fg = torch.where(labels > 0)[0]
    per_class_deltas = box_regression.reshape(box_regression.shape[0], -1, 4)
    fg_deltas = per_class_deltas[fg, labels[fg]]
    box = F.smooth_l1_loss(fg_deltas, targets[fg], beta=_BOX_LOSS_BETA, reduction="sum")
    return classification, box / labels.numel()


# --- Mask R-CNN branch ----------------------------------------------------------------------


def maskrcnn_inference(x: Tensor, labels: list[Tensor]) -> list[Tensor]:
    """Per-image mask probabilities ``(n_i, 1, M, M)``: of the per-class mask logits ``x``
    (all images' detections stacked) keep the channel of each detection's predicted label."""
    counts = [len(lab) for lab in labels]
    labels = torch.cat(labels)
    rows = torch.arange(labels.shape[0])
    probs = x[rows, labels].sigmoid()[:, None]
    return list(probs.split(counts, dim=0))


def project_masks_on_boxes(gt_masks: Tensor, boxes: Tensor, matched_idxs: Tensor, M: int
                           ) -> Tensor:
    """The ``M x M`` training target of each proposal: its matched ground-truth mask cropped to
    the proposal box and resampled (roi_align over the masks, one RoI per proposal)."""
    rois = torch.cat([matched_idxs[:, None].to(boxes.dtype), boxes], dim=1)
    masks = gt_masks[:, None].to(rois.dtype)
    return roi_align(masks, rois, (M, M), 1.0)[:, 0]


def maskrcnn_loss(mask_logits, proposals, gt_masks, gt_labels, mask_matched_idxs):
    """Mean per-pixel binary cross-entropy between the positive proposals' mask logits (of
    their ground-truth class only: Mask R-CNN decouples masks from classification) and the
    matched ground-truth masks projected onto the proposal boxes."""
    size = mask_logits.shape[-1]
    labels = torch.cat([lab[idx] for lab, idx in zip(gt_labels, mask_matched_idxs)], dim=0)
    targets = torch.cat([project_masks_on_boxes(masks, boxes, idx, size)
                         for masks, boxes, idx in zip(gt_masks, proposals, mask_matched_idxs)],
                        dim=0)
    if targets.numel() == 0:  # no positive proposal: a zero that still reaches every logit
        return mask_logits.sum() * 0
    picked = mask_logits[torch.arange(labels.shape[0]), labels]
    return F.binary_cross_entropy_with_logits(picked, targets)


# --- Keypoint R-CNN branch ------------------------------------------------------------------


def keypoints_to_heatmap(keypoints: Tensor, rois: Tensor, heatmap_size: int
                         ) -> tuple[Tensor, Tensor]:
    """Each keypoint's training target as a flat index ``y * S + x`` into the ``S x S`` heatmap
    of its RoI (``S = heatmap_size``), and whether it counts (visible and inside the RoI).
    A keypoint exactly on the RoI's right / bottom edge goes to the last cell, not past it."""
    x0, y0, x1, y1 = (rois[:, k][:, None] for k in range(4))
    px, py = keypoints[..., 0], keypoints[..., 1]
    cx = ((px - x0) * (heatmap_size / (x1 - x0))).floor().long()
    cy = ((py - y0) * (heatmap_size / (y1 - y0))).floor().long()
    last = heatmap_size - 1
    cx = torch.where(px == x1, torch.full_like(cx, last), cx)
    cy = torch.where(py == y1, torch.full_like(cy, last), cy)
    inside = (cx >= 0) & (cy >= 0) & (cx < heatmap_size) & (cy < heatmap_size)
    valid = (inside & (keypoints[..., 2] > 0)).long()
    return (cy * heatmap_size + cx) * valid, valid


def heatmaps_to_keypoints(maps: Tensor, rois: Tensor) -> tuple[Tensor, Tensor]:
    """Keypoint coordinates ``(R, K, 3)`` (x, y, 1) and scores ``(R, K)`` from heatmap logits
    ``(R, K, S, S)``: each RoI's maps are resized bicubically to the RoI's size in pixels
    (rounded up, at least 1), the arg-max cell's centre is mapped back to image coordinates and
    its resized logit is the score."""
    num_kp = maps.shape[1]
    widths = (rois[:, 2] - rois[:, 0]).clamp(min=1)
    heights = (rois[:, 3] - rois[:, 1]).clamp(min=1)
    coords, scores = [], []
    for i in range(rois.shape[0]):  # every RoI has its own output size
        w_px, h_px = int(widths[i].ceil()), int(heights[i].ceil())
        resized = F.interpolate(maps[i][:, None], size=(h_px, w_px), mode="bicubic",
                                align_corners=False)[:, 0]
        best = resized.reshape(num_kp, -1).argmax(dim=1)
        col, row = best % w_px, best // w_px
        x = (col.float() + 0.5) * (widths[i] / w_px) + rois[i, 0]
        y = (row.float() + 0.5) * (heights[i] / h_px) + rois[i, 1]
        coords.append(torch.stack([x, y, torch.ones_like(x)], dim=1))
        scores.append(resized[torch.arange(num_kp), row, col])
    if not coords:
        return maps.new_zeros((0, num_kp, 3)), maps.new_zeros((0, num_kp))
    return torch.stack(coords).to(maps.dtype), torch.stack(scores)


def keypointrcnn_loss(keypoint_logits, proposals, gt_keypoints, keypoint_matched_idxs):
    """Cross-entropy over the ``S * S`` heatmap cells, one term per valid (visible, inside its
    RoI) keypoint of each positive proposal; zero when there is none."""
    n, k, h, w = keypoint_logits.shape
    if h != w:
        raise ValueError(f"keypointrcnn_loss: heatmaps must be square, got {h}x{w}")
    cells, valid = [], []
    for boxes, points, idx in zip(proposals, gt_keypoints, keypoint_matched_idxs):
        c, v = keypoints_to_heatmap(points[idx], boxes, h)
        cells.append(c.reshape(-1))
        valid.append(v.reshape(-1))
    cells = torch.cat(cells, dim=0)
    valid = torch.where(torch.cat(valid, dim=0) > 0)[0]
    if cells.numel() == 0 or valid.numel() == 0:
        return keypoint_logits.sum() * 0
    return F.cross_entropy(keypoint_logits.reshape(n * k, h * w)[valid], cells[valid])


def keypointrcnn_inference(x: Tensor, boxes: list[Tensor]) -> tuple[list[Tensor], list[Tensor]]:
    """Per-image keypoints and keypoint scores (heatmaps_to_keypoints on each image's boxes)."""
    points, scores = [], []
    for maps, rois in zip(x.split([len(b) for b in boxes], dim=0), boxes):
        p, s = heatmaps_to_keypoints(maps, rois)
        points.append(p)
        scores.append(s)
    return points, scores


# --- pasting the M x M masks into the image -------------------------------------------------


def expand_boxes(boxes: Tensor, scale: float) -> Tensor:
    """Boxes grown (or shrunk) by ``scale`` about their centres."""
    centre = (boxes[:, :2] + boxes[:, 2:]) * 0.5
    half = (boxes[:, 2:] - boxes[:, :2]) * 0.5 * scale
    return torch.cat([centre - half, centre + half], dim=1)


def expand_masks(mask: Tensor, padding: int) -> tuple[Tensor, float]:
    """Masks with a ``padding``-pixel zero border, and the factor by which that grows them
    (the boxes must grow by the same factor for the mask pixels to stay where they were)."""
    size = mask.shape[-1]
    return F.pad(mask, (padding,) * 4), (size + 2 * padding) / size


def _resize_weights(lo: Tensor, hi: Tensor, n_in: int, n_pixels: int) -> Tensor:
    """``(B, n_pixels, n_in)`` bilinear weights (align_corners=False) that resample each of B
    length-``n_in`` signals onto pixels ``lo[b] ..= hi[b]`` of a length-``n_pixels`` line;
    every pixel outside that span gets zero weight (so a product with these weights pastes the
    resized signal in place and leaves the rest of the line empty)."""
    pixel = torch.arange(n_pixels)[None, :]
    local = (pixel - lo[:, None]).float()  # pixel index inside the target span
    length = (hi - lo + 1).clamp(min=1).float()[:, None]
    src = ((local + 0.5) * (n_in / length) - 0.5).clamp(min=0)
    left = src.floor().clamp(max=n_in - 1)
    frac = src - left
    right = (left + 1).clamp(max=n_in - 1)
    weights = (F.one_hot(left.long(), n_in) * (1 - frac)[..., None]
               + F.one_hot(right.long(), n_in) * frac[..., None])
    inside = (pixel >= lo[:, None]) & (pixel <= hi[:, None])
    return weights * inside[..., None].to(weights.dtype)


def _paste(masks: Tensor, boxes: Tensor, im_h: int, im_w: int) -> Tensor:
    """``(B, im_h, im_w)``: each ``(B, m, m)`` mask resized bilinearly to cover its integer
    box's pixels ``x0..x1, y0..y1`` inclusive (at least one pixel each way) and clipped to the
    image, all at once as ``rows @ mask @ cols^T`` with zero weights outside the box."""
    n_in = masks.shape[-1]
    rows = _resize_weights(boxes[:, 1], boxes[:, 3], n_in, im_h).to(masks.dtype)
    cols = _resize_weights(boxes[:, 0], boxes[:, 2], n_in, im_w).to(masks.dtype)
    return rows @ masks @ cols.transpose(1, 2)


def paste_mask_in_image(mask: Tensor, box: Tensor, im_h: int, im_w: int) -> Tensor:
    """One ``(m, m)`` mask pasted into an empty ``(im_h, im_w)`` image over the integer box."""
    return _paste(mask[None], box.long()[None], im_h, im_w)[0]


def paste_masks_in_image(masks: Tensor, boxes: Tensor, img_shape, padding: int = 1) -> Tensor:
    """Mask R-CNN's ``(N, 1, m, m)`` mask probabilities as full-image ``(N, 1, H, W)`` masks.

    The masks get a ``padding``-pixel zero border first and the boxes grow to match, so each
    mask fades out at its box edge instead of ending in a hard step; the grown boxes are
    truncated to integer pixels."""
    im_h, im_w = int(img_shape[0]), int(img_shape[1])
    if masks.shape[0] == 0:
        return masks.new_zeros((0, 1, im_h, im_w))
    padded, scale = expand_masks(masks, padding)
    int_boxes = expand_boxes(boxes, scale).to(torch.int64)
    return _paste(padded[:, 0], int_boxes, im_h, im_w)[:, None]


# --- the heads ------------------------------------------------------------------------------


def _positives(labels: list[Tensor]) -> list[Tensor]:
    """Per image, the indices of the foreground proposals."""
    return [torch.where(lab > 0)[0] for lab in labels]


class RoIHeads(nn.Module):
    """The box head (plus optional mask and keypoint heads) on top of the RPN's proposals.

    ``forward(features, proposals, image_shapes, targets=None)`` returns ``(detections,
    losses)``: in training the losses ``loss_classifier``, ``loss_box_reg`` (and ``loss_mask``,
    ``loss_keypoint``) with an empty detection list; in eval one dict per image with ``boxes``,
    ``labels``, ``scores`` (and ``masks``; ``keypoints``, ``keypoints_scores``)."""

    def __init__(
        self,
        box_roi_pool,
        box_head,
        box_predictor,
        fg_iou_thresh,
        bg_iou_thresh,
        batch_size_per_image,
        positive_fraction,
        bbox_reg_weights,
        score_thresh,
        nms_thresh,
        detections_per_img,
        mask_roi_pool=None,
        mask_head=None,
        mask_predictor=None,
        keypoint_roi_pool=None,
        keypoint_head=None,
        keypoint_predictor=None,
    ):
        super().__init__()
        self.box_similarity = box_ops.box_iou
        # proposals between the two IoU thresholds are ignored; no low-quality rescue here
        # (the ground-truth boxes themselves are added to the proposals instead)
        self.proposal_matcher = det_utils.Matcher(fg_iou_thresh, bg_iou_thresh,
                                                  allow_low_quality_matches=False)
        self.fg_bg_sampler = det_utils.BalancedPositiveNegativeSampler(batch_size_per_image,
                                                                       positive_fraction)
        if bbox_reg_weights is None:  # deltas scaled so that they are roughly unit variance
            bbox_reg_weights = (10.0, 10.0, 5.0, 5.0)
        self.box_coder = det_utils.BoxCoder(bbox_reg_weights)
        self.box_roi_pool = box_roi_pool
        self.box_head = box_head
        self.box_predictor = box_predictor
        self.score_thresh = score_thresh
        self.nms_thresh = nms_thresh
        self.detections_per_img = detections_per_img
        self.mask_roi_pool = mask_roi_pool
        self.mask_head = mask_head
        self.mask_predictor = mask_predictor
        self.keypoint_roi_pool = keypoint_roi_pool
        self.keypoint_head = keypoint_head
        self.keypoint_predictor = keypoint_predictor

    def has_mask(self) -> bool:
        return all(m is not None for m in (self.mask_roi_pool, self.mask_head,
                                           self.mask_predictor))

    def has_keypoint(self) -> bool:
        return all(m is not None for m in (self.keypoint_roi_pool, self.keypoint_head,
                                           self.keypoint_predictor))

    # training-time sampling

    def assign_targets_to_proposals(self, proposals, gt_boxes, gt_labels):
        """Per image: the index of each proposal's matched ground-truth box (0 for unmatched
        ones, whose box is never used) and its class label, 0 for background and -1 for
        proposals in the ignored IoU band."""
        matched, labels = [], []
        for boxes, gt, gt_lab in zip(proposals, gt_boxes, gt_labels):
            if gt.numel() == 0:  # an image without objects: every proposal is background
                matched.append(torch.zeros(boxes.shape[0], dtype=torch.int64))
                labels.append(torch.zeros(boxes.shape[0], dtype=torch.int64))
                continue
            idx = self.proposal_matcher(box_ops.box_iou(gt, boxes))
            lab = gt_lab[idx.clamp(min=0)].to(torch.int64)
            lab = torch.where(idx == self.proposal_matcher.BELOW_LOW_THRESHOLD,
                              torch.zeros_like(lab), lab)
            lab = torch.where(idx == self.proposal_matcher.BETWEEN_THRESHOLDS,
                              torch.full_like(lab, -1), lab)
            matched.append(idx.clamp(min=0))
            labels.append(lab)
        return matched, labels

    def subsample(self, labels):
        """Per image, the indices of the proposals the balanced sampler keeps."""
        pos, neg = self.fg_bg_sampler(labels)
        return [torch.where((p > 0) | (n > 0))[0] for p, n in zip(pos, neg)]

    def add_gt_proposals(self, proposals, gt_boxes):
        """The ground-truth boxes join the proposals: every object gets at least one perfect
        positive sample, even early in training when the RPN proposes nothing near it."""
        return [torch.cat([p, gt], dim=0) for p, gt in zip(proposals, gt_boxes)]

    def check_targets(self, targets):
        if targets is None:
            raise ValueError("targets should not be None")
        needed = ["boxes", "labels"] + (["masks"] if self.has_mask() else [])
        for key in needed:
            if not all(key in t for t in targets):
                raise ValueError(f"Every element of targets should have a {key} key")

    def select_training_samples(self, proposals, targets):
        """The sampled proposals per image with their matched ground-truth indices, class
        labels and box-regression targets."""
        self.check_targets(targets)
        dtype = proposals[0].dtype
        gt_boxes = [t["boxes"].to(dtype) for t in targets]
        gt_labels = [t["labels"] for t in targets]
        proposals = self.add_gt_proposals(proposals, gt_boxes)
        matched, labels = self.assign_targets_to_proposals(proposals, gt_boxes, gt_labels)
        keep = self.subsample(labels)
        proposals = [p[k] for p, k in zip(proposals, keep)]
        labels = [lab[k] for lab, k in zip(labels, keep)]
        matched = [m[k] for m, k in zip(matched, keep)]
        # an image without objects matches every proposal to a dummy all-zero box: its
        # regression targets are computed but never enter the loss (all its labels are 0)
        gt_boxes = [gt if gt.numel() else torch.zeros((1, 4), dtype=dtype) for gt in gt_boxes]
        matched_boxes = [gt[m] for gt, m in zip(gt_boxes, matched)]
        regression_targets = self.box_coder.encode(matched_boxes, proposals)
        return proposals, matched, labels, regression_targets

    # eval-time detections

    def postprocess_detections(self, class_logits, box_regression, proposals, image_shapes):
        """Per image: boxes, scores and labels of the detections. Every (proposal, non-background
        class) pair is a candidate with that class's softmax score and its class-specific box,
        clipped to the image; candidates at or below ``score_thresh`` and tiny boxes go, NMS
        runs per class, and the ``detections_per_img`` best remain."""
        counts = [len(p) for p in proposals]
        boxes = self.box_coder.decode(box_regression, proposals)  # (R, classes, 4)
        scores = F.softmax(class_logits, -1)
        num_classes = scores.shape[-1]
        classes = torch.arange(num_classes)[None, :].expand(scores.shape[0], num_classes)
        all_boxes, all_scores, all_labels = [], [], []
        for b, s, c, shape in zip(boxes.split(counts, 0), scores.split(counts, 0),
                                  classes.split(counts, 0), image_shapes):
            b = box_ops.clip_boxes_to_image(b, shape)
            b, s, c = b[:, 1:].reshape(-1, 4), s[:, 1:].reshape(-1), c[:, 1:].reshape(-1)
            keep = torch.where(s > self.score_thresh)[0]
            b, s, c = b[keep], s[keep], c[keep]
            keep = box_ops.remove_small_boxes(b, min_size=_MIN_BOX_SIDE)
            b, s, c = b[keep], s[keep], c[keep]
            keep = box_ops.batched_nms(b, s, c, self.nms_thresh)[: self.detections_per_img]
            all_boxes.append(b[keep])
            all_scores.append(s[keep])
            all_labels.append(c[keep])
        return all_boxes, all_scores, all_labels

    # forward

    @staticmethod
    def _check_target_types(targets, keypoints: bool):
        for t in targets:
            if not t["boxes"].is_floating_point():
                raise TypeError(f"target boxes must of float type, instead got "
                                f"{t['boxes'].dtype}")
            if t["labels"].dtype != torch.int64:
                raise TypeError(f"target labels must of int64 type, instead got "
                                f"{t['labels'].dtype}")
            if keypoints and not t["keypoints"].is_floating_point():
                raise TypeError(f"target keypoints must of float type, instead got "
                                f"{t['keypoints'].dtype}")

    def forward(
        self,
        features: dict[str, Tensor],
        proposals: list[Tensor],
        image_shapes: list[tuple[int, int]],
        targets: Optional[list[dict[str, Tensor]]] = None,
    ) -> tuple[list[dict[str, Tensor]], dict[str, Tensor]]:
        if targets is not None:
            self._check_target_types(targets, self.has_keypoint())
        labels = matched = None
        if self.training:
            proposals, matched, labels, regression_targets = self.select_training_samples(
                proposals, targets)

        pooled = self.box_roi_pool(features, proposals, image_shapes)
        class_logits, box_regression = self.box_predictor(self.box_head(pooled))

        result: list[dict[str, Tensor]] = []
        losses: dict[str, Tensor] = {}
        if self.training:
            loss_classifier, loss_box_reg = fastrcnn_loss(class_logits, box_regression, labels,
                                                          regression_targets)
            losses = {"loss_classifier": loss_classifier, "loss_box_reg": loss_box_reg}
        else:
            boxes, scores, classes = self.postprocess_detections(
                class_logits, box_regression, proposals, image_shapes)
            result = [{"boxes": b, "labels": c, "scores": s}
                      for b, s, c in zip(boxes, scores, classes)]

        if self.has_mask():
            losses.update(self._mask_branch(features, proposals, image_shapes, targets, labels,
                                            matched, result))
        if self.has_keypoint():
            losses.update(self._keypoint_branch(features, proposals, image_shapes, targets,
                                                labels, matched, result))
        return result, losses

    def _branch_inputs(self, proposals, labels, matched, result):
        """The boxes a mask / keypoint branch runs on: the positive sampled proposals (and
        their ground-truth indices) in training, the final detections in eval."""
        if not self.training:
            return [r["boxes"] for r in result], None
        if matched is None:
            raise ValueError("the mask / keypoint branches need targets when training")
        pos = _positives(labels)
        return [p[i] for p, i in zip(proposals, pos)], [m[i] for m, i in zip(matched, pos)]

    def _mask_branch(self, features, proposals, image_shapes, targets, labels, matched, result):
        boxes, pos_matched = self._branch_inputs(proposals, labels, matched, result)
        mask_logits = self.mask_predictor(
            self.mask_head(self.mask_roi_pool(features, boxes, image_shapes)))
        if self.training:
            loss = maskrcnn_loss(mask_logits, boxes, [t["masks"] for t in targets],
                                 [t["labels"] for t in targets], pos_matched)
            return {"loss_mask": loss}
        for r, probs in zip(result, maskrcnn_inference(mask_logits,
                                                       [r["labels"] for r in result])):
            r["masks"] = probs
        return {}

    def _keypoint_branch(self, features, proposals, image_shapes, targets, labels, matched,
                         result):
        boxes, pos_matched = self._branch_inputs(proposals, labels, matched, result)
        kp_logits = self.keypoint_predictor(
            self.keypoint_head(self.keypoint_roi_pool(features, boxes, image_shapes)))
        if self.training:
            loss = keypointrcnn_loss(kp_logits, boxes, [t["keypoints"] for t in targets],
                                     pos_matched)
            return {"loss_keypoint": loss}
        points, scores = keypointrcnn_inference(kp_logits, boxes)
        for r, p, s in zip(result, points, scores):
            r["keypoints"] = p
            r["keypoints_scores"] = s
        return {}
