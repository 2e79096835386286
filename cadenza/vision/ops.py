"""torchvision.ops for inference: box_area, box_iou, nms, batched_nms, roi_align (forward, in
NumPy; torchvision's CPU kernels' rules: boxes are (x1, y1, x2, y2), areas without +1)."""
from __future__ import annotations

import math

import numpy as np

import cadenza as torch
from cadenza import nn

from ._boxes import *  # noqa: F401,F403,E402
from ._boxes import __all__ as _box_names
from ._layers import *  # noqa: F401,F403,E402
from ._layers import __all__ as _layer_names

__all__ = ["nms", "batched_nms", "roi_align", "RoIAlign"] + _box_names + _layer_names


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


def _bilinear(img, y, x):
    """img (C, H, W) sampled at arrays y, x (same shape) -> (C, *y.shape), torchvision's
    roi_align rule (zero outside [-1, H] x [-1, W], clamped to the border inside)."""
    H, W = img.shape[-2:]
    outside = (y < -1.0) | (y > H) | (x < -1.0) | (x > W)
    y = np.maximum(y, 0.0)
    x = np.maximum(x, 0.0)
    y_low = y.astype(np.int64)
    x_low = x.astype(np.int64)
    y_top = y_low >= H - 1
    x_top = x_low >= W - 1
    y_low = np.where(y_top, H - 1, y_low)
    x_low = np.where(x_top, W - 1, x_low)
    y_high = np.where(y_top, H - 1, y_low + 1)
    x_high = np.where(x_top, W - 1, x_low + 1)
    y = np.where(y_top, y_low, y)
    x = np.where(x_top, x_low, x)
    ly, lx = y - y_low, x - x_low
    hy, hx = 1.0 - ly, 1.0 - lx
    val = (hy * hx * img[:, y_low, x_low] + hy * lx * img[:, y_low, x_high]
           + ly * hx * img[:, y_high, x_low] + ly * lx * img[:, y_high, x_high])
    return np.where(outside, 0.0, val)


def _rois(boxes, op):
    if isinstance(boxes, (list, tuple)):
        parts = []
        for i, b in enumerate(boxes):
            a = _boxes(b, op)
            parts.append(np.concatenate([np.full((len(a), 1), i, a.dtype), a], 1))
        return np.concatenate(parts, 0) if parts else np.zeros((0, 5), np.float32)
    a = _np(boxes, "boxes", op)
    if a.ndim != 2 or a.shape[1] != 5:
        raise ValueError(f"{op}: boxes should be a Tensor [K, 5] (batch index, x1, y1, x2, y2) "
                         f"or a list of [L, 4] Tensors, got shape {list(a.shape)}")
    return a


def roi_align(input, boxes, output_size, spatial_scale=1.0, sampling_ratio=-1, aligned=False):
    """Average of bilinear samples over each of the output_size bins of every box: [K, C, h, w]."""
    x = _np(input, "input", "roi_align")
    if x.ndim != 4:
        raise ValueError(f"roi_align: input should be [N, C, H, W], got {list(x.shape)}")
    ph, pw = (output_size, output_size) if isinstance(output_size, int) else tuple(output_size)
    rois = _rois(boxes, "roi_align").astype(np.float64)
    H, W = x.shape[-2:]
    out = np.zeros((len(rois), x.shape[1], ph, pw), dtype=x.dtype)
    offset = 0.5 if aligned else 0.0
    for k, (bi, x1, y1, x2, y2) in enumerate(rois):
        bi = int(bi)
        if not 0 <= bi < x.shape[0]:
            raise IndexError(f"roi_align: box {k} has batch index {bi}, input has {x.shape[0]}")
        sw, sh = x1 * spatial_scale - offset, y1 * spatial_scale - offset
        rw, rh = x2 * spatial_scale - offset - sw, y2 * spatial_scale - offset - sh
        if not aligned:
            rw, rh = max(rw, 1.0), max(rh, 1.0)
        bh, bw = rh / ph, rw / pw
        gh = sampling_ratio if sampling_ratio > 0 else int(math.ceil(rh / ph))
        gw = sampling_ratio if sampling_ratio > 0 else int(math.ceil(rw / pw))
        count = max(gh * gw, 1)
        ys = sh + np.arange(ph)[:, None] * bh + (np.arange(gh)[None, :] + 0.5) * bh / gh  # (ph,gh)
        xs = sw + np.arange(pw)[:, None] * bw + (np.arange(gw)[None, :] + 0.5) * bw / gw  # (pw,gw)
        yy = np.broadcast_to(ys[:, :, None, None], (ph, gh, pw, gw))
        xx = np.broadcast_to(xs[None, None, :, :], (ph, gh, pw, gw))
        vals = _bilinear(x[bi].astype(np.float64), yy, xx)  # (C, ph, gh, pw, gw)
        out[k] = (vals.sum(axis=(2, 4)) / count).astype(x.dtype)
    return torch.from_numpy(out)


class RoIAlign(nn.Module):
    def __init__(self, output_size, spatial_scale, sampling_ratio, aligned=False):
        super().__init__()
        self.output_size, self.spatial_scale = output_size, spatial_scale
        self.sampling_ratio, self.aligned = sampling_ratio, aligned

    def forward(self, input, rois):
        return roi_align(input, rois, self.output_size, self.spatial_scale,
                         self.sampling_ratio, self.aligned)

    def __repr__(self):
        return (f"{type(self).__name__}(output_size={self.output_size}, spatial_scale="
                f"{self.spatial_scale}, sampling_ratio={self.sampling_ratio}, "
                f"aligned={self.aligned})")
