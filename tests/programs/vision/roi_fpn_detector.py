"""A minimal two-stage detector written from torchvision.ops parts, the way people prototype
one before reaching for Faster R-CNN: a small conv backbone returning an OrderedDict of
feature maps, ops.FeaturePyramidNetwork with LastLevelMaxPool, proposals made by jittering the
ground truth and adding random boxes (ops.box_convert cxcywh -> xyxy, clip_boxes_to_image,
remove_small_boxes), labels assigned by ops.box_iou, ops.MultiScaleRoIAlign pooling, a
classification + box-delta head, ops.roi_align checked against the pooler's choice of level,
and at test time scores -> ops.batched_nms / ops.nms, the best IoU per ground-truth box, and
utils.draw_bounding_boxes on the uint8 image."""
import json
import os
from collections import OrderedDict

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torchvision import ops, utils
from torchvision.ops.feature_pyramid_network import LastLevelMaxPool

IMG = 48
NUM_CLASSES = 3  # 0 = background, 1 = bright square, 2 = dark square


def make_images(n, seed):
    rs = np.random.RandomState(seed)
    images = 0.5 + 0.08 * rs.randn(n, 3, IMG, IMG)
    boxes, labels = [], []
    for i in range(n):
        b, lab = [], []
        for _ in range(2):
            w, h = rs.randint(10, 20, 2)
            x0, y0 = rs.randint(0, IMG - w), rs.randint(0, IMG - h)
            cls = rs.randint(1, NUM_CLASSES)
            images[i, :, y0:y0 + h, x0:x0 + w] = 0.95 if cls == 1 else 0.1
            b.append([x0, y0, x0 + w, y0 + h])
            lab.append(cls)
        boxes.append(torch.tensor(b, dtype=torch.float32))
        labels.append(torch.tensor(lab))
    return torch.tensor(images, dtype=torch.float32), boxes, labels


class Backbone(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1), nn.BatchNorm2d(16), nn.ReLU(),
                                  nn.Conv2d(16, 32, 3, 2, 1), nn.BatchNorm2d(32), nn.ReLU())
        self.stage2 = nn.Sequential(nn.Conv2d(32, 64, 3, 2, 1), nn.BatchNorm2d(64), nn.ReLU())

    def forward(self, x):
        c1 = self.stem(x)
        c2 = self.stage2(c1)
        return OrderedDict([("feat0", c1), ("feat1", c2)])


class Detector(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = Backbone()
        self.fpn = ops.FeaturePyramidNetwork([32, 64], 32, extra_blocks=LastLevelMaxPool())
        self.pooler = ops.MultiScaleRoIAlign(["feat0", "feat1"], output_size=5,
                                             sampling_ratio=2)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(32 * 25, 128), nn.ReLU())
        self.cls = nn.Linear(128, NUM_CLASSES)
        self.reg = nn.Linear(128, 4)

    def forward(self, images, proposals):
        feats = self.fpn(self.backbone(images))
        pooled = self.pooler(feats, proposals, [images.shape[-2:]] * len(images))
        h = self.head(pooled)
        return self.cls(h), self.reg(h), feats


def make_proposals(gt, n_random, gen):
    cxcywh = ops.box_convert(gt, in_fmt="xyxy", out_fmt="cxcywh")
    jitter = cxcywh.repeat(4, 1)
    jitter = jitter + torch.randn(jitter.shape, generator=gen) * torch.cat(
        [jitter[:, 2:], jitter[:, 2:]], 1) * 0.15
    rand = torch.rand(n_random, 4, generator=gen) * torch.tensor([IMG, IMG, 20.0, 20.0])
    rand[:, 2:] += 6
    boxes = ops.box_convert(torch.cat([jitter, rand]), in_fmt="cxcywh", out_fmt="xyxy")
    boxes = ops.clip_boxes_to_image(boxes, (IMG, IMG))
    return boxes[ops.remove_small_boxes(boxes, min_size=3.0)]


def encode(gt, proposals):
    pw, ph = proposals[:, 2] - proposals[:, 0], proposals[:, 3] - proposals[:, 1]
    px, py = proposals[:, 0] + 0.5 * pw, proposals[:, 1] + 0.5 * ph
    gw, gh = gt[:, 2] - gt[:, 0], gt[:, 3] - gt[:, 1]
    gx, gy = gt[:, 0] + 0.5 * gw, gt[:, 1] + 0.5 * gh
    return torch.stack([(gx - px) / pw, (gy - py) / ph, torch.log(gw / pw),
                        torch.log(gh / ph)], 1)


