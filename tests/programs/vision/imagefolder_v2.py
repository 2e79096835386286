"""An image-classification script on a folder of PNG files (the usual custom-dataset
tutorial): generated shapes written with PIL into class folders in a temporary directory,
torchvision.datasets.ImageFolder with a transforms.v2 pipeline (RandomResizedCrop,
RandomHorizontalFlip, ColorJitter, ToImage, ToDtype(float32, scale=True), Normalize) and a
plain eval pipeline (Resize, CenterCrop), class_to_idx, DataLoader over it, a small CNN,
torchvision.utils.make_grid / save_image of a batch, pil_to_tensor of the written
file, then accuracy on a held-out folder."""
import json
import os
import tempfile

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from PIL import Image, ImageDraw
from torch.utils.data import DataLoader
from torchvision import datasets
from torchvision.transforms import v2
from torchvision.utils import make_grid, save_image

CLASSES = ["circle", "square", "triangle"]


def draw(kind, rng, size=40):
    bg = tuple(int(v) for v in rng.integers(0, 90, 3))
    fg = tuple(int(v) for v in rng.integers(150, 256, 3))
    img = Image.new("RGB", (size, size), bg)
    d = ImageDraw.Draw(img)
    r = int(rng.integers(9, 15))
    cx, cy = (int(v) for v in rng.integers(r + 2, size - r - 2, 2))
    if kind == "circle":
        d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fg)
    elif kind == "square":
        d.rectangle([cx - r, cy - r, cx + r, cy + r], fill=fg)
    else:
        d.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=fg)
    return img


def write_split(root, n_per_class, rng):
    for c in CLASSES:
        os.makedirs(os.path.join(root, c), exist_ok=True)
        for i in range(n_per_class):
            draw(c, rng).save(os.path.join(root, c, f"{c}_{i:03d}.png"))


class SmallCNN(nn.Module):
    def __init__(self, n_classes):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(1))
        self.classifier = nn.Linear(32, n_classes)

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


if __name__ == "__main__":
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    tmp = tempfile.mkdtemp()
    write_split(os.path.join(tmp, "train"), 60, rng)
    write_split(os.path.join(tmp, "val"), 20, rng)
    mean, std = [0.5, 0.5, 0.5], [0.25, 0.25, 0.25]
    train_tf = v2.Compose([
        v2.RandomResizedCrop(32, scale=(0.7, 1.0), antialias=True),
        v2.RandomHorizontalFlip(),
        v2.ColorJitter(brightness=0.2, contrast=0.2),
        v2.ToImage(),
        v2.ToDtype(torch.float32, scale=True),
        v2.Normalize(mean, std),
    ])
    eval_tf = v2.Compose([v2.Resize(36, antialias=True), v2.CenterCrop(32), v2.ToImage(),
                          v2.ToDtype(torch.float32, scale=True), v2.Normalize(mean, std)])
    train_ds = datasets.ImageFolder(os.path.join(tmp, "train"), transform=train_tf)
    val_ds = datasets.ImageFolder(os.path.join(tmp, "val"), transform=eval_tf)
    print(train_ds.class_to_idx, len(train_ds), len(val_ds), train_ds.samples[0][1])
    assert train_ds.classes == CLASSES
    train_loader = DataLoader(train_ds, batch_size=32, shuffle=True, num_workers=0)
    val_loader = DataLoader(val_ds, batch_size=64)
    xb, yb = next(iter(train_loader))
    print("batch", tuple(xb.shape), xb.dtype, yb[:8].tolist())
    grid = make_grid(xb[:16] * 0.25 + 0.5, nrow=4, padding=2)
    save_image(xb[:16] * 0.25 + 0.5, os.path.join(tmp, "batch.png"), nrow=4)
    back = torchvision.transforms.functional.pil_to_tensor(
        Image.open(os.path.join(tmp, "batch.png")))
    print("grid", tuple(grid.shape), "saved", tuple(back.shape), back.dtype)
    assert tuple(back.shape) == tuple(grid.shape)
    model = SmallCNN(len(CLASSES))
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=6, gamma=0.3)
    for epoch in range(10):
        model.train()
        total = 0.0
        for xb, yb in train_loader:
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(yb)
        sched.step()
        print(f"epoch {epoch} loss {total / len(train_ds):.4f}")
    model.eval()
    correct, vloss = 0, 0.0
    with torch.no_grad():
        for xb, yb in val_loader:
            out = model(xb)
            vloss += F.cross_entropy(out, yb, reduction="sum").item()
            correct += (out.argmax(1) == yb).sum().item()
    acc = correct / len(val_ds)
    print("OUTCOME " + json.dumps({"accuracy": acc, "val_loss": vloss / len(val_ds),
                                   "grid_png": tuple(back.shape) == tuple(grid.shape)}))
