"""torchvision.ops' box functions and box losses as Cadenza tensor ops (differentiable, as
torchvision's): boxes are (x1, y1, x2, y2) unless a format says otherwise."""
from __future__ import annotations

import math

import cadenza as torch

__all__ = ["box_area", "box_iou", "box_convert", "generalized_box_iou", "distance_box_iou",
           "complete_box_iou", "generalized_box_iou_loss", "distance_box_iou_loss",
           "complete_box_iou_loss", "sigmoid_focal_loss", "clip_boxes_to_image",
           "remove_small_boxes", "masks_to_boxes"]


def _check(boxes, op, name="boxes"):
    if not isinstance(boxes, torch.Tensor):
        raise TypeError(f"{op}: {name} should be a Tensor, got {type(boxes).__name__}")
    if boxes.dim() < 1 or boxes.shape[-1] != 4:
        raise ValueError(f"{op}: {name} should have shape [N, 4] (x1, y1, x2, y2), got "
                         f"{list(boxes.shape)}")


def box_area(boxes):
    _check(boxes, "box_area")
    return (boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1])


def _inter_union(b1, b2):
    lt = torch.max(b1[:, None, :2], b2[None, :, :2])
    rb = torch.min(b1[:, None, 2:], b2[None, :, 2:])
    wh = (rb - lt).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    return inter, box_area(b1)[:, None] + box_area(b2)[None, :] - inter


def box_iou(boxes1, boxes2):
    """Pairwise IoU, [N, M]."""
    _check(boxes1, "box_iou", "boxes1")
    _check(boxes2, "box_iou", "boxes2")
    inter, union = _inter_union(boxes1, boxes2)
    return inter / union


def generalized_box_iou(boxes1, boxes2):
    """Pairwise GIoU: IoU minus the part of the enclosing box not covered by the union."""
    _check(boxes1, "generalized_box_iou", "boxes1")
    _check(boxes2, "generalized_box_iou", "boxes2")
    inter, union = _inter_union(boxes1, boxes2)
    iou = inter / union
    lt = torch.min(boxes1[:, None, :2], boxes2[None, :, :2])
    rb = torch.max(boxes1[:, None, 2:], boxes2[None, :, 2:])
    wh = (rb - lt).clamp(min=0)
    area = wh[..., 0] * wh[..., 1]
    return iou - (area - union) / area


def _diou_terms(b1, b2, eps):
    """IoU and the squared centre distance over the squared enclosing diagonal, pairwise."""
    inter, union = _inter_union(b1, b2)
    iou = inter / union
    lt = torch.min(b1[:, None, :2], b2[None, :, :2])
    rb = torch.max(b1[:, None, 2:], b2[None, :, 2:])
    whi = (rb - lt).clamp(min=0)
    diag = whi[..., 0] ** 2 + whi[..., 1] ** 2 + eps
    c1 = (b1[:, :2] + b1[:, 2:]) / 2
    c2 = (b2[:, :2] + b2[:, 2:]) / 2
    dist = ((c1[:, None, :] - c2[None, :, :]) ** 2).sum(-1)
    return iou, dist / diag


def distance_box_iou(boxes1, boxes2, eps=1e-7):
    _check(boxes1, "distance_box_iou", "boxes1")
    _check(boxes2, "distance_box_iou", "boxes2")
    iou, d = _diou_terms(boxes1, boxes2, eps)
    return iou - d


def _aspect_term(b1, b2):
    w1, h1 = b1[:, 2] - b1[:, 0], b1[:, 3] - b1[:, 1]
    w2, h2 = b2[:, 2] - b2[:, 0], b2[:, 3] - b2[:, 1]
    return (4 / math.pi ** 2) * (torch.atan(w1 / h1)[:, None] -
                                 torch.atan(w2 / h2)[None, :]) ** 2


def complete_box_iou(boxes1, boxes2, eps=1e-7):
    _check(boxes1, "complete_box_iou", "boxes1")
    _check(boxes2, "complete_box_iou", "boxes2")
    iou, d = _diou_terms(boxes1, boxes2, eps)
    v = _aspect_term(boxes1, boxes2)
    with torch.no_grad():
        alpha = v / (1 - iou + v + eps)
    return iou - d - alpha * v


