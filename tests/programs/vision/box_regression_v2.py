"""Single-object localisation trained through a transforms.v2 detection pipeline, the way the
"Getting started with transforms v2" / "Transforms v2: end-to-end object detection" examples
use it: a Dataset returning (tv_tensors.Image, {"boxes": tv_tensors.BoundingBoxes,
"masks": tv_tensors.Mask, "labels": ...}), v2.Compose of RandomPhotometricDistort,
RandomZoomOut(fill=...), RandomApply([RandomIoUCrop]), RandomHorizontalFlip, Resize,
SanitizeBoundingBoxes, ClampBoundingBoxes, ToDtype(scale=True) that move boxes and masks
together (checked with ops.masks_to_boxes), v2.functional on BoundingBoxes with fixed
parameters (hflip, affine, resized_crop, ConvertBoundingBoxFormat), a CNN regressing
normalised cxcywh boxes with an L1 + ops.generalized_box_iou_loss objective, and the test IoU."""
import json
import os

import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, Dataset
from torchvision import ops, tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F

SIZE = 32


class BoxDataset(Dataset):
    """An ellipse of a random colour on a textured background; the target is its box."""

    def __init__(self, n, seed, transforms=None, canvas=48):
        rs = np.random.RandomState(seed)
        yy, xx = np.mgrid[0:canvas, 0:canvas]
        self.items = []
        for _ in range(n):
            img = (rs.rand(canvas, canvas, 3) * 80 + 40).astype(np.uint8)
            w, h = rs.randint(10, 26, 2)
            x0, y0 = rs.randint(0, canvas - w), rs.randint(0, canvas - h)
            cx, cy = x0 + (w - 1) / 2, y0 + (h - 1) / 2
            mask = ((xx - cx) / (w / 2)) ** 2 + ((yy - cy) / (h / 2)) ** 2 <= 1
            img[mask] = rs.randint(170, 256, 3)
            self.items.append((img, mask))
        self.transforms = transforms

    def __len__(self):
        return len(self.items)

    def __getitem__(self, idx):
        img, mask = self.items[idx]
        image = tv_tensors.Image(torch.from_numpy(img).permute(2, 0, 1))
        masks = tv_tensors.Mask(torch.from_numpy(mask)[None].to(torch.uint8))
        boxes = tv_tensors.BoundingBoxes(ops.masks_to_boxes(masks), format="XYXY",
                                         canvas_size=F.get_size(image))
        target = {"boxes": boxes, "masks": masks, "labels": torch.tensor([1])}
        if self.transforms is not None:
            image, target = self.transforms(image, target)
        return image, target


def collate(batch):
    images = torch.stack([img for img, _ in batch])
    boxes = torch.stack([t["boxes"][0] for _, t in batch]).as_subclass(torch.Tensor)
    return images, boxes / SIZE


class Localiser(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(4))
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(64 * 16, 64), nn.ReLU(),
                                  nn.Linear(64, 4))

    def forward(self, x):
        cxcywh = self.head(self.features(x)).sigmoid()
        return ops.box_convert(cxcywh, "cxcywh", "xyxy")


def functional_checks():
    """v2.functional on boxes with fixed parameters: the numbers do not depend on any RNG."""
    boxes = tv_tensors.BoundingBoxes([[4, 6, 20, 30], [10, 2, 40, 12]], format="XYXY",
                                     canvas_size=(48, 48))
    flipped = F.hflip(boxes)
    rotated = F.affine(boxes, angle=30.0, translate=[3, -2], scale=0.9, shear=[5.0, 0.0])
    cropped = F.resized_crop(boxes, top=4, left=2, height=36, width=40, size=[32, 32])
    cxcywh = v2.ConvertBoundingBoxFormat("CXCYWH")(boxes)
    assert flipped.canvas_size == (48, 48) and cropped.canvas_size == (32, 32)
    assert cxcywh.format == tv_tensors.BoundingBoxFormat.CXCYWH
    return float(flipped.sum() + rotated.sum() + cropped.sum() + cxcywh.sum())


def main():
    torch.manual_seed(int(os.environ.get("SEED", 0)))
    checksum = functional_checks()
    print("functional checksum", round(checksum, 4))
    train_tf = v2.Compose([
        v2.RandomPhotometricDistort(p=0.5),
        v2.RandomZoomOut(fill={tv_tensors.Image: (60, 60, 60), "others": 0}, side_range=(1, 1.5),
                         p=0.3),
        v2.RandomApply([v2.RandomIoUCrop(min_scale=0.5, sampler_options=[0.0, 0.3, 0.5, 2.0])],
                       p=0.5),
        v2.RandomHorizontalFlip(p=0.5),
        v2.Resize((SIZE, SIZE), antialias=True),
        v2.SanitizeBoundingBoxes(min_size=2),
        v2.ClampBoundingBoxes(),
        v2.ToDtype(torch.float32, scale=True),
    ])
    test_tf = v2.Compose([v2.Resize((SIZE, SIZE), antialias=True),
                          v2.ToDtype(torch.float32, scale=True)])
    train_ds = BoxDataset(48, seed=0, transforms=train_tf)

    # the boxes follow the masks through every geometric transform
    agree = []
    for i in range(20):
        img, t = train_ds[i]
        assert isinstance(t["boxes"], tv_tensors.BoundingBoxes) and img.dtype == torch.float32
        if len(t["boxes"]) and t["masks"].any():
            from_mask = ops.masks_to_boxes(t["masks"][:1]).float()
            agree.append(ops.box_iou(t["boxes"][:1].as_subclass(torch.Tensor),
                                     from_mask).item())
    print("box/mask agreement", round(float(np.mean(agree)), 3))

    train_loader = DataLoader(train_ds, batch_size=12, shuffle=True, collate_fn=collate)
    test_loader = DataLoader(BoxDataset(40, seed=1, transforms=test_tf), batch_size=40,
                             collate_fn=collate)
    model = Localiser()
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    for epoch in range(10):
        model.train()
        total = 0.0
        for images, boxes in train_loader:
            pred = model(images)
            loss = nn.functional.l1_loss(pred, boxes) + ops.generalized_box_iou_loss(
                pred, boxes, reduction="mean")
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item()
        print(f"epoch {epoch} loss {total / len(train_loader):.4f}")
    model.eval()
    with torch.no_grad():
        images, boxes = next(iter(test_loader))
        iou = ops.box_iou(model(images) * SIZE, boxes * SIZE).diagonal()
    print("OUTCOME " + json.dumps({"test_iou": iou.mean().item(),
                                   "box_mask_agreement": float(np.mean(agree)),
                                   "functional_checksum": checksum}))


if __name__ == "__main__":
    main()