def decode(deltas, proposals):
    pw, ph = proposals[:, 2] - proposals[:, 0], proposals[:, 3] - proposals[:, 1]
    px, py = proposals[:, 0] + 0.5 * pw, proposals[:, 1] + 0.5 * ph
    cx, cy = px + deltas[:, 0] * pw, py + deltas[:, 1] * ph
    w, h = pw * torch.exp(deltas[:, 2]), ph * torch.exp(deltas[:, 3])
    return torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 1)


def targets_for(proposals, gt, gt_labels):
    iou = ops.box_iou(proposals, gt)
    best, idx = iou.max(1)
    labels = gt_labels[idx].clone()
    labels[best < 0.5] = 0
    return labels, gt[idx], best


def main():
    torch.manual_seed(int(os.environ.get("SEED", 0)))
    gen = torch.Generator().manual_seed(1)
    images, gt_boxes, gt_labels = make_images(48, seed=0)
    test_images, test_boxes, test_labels = make_images(12, seed=1)
    model = Detector()
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    batch = 8
    for epoch in range(10):
        model.train()
        perm = torch.randperm(len(images))
        total = 0.0
        for s in range(0, len(images), batch):
            idx = perm[s:s + batch].tolist()
            proposals = [make_proposals(gt_boxes[i], 8, gen) for i in idx]
            logits, deltas, _ = model(images[idx], proposals)
            labels, matched, _ = zip(*[targets_for(p, gt_boxes[i], gt_labels[i])
                                       for p, i in zip(proposals, idx)])
            labels, matched, props = torch.cat(labels), torch.cat(matched), torch.cat(proposals)
            loss_cls = F.cross_entropy(logits, labels)
            fg = labels > 0
            loss_box = F.smooth_l1_loss(deltas[fg], encode(matched[fg], props[fg]), beta=1 / 9,
                                        reduction="sum") / max(1, len(labels))
            loss = loss_cls + loss_box
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item()
        print(f"epoch {epoch} loss {total / (len(images) // batch):.4f}")

    model.eval()
    best_ious, correct, kept = [], 0, 0
    with torch.no_grad():
        proposals = [make_proposals(b, 30, gen) for b in test_boxes]
        logits, deltas, feats = model(test_images, proposals)
        assert list(feats.keys()) == ["feat0", "feat1", "pool"]
        # the pooler sends these small boxes to the finest level: plain roi_align agrees
        rois = torch.cat([torch.full((len(p), 1), float(i)) for i, p in enumerate(proposals)])
        rois = torch.cat([rois, torch.cat(proposals)], 1)
        levels = model.pooler.map_levels(proposals)
        fine = levels == 0
        direct = ops.roi_align(feats["feat0"], rois[fine], output_size=5, spatial_scale=0.25,
                               sampling_ratio=2)
        pooled = model.pooler(feats, proposals, [(IMG, IMG)] * len(proposals))
        roi_align_agrees = torch.allclose(direct, pooled[fine], atol=1e-5)
        probs = logits.softmax(-1)
        start = 0
        for i, p in enumerate(proposals):
            pr, dl = probs[start:start + len(p)], deltas[start:start + len(p)]
            start += len(p)
            scores, cls = pr[:, 1:].max(1)
            boxes = ops.clip_boxes_to_image(decode(dl, p), (IMG, IMG))
            keep = ops.batched_nms(boxes, scores, cls, iou_threshold=0.3)
            keep = keep[scores[keep] > 0.5]
            kept += len(keep)
            assert torch.equal(keep, keep[ops.nms(boxes[keep], scores[keep], 0.3)])
            if len(keep) == 0:
                drawn = test_images[0]
                best_ious += [0.0] * len(test_boxes[i])
                continue
            iou = ops.box_iou(test_boxes[i], boxes[keep])
            best, j = iou.max(1)
            best_ious += best.tolist()
            correct += int(((cls[keep][j] + 1) == test_labels[i]).logical_and(best > 0.5).sum())
            if i == 0:
                drawn = utils.draw_bounding_boxes(
                    (test_images[0] * 255).to(torch.uint8), boxes[keep],
                    labels=[f"c{c} {s:.2f}" for c, s in zip(cls[keep].tolist(),
                                                             scores[keep].tolist())],
                    colors="red", width=1)
    n_gt = sum(len(b) for b in test_boxes)
    print("mean best IoU", round(float(np.mean(best_ious)), 4), "detections per image",
          kept / len(test_images))
    print("OUTCOME " + json.dumps({"mean_best_iou": float(np.mean(best_ious)),
                                   "recall_at_05": correct / n_gt,
                                   "roi_align_agrees": bool(roi_align_agrees),
                                   "drawn_ok": drawn.shape == (3, IMG, IMG)}))


if __name__ == "__main__":
    main()
