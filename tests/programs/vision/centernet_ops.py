"""An anchor-free (CenterNet / FCOS-style) single-object-class detector written from
torchvision.ops building blocks, as people prototype one: a backbone of
ops.Conv2dNormActivation blocks with ops.SqueezeExcitation and ops.misc.FrozenBatchNorm2d in the
stem, ops.Permute + ops.MLP on the flattened feature cells, a centre heatmap trained with
ops.sigmoid_focal_loss, per-cell distances (l, t, r, b) to the box sides decoded to xyxy and
trained with ops.complete_box_iou_loss and ops.distance_box_iou_loss; at test time the top cells
go through ops.box_convert / clip_boxes_to_image / remove_small_boxes / ops.nms, and the
metrics are the mean best IoU (ops.box_iou) per ground-truth box and the recall at IoU 0.5.
The scenes (bright rectangles on noise) are generated in the program."""
import argparse
import json

import torch
import torch.nn as nn
from torchvision import ops
from torchvision.ops.misc import FrozenBatchNorm2d

STRIDE = 4
SIZE = 48


def make_scene(g):
    img = 0.2 * torch.rand(3, SIZE, SIZE, generator=g)
    boxes = []
    for _ in range(int(torch.randint(1, 4, (1,), generator=g))):
        w, h = torch.randint(8, 20, (2,), generator=g).tolist()
        x0 = int(torch.randint(0, SIZE - w, (1,), generator=g))
        y0 = int(torch.randint(0, SIZE - h, (1,), generator=g))
        img[:, y0:y0 + h, x0:x0 + w] = 0.5 + 0.5 * torch.rand(3, 1, 1, generator=g)
        boxes.append([x0, y0, x0 + w, y0 + h])
    return img, torch.tensor(boxes, dtype=torch.float32)


def targets_for(boxes):
    """Heatmap (1 at the cell holding a box centre), l/t/r/b distances and a positive mask."""
    n = SIZE // STRIDE
    heat = torch.zeros(n, n)
    dist = torch.zeros(4, n, n)
    centres = ops.box_convert(boxes, in_fmt="xyxy", out_fmt="cxcywh")[:, :2]
    for box, (cx, cy) in zip(boxes, centres):
        i, j = int(cy // STRIDE), int(cx // STRIDE)
        px, py = (j + 0.5) * STRIDE, (i + 0.5) * STRIDE
        heat[i, j] = 1.0
        dist[:, i, j] = torch.stack([px - box[0], py - box[1], box[2] - px, box[3] - py])
    return heat, dist


class Detector(nn.Module):
    def __init__(self, width=32):
        super().__init__()
        self.stem = ops.Conv2dNormActivation(3, width, 3, stride=2, norm_layer=FrozenBatchNorm2d)
        self.body = nn.Sequential(
            ops.Conv2dNormActivation(width, width, 3, activation_layer=nn.SiLU),
            ops.SqueezeExcitation(width, width // 4),
            ops.Conv2dNormActivation(width, 2 * width, 3, stride=2, activation_layer=nn.SiLU),
            ops.Conv2dNormActivation(2 * width, 2 * width, 3, activation_layer=nn.SiLU),
        )
        # per-cell MLP on channels-last features
        self.to_cells = ops.Permute([0, 2, 3, 1])
        self.head = ops.MLP(2 * width, [64, 5], activation_layer=nn.ReLU, dropout=0.0)
        with torch.no_grad():
            self.head[-2].bias[0] = -2.0   # focal-loss prior for the heatmap logit

    def forward(self, x):
        f = self.to_cells(self.body(self.stem(x)))     # N, H, W, C
        out = self.head(f)
        return out[..., 0], nn.functional.softplus(out[..., 1:]) * STRIDE


def decode(dist, n):
    ys, xs = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
    px, py = (xs + 0.5) * STRIDE, (ys + 0.5) * STRIDE
    return torch.stack([px - dist[..., 0], py - dist[..., 1],
                        px + dist[..., 2], py + dist[..., 3]], dim=-1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=80)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    g = torch.Generator().manual_seed(args.seed)
    train = [make_scene(g) for _ in range(64)]
    test = [make_scene(g) for _ in range(16)]
    n = SIZE // STRIDE

    model = Detector()
    frozen = [name for name, _ in model.named_buffers() if name.startswith("stem.1.")]
    assert sum(isinstance(m, FrozenBatchNorm2d) for m in model.modules()) == 1
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=3e-3)
    for step in range(args.steps):
        idx = torch.randint(0, len(train), (8,)).tolist()
        x = torch.stack([train[i][0] for i in idx])
        tgt = [targets_for(train[i][1]) for i in idx]
        heat = torch.stack([t[0] for t in tgt])
        dist = torch.stack([t[1] for t in tgt]).permute(0, 2, 3, 1)
        logit, pred_dist = model(x)
        cls_loss = ops.sigmoid_focal_loss(logit, heat, alpha=0.25, gamma=2.0,
                                          reduction="sum") / heat.sum()
        pos = heat > 0
        pb, tb = decode(pred_dist, n)[pos], decode(dist, n)[pos]
        box_loss = ops.complete_box_iou_loss(pb, tb, reduction="mean") + \
            0.5 * ops.distance_box_iou_loss(pb, tb, reduction="mean")
        loss = cls_loss + box_loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 20 == 0 or step == args.steps - 1:
            print(f"step {step} cls {cls_loss.item():.4f} box {box_loss.item():.4f}")

    model.eval()
    best_ious, hits, total_gt = [], 0, 0
    with torch.no_grad():
        for img, gt in test:
            logit, pred_dist = model(img[None])
            scores = logit[0].sigmoid().flatten()
            boxes = decode(pred_dist[0], n).reshape(-1, 4)
            top = scores.topk(10).indices
            boxes, scores = ops.clip_boxes_to_image(boxes[top], (SIZE, SIZE)), scores[top]
            keep = ops.remove_small_boxes(boxes, min_size=2.0)
            boxes, scores = boxes[keep], scores[keep]
            keep = ops.nms(boxes, scores, iou_threshold=0.4)[:5]
            iou = ops.box_iou(gt, boxes[keep])
            best = iou.max(dim=1).values
            best_ious += best.tolist()
            hits += int((best >= 0.5).sum())
            total_gt += len(gt)
    mean_best = sum(best_ious) / len(best_ious)
    print(f"frozen buffers {frozen}; mean best IoU {mean_best:.3f}, "
          f"recall@0.5 {hits / total_gt:.3f}")
    print("OUTCOME " + json.dumps({"mean_best_iou": mean_best, "recall_at_05": hits / total_gt,
                                   "final_loss": loss.item(), "n_frozen": len(frozen)}))


if __name__ == "__main__":
    main()