def box_convert(boxes, in_fmt, out_fmt):
    """Between 'xyxy', 'xywh' (corner, size) and 'cxcywh' (centre, size)."""
    fmts = ("xyxy", "xywh", "cxcywh")
    if in_fmt not in fmts or out_fmt not in fmts:
        raise ValueError("Unsupported Bounding Box Conversions for given in_fmt and out_fmt")
    _check(boxes, "box_convert")
    if in_fmt == out_fmt:
        return boxes.clone()
    a, b, c, d = boxes.unbind(-1)
    if in_fmt == "xywh":
        x1, y1, x2, y2 = a, b, a + c, b + d
    elif in_fmt == "cxcywh":
        x1, y1, x2, y2 = a - 0.5 * c, b - 0.5 * d, a + 0.5 * c, b + 0.5 * d
    else:
        x1, y1, x2, y2 = a, b, c, d
    if out_fmt == "xyxy":
        out = (x1, y1, x2, y2)
    elif out_fmt == "xywh":
        out = (x1, y1, x2 - x1, y2 - y1)
    else:
        out = ((x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1)
    return torch.stack(out, dim=-1)


def _reduce(loss, reduction, op):
    if reduction == "none":
        return loss
    if reduction == "mean":
        return loss.mean() if loss.numel() > 0 else 0.0 * loss.sum()
    if reduction == "sum":
        return loss.sum()
    raise ValueError(f"Invalid Value for arg 'reduction': '{reduction} \n Supported reduction "
                     f"modes: 'none', 'mean', 'sum'")


def _pairwise_terms(b1, b2, eps):
    """Elementwise (not pairwise) IoU pieces of matched boxes [N, 4]."""
    x1 = torch.max(b1[..., 0], b2[..., 0])
    y1 = torch.max(b1[..., 1], b2[..., 1])
    x2 = torch.min(b1[..., 2], b2[..., 2])
    y2 = torch.min(b1[..., 3], b2[..., 3])
    inter = (x2 - x1).clamp(min=0) * (y2 - y1).clamp(min=0)
    union = box_area(b1) + box_area(b2) - inter
    iou = inter / (union + eps)
    xc1 = torch.min(b1[..., 0], b2[..., 0])
    yc1 = torch.min(b1[..., 1], b2[..., 1])
    xc2 = torch.max(b1[..., 2], b2[..., 2])
    yc2 = torch.max(b1[..., 3], b2[..., 3])
    return iou, union, xc1, yc1, xc2, yc2


def generalized_box_iou_loss(boxes1, boxes2, reduction="none", eps=1e-7):
    """1 - GIoU of matched boxes."""
    iou, union, xc1, yc1, xc2, yc2 = _pairwise_terms(boxes1, boxes2, eps)
    area_c = (xc2 - xc1) * (yc2 - yc1)
    giou = iou - (area_c - union) / (area_c + eps)
    return _reduce(1 - giou, reduction, "generalized_box_iou_loss")


def _diou_loss_terms(b1, b2, eps):
    iou, _, xc1, yc1, xc2, yc2 = _pairwise_terms(b1, b2, eps)
    diag = (xc2 - xc1) ** 2 + (yc2 - yc1) ** 2 + eps
    cx1, cy1 = (b1[..., 0] + b1[..., 2]) / 2, (b1[..., 1] + b1[..., 3]) / 2
    cx2, cy2 = (b2[..., 0] + b2[..., 2]) / 2, (b2[..., 1] + b2[..., 3]) / 2
    dist = (cx1 - cx2) ** 2 + (cy1 - cy2) ** 2
    return 1 - iou + dist / diag, iou


def distance_box_iou_loss(boxes1, boxes2, reduction="none", eps=1e-7):
    loss, _ = _diou_loss_terms(boxes1, boxes2, eps)
    return _reduce(loss, reduction, "distance_box_iou_loss")


def complete_box_iou_loss(boxes1, boxes2, reduction="none", eps=1e-7):
    diou_loss, iou = _diou_loss_terms(boxes1, boxes2, eps)
    w1, h1 = boxes1[..., 2] - boxes1[..., 0], boxes1[..., 3] - boxes1[..., 1]
    w2, h2 = boxes2[..., 2] - boxes2[..., 0], boxes2[..., 3] - boxes2[..., 1]
    v = (4 / math.pi ** 2) * (torch.atan(w2 / h2) - torch.atan(w1 / h1)) ** 2
    with torch.no_grad():
        alpha = v / (1 - iou + v + eps)
    return _reduce(diou_loss + alpha * v, reduction, "complete_box_iou_loss")


def sigmoid_focal_loss(inputs, targets, alpha=0.25, gamma=2.0, reduction="none"):
    """Focal loss (Lin et al., 2017) on logits: BCE weighted by (1 - p_t)^gamma and alpha."""
    p = torch.sigmoid(inputs)
    ce = torch.nn.functional.binary_cross_entropy_with_logits(inputs, targets,
                                                             reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce * ((1 - p_t) ** gamma)
    if alpha >= 0:
        loss = (alpha * targets + (1 - alpha) * (1 - targets)) * loss
    return _reduce(loss, reduction, "sigmoid_focal_loss")


def clip_boxes_to_image(boxes, size):
    """Boxes clamped inside an image of ``size`` (height, width)."""
    h, w = size
    x = boxes[..., 0::2].clamp(min=0, max=w)
    y = boxes[..., 1::2].clamp(min=0, max=h)
    return torch.stack((x, y), dim=-1).reshape(boxes.shape)


def remove_small_boxes(boxes, min_size):
    """Indices of the boxes whose sides are both at least ``min_size``."""
    ws, hs = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    return torch.where((ws >= min_size) & (hs >= min_size))[0]


def masks_to_boxes(masks):
    """The bounding box (x1, y1, x2, y2) of each mask [N, H, W] (float)."""
    if masks.numel() == 0:
        return torch.zeros((0, 4), dtype=torch.float32)
    out = torch.zeros((masks.shape[0], 4), dtype=torch.float32)
    for i, m in enumerate(masks):
        y, x = torch.where(m != 0)
        if y.numel():
            out[i] = torch.tensor([x.min(), y.min(), x.max(), y.max()], dtype=torch.float32)
    return out
