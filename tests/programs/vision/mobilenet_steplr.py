"""Feature extraction with a torchvision MobileNetV3 the way Kaggle notebooks write it:
models.mobilenet_v3_small(weights=None) (no downloads), the first blocks of `features` frozen with
requires_grad_(False), the last classifier layer replaced by a new nn.Linear, Adam on the
trainable parameters only (filter(lambda p: p.requires_grad, ...)), optim.lr_scheduler.StepLR
stepped per epoch, transforms.Compose with RandomHorizontalFlip / RandomErasing / Normalize
over a TensorDataset-like Dataset of generated colour images, model.eval() +
torch.inference_mode() evaluation with top-1 / top-3 accuracy, get_last_lr, BatchNorm
statistics re-estimated before the final evaluation (reset_running_stats, momentum=None), and a
state_dict round trip into a model built with num_classes."""
import json
import os

import numpy as np
import torch
import torch.nn as nn
import torch.optim as optim
from torch.utils.data import DataLoader, Dataset
from torchvision import models, transforms

NUM_CLASSES = 5
PALETTE = np.array([[220, 40, 40], [40, 200, 60], [50, 70, 230], [230, 210, 40],
                    [200, 60, 210]], dtype=np.float32) / 255.0


class ColourBlobs(Dataset):
    """64x64 images: a blob of the class colour on a grey noisy background."""

    def __init__(self, n, seed, transform=None):
        rs = np.random.RandomState(seed)
        yy, xx = np.mgrid[0:64, 0:64]
        self.images, self.labels = [], []
        for i in range(n):
            label = i % NUM_CLASSES
            img = 0.5 + 0.1 * rs.randn(3, 64, 64)
            cy, cx, r = rs.randint(16, 48), rs.randint(16, 48), rs.randint(12, 20)
            blob = (yy - cy) ** 2 + (xx - cx) ** 2 < r * r
            img[:, blob] = PALETTE[label][:, None] + 0.05 * rs.randn(3, int(blob.sum()))
            self.images.append(torch.tensor(np.clip(img, 0, 1), dtype=torch.float32))
            self.labels.append(label)
        self.transform = transform

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, idx):
        x = self.images[idx]
        if self.transform:
            x = self.transform(x)
        return x, self.labels[idx]


def accuracy(output, target, topk=(1,)):
    with torch.no_grad():
        maxk = max(topk)
        _, pred = output.topk(maxk, dim=1)
        correct = pred.eq(target.unsqueeze(1))
        return [correct[:, :k].any(dim=1).float().mean().item() for k in topk]


def evaluate(model, loader, criterion):
    model.eval()
    losses, outs, targets = [], [], []
    with torch.inference_mode():
        for x, y in loader:
            out = model(x)
            losses.append(criterion(out, y).item() * len(y))
            outs.append(out)
            targets.append(y)
        assert out.is_inference() and not out.requires_grad
    out, y = torch.cat(outs), torch.cat(targets)
    top1, top3 = accuracy(out, y, topk=(1, 3))
    return sum(losses) / len(y), top1, top3


def main():
    torch.manual_seed(int(os.environ.get("SEED", 0)))
    normalize = transforms.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])
    train_tf = transforms.Compose([transforms.RandomHorizontalFlip(),
                                   normalize,
                                   transforms.RandomErasing(p=0.25, scale=(0.02, 0.1))])
    train_ds = ColourBlobs(100, seed=0, transform=train_tf)
    val_ds = ColourBlobs(50, seed=1, transform=normalize)
    train_loader = DataLoader(train_ds, batch_size=10, shuffle=True)
    val_loader = DataLoader(val_ds, batch_size=25)

    model = models.mobilenet_v3_small(weights=None)
    model.features[:4].requires_grad_(False)
    in_features = model.classifier[-1].in_features
    model.classifier[-1] = nn.Linear(in_features, NUM_CLASSES)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    frozen = sum(p.numel() for p in model.parameters() if not p.requires_grad)
    print(f"trainable {trainable} frozen {frozen}")

    criterion = nn.CrossEntropyLoss()
    optimizer = optim.Adam(filter(lambda p: p.requires_grad, model.parameters()), lr=2e-3)
    scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    for epoch in range(4):
        model.train()
        running = 0.0
        for x, y in train_loader:
            optimizer.zero_grad()
            loss = criterion(model(x), y)
            loss.backward()
            optimizer.step()
            running += loss.item() * x.size(0)
        scheduler.step()
        val_loss, top1, top3 = evaluate(model, val_loader, criterion)
        print(f"epoch {epoch} lr {scheduler.get_last_lr()[0]:.4f} "
              f"train {running / len(train_ds):.4f} val {val_loss:.4f} top1 {top1:.3f} "
              f"top3 {top3:.3f}")
    assert model.features[0][0].weight.grad is None
    # "precise BN": MobileNetV3's BatchNorm momentum is 0.01, so after a few dozen steps the
    # running statistics still describe the initial weights; re-estimate them (cumulative
    # average, momentum=None) on the training images before the final evaluation
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None
    model.train()
    with torch.no_grad():
        for x, _ in DataLoader(ColourBlobs(100, seed=0, transform=normalize), batch_size=50):
            model(x)
    val_loss, top1, top3 = evaluate(model, val_loader, criterion)
    print(f"after BN recalibration: val {val_loss:.4f} top1 {top1:.3f} top3 {top3:.3f}")

    torch.save(model.state_dict(), "mobilenet.pth")
    reloaded = models.mobilenet_v3_small(num_classes=NUM_CLASSES)
    reloaded.load_state_dict(torch.load("mobilenet.pth", weights_only=True))
    reloaded.eval()
    x, _ = next(iter(val_loader))
    with torch.inference_mode():
        same = torch.allclose(reloaded(x), model(x), atol=1e-5)
    print("OUTCOME " + json.dumps({"top1": top1, "top3": top3, "val_loss": val_loss,
                                   "reload_matches": bool(same)}))


if __name__ == "__main__":
    main()
