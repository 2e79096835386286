"""Semantic segmentation with torchvision's LR-ASPP MobileNetV3 the way the transforms v2 docs
show joint image / mask augmentation: a Dataset returning (tv_tensors.Image, tv_tensors.Mask)
with VOC-style 255 "void" borders around the objects, a v2.Compose of RandomResizedCrop,
RandomHorizontalFlip, RandomRotation(fill={tv_tensors.Image: 0, tv_tensors.Mask: 255}),
ColorJitter (image only), ToDtype({tv_tensors.Image: torch.float32, tv_tensors.Mask: torch.int64,
"others": None}, scale=True) and Normalize; models.segmentation.lraspp_mobilenet_v3_large(
weights=None, weights_backbone=None, num_classes=3) trained with Adam on cross-entropy with
ignore_index=255 (model(x)["out"]); the mean IoU from a confusion matrix (torch.bincount) on
a validation split; a coloured prediction grid through utils.make_grid / save_image."""
import argparse
import json
import os
import tempfile

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, Dataset
from torchvision import tv_tensors, utils
from torchvision.models.segmentation import lraspp_mobilenet_v3_large
from torchvision.transforms import v2

NUM_CLASSES = 3   # background, disc, bar
PALETTE = torch.tensor([[0, 0, 0], [230, 60, 60], [60, 200, 230]], dtype=torch.uint8)


def make_scene(g, size):
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    img = (40 + 30 * torch.rand(3, size, size, generator=g)).to(torch.uint8)
    mask = torch.zeros(size, size, dtype=torch.uint8)
    for _ in range(int(torch.randint(1, 4, (1,), generator=g))):
        cls = int(torch.randint(1, NUM_CLASSES, (1,), generator=g))
        cy, cx = torch.randint(8, size - 8, (2,), generator=g).tolist()
        r = int(torch.randint(5, 11, (1,), generator=g))
        if cls == 1:
            d2 = (yy - cy) ** 2 + (xx - cx) ** 2
            inside, ring = d2 <= r * r, (d2 > r * r) & (d2 <= (r + 1) ** 2)
        else:
            inside = ((yy - cy).abs() <= r // 2) & ((xx - cx).abs() <= r + 3)
            ring = ((yy - cy).abs() <= r // 2 + 1) & ((xx - cx).abs() <= r + 4) & ~inside
        shade = torch.randint(150, 256, (3,), generator=g).to(torch.uint8)
        shade[cls - 1] = 255
        img[:, inside] = shade[:, None]
        mask[ring & (mask == 0)] = 255
        mask[inside] = cls
    return img, mask


class Scenes(Dataset):
    def __init__(self, n, size, seed, transforms):
        g = torch.Generator().manual_seed(seed)
        self.items = [make_scene(g, size) for _ in range(n)]
        self.transforms = transforms

    def __len__(self):
        return len(self.items)

    def __getitem__(self, idx):
        img, mask = self.items[idx]
        return self.transforms(tv_tensors.Image(img), tv_tensors.Mask(mask))


def confusion(pred, target, n):
    keep = target != 255
    idx = target[keep] * n + pred[keep]
    return torch.bincount(idx, minlength=n * n).reshape(n, n)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()
    torch.manual_seed(args.seed)

    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    to_float = v2.ToDtype({tv_tensors.Image: torch.float32, tv_tensors.Mask: torch.int64,
                           "others": None}, scale=True)
    train_tf = v2.Compose([
        v2.RandomResizedCrop(48, scale=(0.5, 1.0), antialias=True),
        v2.RandomHorizontalFlip(),
        v2.RandomRotation(15, fill={tv_tensors.Image: 0, tv_tensors.Mask: 255}),
        v2.ColorJitter(brightness=0.3, contrast=0.3, saturation=0.3),
        to_float,
        v2.Normalize(mean, std),
    ])
    val_tf = v2.Compose([v2.Resize(48, antialias=True), to_float, v2.Normalize(mean, std)])
    train_set = Scenes(64, 56, seed=args.seed, transforms=train_tf)
    val_set = Scenes(24, 56, seed=500 + args.seed, transforms=val_tf)
    img0, mask0 = train_set[0]
    assert isinstance(img0, tv_tensors.Image) and isinstance(mask0, tv_tensors.Mask)
    assert mask0.dtype == torch.int64 and img0.shape[-2:] == mask0.shape[-2:]
    train_loader = DataLoader(train_set, batch_size=8, shuffle=True, drop_last=True)
    val_loader = DataLoader(val_set, batch_size=12)

    model = lraspp_mobilenet_v3_large(weights=None, weights_backbone=None,
                                      num_classes=NUM_CLASSES)
    criterion = nn.CrossEntropyLoss(ignore_index=255)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    for epoch in range(args.epochs):
        model.train()
        total = 0.0
        for x, y in train_loader:
            out = model(x)["out"]
            loss = criterion(out, y.squeeze(1) if y.ndim == 4 else y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item()
        print(f"epoch {epoch} loss {total / len(train_loader):.4f}")

    model.eval()
    conf = torch.zeros(NUM_CLASSES, NUM_CLASSES, dtype=torch.int64)
    val_loss, batches = 0.0, 0
    with torch.inference_mode():
        for x, y in val_loader:
            out = model(x)["out"]
            assert out.shape[-2:] == x.shape[-2:]
            val_loss += criterion(out, y).item()
            batches += 1
            conf += confusion(out.argmax(1), y, NUM_CLASSES)
    iou = conf.diag().float() / (conf.sum(0) + conf.sum(1) - conf.diag()).clamp(min=1).float()
    pixel_acc = (conf.diag().sum().float() / conf.sum().float()).item()
    print("per-class IoU", [round(v, 3) for v in iou.tolist()], "pixel acc", round(pixel_acc, 4))

    colour = PALETTE[out.argmax(1)].permute(0, 3, 1, 2)          # uint8 N x 3 x H x W
    grid = utils.make_grid(colour.float() / 255, nrow=4, padding=2, pad_value=1.0)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "pred.png")
        utils.save_image(colour.float() / 255, path, nrow=4, padding=2, pad_value=1.0)
        saved_ok = os.path.getsize(path) > 0
    print("grid", tuple(grid.shape))
    print("OUTCOME " + json.dumps({
        "mean_iou": iou.mean().item(), "pixel_acc": pixel_acc,
        "val_loss": val_loss / batches, "last_train_loss": total / len(train_loader),
        "grid_shape_ok": tuple(grid.shape) == (3, 2 + 3 * 50, 2 + 4 * 50) and saved_ok}))


if __name__ == "__main__":
    main()
