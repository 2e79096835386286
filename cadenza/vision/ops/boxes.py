"""torchvision.ops.boxes: nms and batched_nms (NumPy, torchvision's CPU kernel rules) and the
box functions (box_iou, box_convert, clip_boxes_to_image, masks_to_boxes...)."""
from __future__ import annotations

import numpy as np

import cadenza as torch

from .._boxes import *  # noqa: F401,F403
from .._boxes import __all__ as _box_names

__all__ = ["nms", "batched_nms"] + _box_names


def _np(t, name, op):
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{op}: {name} should be a Tensor, got {type(t).__name__}")
    return t.detach().numpy()


def _boxes(t, op, name="boxes"):
    a = _np(t, name, op)
    if a.ndim != 2 or a.shape[1] != 4:
        raise ValueError(f"{op}: {name} should have shape [N, 4] (x1, y1, x2, y2), "
                         f"got {list(a.shape)}")
    return a


def _area(b):
    return (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])


def _iou(a, b):
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = np.clip(rb - lt, 0, None)
    inter = wh[..., 0] * wh[..., 1]
    return inter / (_area(a)[:, None] + _area(b)[None, :] - inter)


def nms(boxes, scores, iou_threshold: float):
    """Indices (int64, by decreasing score) of the boxes kept after discarding every box whose
    IoU with a higher-scoring kept box is > ``iou_threshold``."""
    b = _boxes(boxes, "nms")
    s = _np(scores, "scores", "nms")
    if s.ndim != 1 or s.shape[0] != b.shape[0]:
        raise ValueError(f"nms: scores should have shape [{b.shape[0]}], got {list(s.shape)}")
    order = np.argsort(-s, kind="stable")
    b = b[order]
    areas = _area(b)
    suppressed = np.zeros(len(b), dtype=bool)
    keep = []
    for i in range(len(b)):
        if suppressed[i]:
            continue
        keep.append(order[i])
        rest = np.arange(i + 1, len(b))
        rest = rest[~suppressed[rest]]
        if len(rest) == 0:
            continue
        lt = np.maximum(b[i, :2], b[rest, :2])
        rb = np.minimum(b[i, 2:], b[rest, 2:])
        wh = np.clip(rb - lt, 0, None)
        inter = wh[:, 0] * wh[:, 1]
        with np.errstate(invalid="ignore", divide="ignore"):  # empty boxes: NaN, kept as in C
            iou = inter / (areas[i] + areas[rest] - inter)
        suppressed[rest[iou > iou_threshold]] = True
    return torch.from_numpy(np.asarray(keep, dtype=np.int64))


def batched_nms(boxes, scores, idxs, iou_threshold: float):
    """nms within each category of ``idxs`` (boxes of different categories never suppress each
    other): torchvision's coordinate-offset trick."""
    b = _boxes(boxes, "batched_nms")
    if b.shape[0] == 0:
        return torch.from_numpy(np.zeros(0, dtype=np.int64))
    cat = _np(idxs, "idxs", "batched_nms").astype(b.dtype)
    offsets = cat * (b.max() + 1)
    shifted = torch.from_numpy(np.ascontiguousarray(b + offsets[:, None]))
    return nms(shifted, scores, iou_threshold)
