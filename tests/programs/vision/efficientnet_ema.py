"""Fine-tuning an EfficientNet the way the torchvision classification reference scripts and
Kaggle notebooks do: models.efficientnet_b0(weights=None) with its classifier[1] replaced by a
new nn.Linear for the dataset's classes, the stem and first stages frozen with
requires_grad_(False) (their BatchNorms kept in eval mode), parameter groups with a higher
learning rate for the new head and no weight decay on norms and biases, a transforms.v2
training pipeline on uint8 tv_tensors.Image (RandomResizedCrop, TrivialAugmentWide,
RandomHorizontalFlip, ToDtype(scale=True), Normalize, RandomErasing), label smoothing,
CosineAnnealingWarmRestarts stepped with fractional epochs, and an exponential moving average
of the weights (optim.swa_utils.AveragedModel with get_ema_multi_avg_fn) whose BatchNorm
statistics are re-estimated by swa_utils.update_bn. Metrics: the last epoch's training loss
and the validation losses of the trained model and of the EMA (a few epochs from random
weights: the validation accuracy stays near chance)"""
import argparse
import json

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch.utils.data import DataLoader, Dataset
from torchvision import models, tv_tensors
from torchvision.transforms import v2

NUM_CLASSES = 3


def draw_shapes(n, size, seed):
    """Filled squares, discs and crosses (red, green, blue-ish) on a dim textured background."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    images, labels = [], []
    for i in range(n):
        label = i % NUM_CLASSES
        img = (torch.rand(3, size, size, generator=g) * 60).to(torch.uint8)
        cy, cx = torch.randint(size // 3, 2 * size // 3, (2,), generator=g).tolist()
        r = int(torch.randint(size // 6, size // 3, (1,), generator=g))
        if label == 0:
            mask = ((yy - cy).abs() <= r) & ((xx - cx).abs() <= r)
        elif label == 1:
            mask = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
        else:
            mask = (((yy - cy).abs() <= r // 3) & ((xx - cx).abs() <= r)) | \
                   (((xx - cx).abs() <= r // 3) & ((yy - cy).abs() <= r))
        colour = torch.randint(0, 90, (3,), generator=g)
        colour[label] = 255   # the dominant channel follows the class too
        colour = colour.to(torch.uint8)
        img[:, mask] = colour[:, None]
        images.append(img)
        labels.append(label)
    return torch.stack(images), torch.tensor(labels)


class ShapeDataset(Dataset):
    def __init__(self, images, labels, transform):
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, idx):
        img = tv_tensors.Image(self.images[idx])
        return self.transform(img), int(self.labels[idx])


def set_bn_eval(module):
    if isinstance(module, nn.modules.batchnorm._BatchNorm) and not any(
            p.requires_grad for p in module.parameters()):
        module.eval()


@torch.no_grad()
def evaluate(model, loader):
    model.eval()
    loss, correct, n = 0.0, 0, 0
    for x, y in loader:
        out = model(x)
        loss += F.cross_entropy(out, y, reduction="sum").item()
        correct += (out.argmax(1) == y).sum().item()
        n += len(y)
    return loss / n, correct / n


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args()
    torch.manual_seed(args.seed)

    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    train_tf = v2.Compose([
        v2.RandomResizedCrop(40, scale=(0.6, 1.0), antialias=True),
        v2.TrivialAugmentWide(),
        v2.RandomHorizontalFlip(),
        v2.ToDtype(torch.float32, scale=True),
        v2.Normalize(mean, std),
        v2.RandomErasing(p=0.25, scale=(0.02, 0.1)),
    ])
    val_tf = v2.Compose([v2.Resize(40, antialias=True), v2.ToDtype(torch.float32, scale=True),
                         v2.Normalize(mean, std)])
    train_x, train_y = draw_shapes(96, 48, seed=args.seed)
    val_x, val_y = draw_shapes(48, 48, seed=1000 + args.seed)
    train_loader = DataLoader(ShapeDataset(train_x, train_y, train_tf),
                              batch_size=args.batch_size, shuffle=True, drop_last=True)
    val_loader = DataLoader(ShapeDataset(val_x, val_y, val_tf), batch_size=48)

    model = models.efficientnet_b0(weights=None)
    in_features = model.classifier[1].in_features
    model.classifier[1] = nn.Linear(in_features, NUM_CLASSES)
    for block in model.features[:4]:
        block.requires_grad_(False)

    decay, no_decay, head = [], [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        if name.startswith("classifier"):
            head.append(p)
        elif p.ndim <= 1:
            no_decay.append(p)
        else:
            decay.append(p)
    optimizer = torch.optim.AdamW([
        {"params": decay, "lr": 2e-3, "weight_decay": 0.02},
        {"params": no_decay, "lr": 2e-3, "weight_decay": 0.0},
        {"params": head, "lr": 5e-3, "weight_decay": 0.02},
    ])
    n_trainable = sum(p.numel() for g in optimizer.param_groups for p in g["params"])
    n_total = sum(p.numel() for p in model.parameters())
    print(f"trainable {n_trainable} of {n_total} parameters")
    scheduler = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(optimizer, T_0=2,
                                                                     eta_min=1e-5)
    ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(0.8))
    criterion = nn.CrossEntropyLoss(label_smoothing=0.1)

    iters = len(train_loader)
    for epoch in range(args.epochs):
        model.train()
        model.apply(set_bn_eval)
        running = 0.0
        for i, (x, y) in enumerate(train_loader):
            loss = criterion(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step(epoch + (i + 1) / iters)
            ema.update_parameters(model)
            running += loss.item()
        val_loss, val_acc = evaluate(model, val_loader)
        lrs = [round(g["lr"], 6) for g in optimizer.param_groups]
        print(f"epoch {epoch} train {running / iters:.4f} val {val_loss:.4f} acc {val_acc:.3f} "
              f"lr {lrs}")

    # the averaged weights get BatchNorm statistics of their own from a pass over the data
    bn_loader = DataLoader(ShapeDataset(train_x, train_y, val_tf), batch_size=32)
    torch.optim.swa_utils.update_bn(bn_loader, ema)
    ema_loss, ema_acc = evaluate(ema.module, val_loader)
    frozen_unchanged = all(not p.requires_grad and p.grad is None
                           for p in model.features[:4].parameters())
    print(f"ema val {ema_loss:.4f} acc {ema_acc:.3f}")
    print("OUTCOME " + json.dumps({
        "last_train_loss": running / iters, "val_loss": val_loss, "ema_val_loss": ema_loss,
        "n_trainable": n_trainable, "frozen_unchanged": frozen_unchanged,
        "n_averaged": int(ema.n_averaged)}))


if __name__ == "__main__":
    main()
