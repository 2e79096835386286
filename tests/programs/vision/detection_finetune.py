"""Object detection the way the torchvision "Object Detection Finetuning" tutorial does it: a
Dataset returning (image, target) with target = {"boxes", "labels", "image_id", "area",
"iscrowd"}, a DataLoader with collate_fn=lambda batch: tuple(zip(*batch)), a
fasterrcnn_mobilenet_v3_large_fpn (weights=None: no downloads) whose box predictor is replaced
by a FastRCNNPredictor for the dataset's classes, SGD + StepLR on the loss dict's sum, then
model.eval() predictions (a list of {"boxes", "labels", "scores"}). The data are rectangles
and ellipses drawn in code; small images and few proposals keep it fast."""
import json
import math

import numpy as np
import torch
import torchvision
from PIL import Image, ImageDraw
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor
from torchvision.transforms import functional as F

NUM_CLASSES = 3  # background, rectangle, ellipse


class ShapesDetectionDataset(torch.utils.data.Dataset):
    def __init__(self, n, seed=0, size=(160, 128)):
        rs = np.random.RandomState(seed)
        self.items = []
        w, h = size
        for idx in range(n):
            img = Image.fromarray(rs.randint(0, 60, (h, w, 3)).astype(np.uint8))
            draw = ImageDraw.Draw(img)
            boxes, labels = [], []
            for _ in range(rs.randint(1, 3)):
                bw, bh = rs.randint(24, 60), rs.randint(24, 50)
                x0, y0 = rs.randint(0, w - bw), rs.randint(0, h - bh)
                label = int(rs.randint(1, NUM_CLASSES))
                colour = tuple(int(c) for c in rs.randint(140, 256, 3))
                shape = draw.rectangle if label == 1 else draw.ellipse
                shape([x0, y0, x0 + bw, y0 + bh], fill=colour)
                boxes.append([x0, y0, x0 + bw, y0 + bh])
                labels.append(label)
            self.items.append((img, boxes, labels, idx))

    def __len__(self):
        return len(self.items)

    def __getitem__(self, idx):
        img, boxes, labels, image_id = self.items[idx]
        boxes = torch.as_tensor(boxes, dtype=torch.float32)
        target = {
            "boxes": boxes,
            "labels": torch.as_tensor(labels, dtype=torch.int64),
            "image_id": image_id,
            "area": (boxes[:, 3] - boxes[:, 1]) * (boxes[:, 2] - boxes[:, 0]),
            "iscrowd": torch.zeros((len(labels),), dtype=torch.int64),
        }
        return F.to_tensor(img), target


def collate_fn(batch):
    return tuple(zip(*batch))


def get_model(num_classes):
    model = torchvision.models.detection.fasterrcnn_mobilenet_v3_large_fpn(
        weights=None, weights_backbone=None, num_classes=91, min_size=128, max_size=160,
        rpn_pre_nms_top_n_train=200, rpn_post_nms_top_n_train=100,
        rpn_pre_nms_top_n_test=100, rpn_post_nms_top_n_test=50,
        rpn_batch_size_per_image=64, box_batch_size_per_image=64, box_detections_per_img=20)
    in_features = model.roi_heads.box_predictor.cls_score.in_features
    model.roi_heads.box_predictor = FastRCNNPredictor(in_features, num_classes)
    return model


def box_iou(a, b):
    lt = torch.max(a[:, None, :2], b[None, :, :2])
    rb = torch.min(a[:, None, 2:], b[None, :, 2:])
    wh = (rb - lt).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / (area_a[:, None] + area_b[None, :] - inter)


def main():
    torch.manual_seed(0)
    dataset = ShapesDetectionDataset(8, seed=0)
    dataset_test = ShapesDetectionDataset(2, seed=1)
    data_loader = torch.utils.data.DataLoader(dataset, batch_size=2, shuffle=True,
                                              collate_fn=collate_fn)
    model = get_model(NUM_CLASSES)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=0.01, momentum=0.9, weight_decay=0.0005)
    lr_scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)

    history = []
    for epoch in range(1):
        model.train()
        for images, targets in data_loader:
            images = list(image for image in images)
            targets = [{k: v for k, v in t.items()} for t in targets]
            loss_dict = model(images, targets)
            losses = sum(loss for loss in loss_dict.values())
            loss_value = losses.item()
            if not math.isfinite(loss_value):
                raise SystemExit(f"Loss is {loss_value}, stopping training: {loss_dict}")
            optimizer.zero_grad()
            losses.backward()
            optimizer.step()
            lr_scheduler.step()
            history.append(loss_value)
            print(f"loss {loss_value:.4f} " + " ".join(
                f"{k}={v.item():.4f}" for k, v in loss_dict.items()))

    model.eval()
    with torch.no_grad():
        images, targets = collate_fn([dataset_test[i] for i in range(len(dataset_test))])
        predictions = model(list(images))
    ok = all(sorted(p) == ["boxes", "labels", "scores"] for p in predictions)
    ok = ok and all(p["boxes"].shape[1] == 4 and p["boxes"].dtype == torch.float32
                    and p["labels"].dtype == torch.int64 for p in predictions)
    best_iou = []
    for p, t in zip(predictions, targets):
        if len(p["boxes"]):
            best_iou.append(float(box_iou(t["boxes"], p["boxes"]).max()))
        else:
            best_iou.append(0.0)
    outcome = {
        "first_loss": float(np.mean(history[:2])),
        "last_loss": float(np.mean(history[-2:])),
        "loss_decreased": bool(np.mean(history[-2:]) < np.mean(history[:2])),
        "predictions_well_formed": bool(ok),
        "mean_best_iou": float(np.mean(best_iou)),
    }
    print("OUTCOME " + json.dumps(outcome))


if __name__ == "__main__":
    main()
