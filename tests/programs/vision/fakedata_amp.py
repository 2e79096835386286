"""A torchvision training script in the reference-scripts style on FakeData: transforms.v2
pipeline (RandomResizedCrop(antialias), RandomHorizontalFlip, ToImage/ToDtype(scale=True),
Normalize), torchvision.models.resnet18(num_classes=10) with zero-initialised residual BN,
SGD + OneCycleLR stepped per batch, bfloat16 torch.autocast on CPU with a torch.amp.GradScaler
(enabled only on CUDA, as the scripts do), label smoothing, v2.CutMix/MixUp in the collate_fn via
v2.RandomChoice, channels_last, and top-1/top-5 accuracy. The metric is the loss on the (fixed,
untransformed) training images, which the model should fit."""
import argparse
import json

import torch
import torch.nn as nn
import torchvision
from torch.utils.data import DataLoader, default_collate
from torchvision.transforms import v2


def accuracy(output, target, topk=(1,)):
    maxk = max(topk)
    _, pred = output.topk(maxk, 1, True, True)
    pred = pred.t()
    correct = pred.eq(target.view(1, -1).expand_as(pred))
    return [correct[:k].reshape(-1).float().sum(0).item() / target.size(0) for k in topk]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = p.parse_args()
    torch.manual_seed(0)
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    train_tf = v2.Compose([v2.ToImage(),
                           v2.RandomResizedCrop(32, scale=(0.6, 1.0), antialias=True),
                           v2.RandomHorizontalFlip(), v2.ToDtype(torch.float32, scale=True),
                           v2.Normalize(mean, std)])
    eval_tf = v2.Compose([v2.ToImage(), v2.Resize(32, antialias=True),
                          v2.ToDtype(torch.float32, scale=True), v2.Normalize(mean, std)])
    train_ds = torchvision.datasets.FakeData(size=64, image_size=(3, 40, 40), num_classes=10,
                                             transform=train_tf, random_offset=0)
    eval_ds = torchvision.datasets.FakeData(size=64, image_size=(3, 40, 40), num_classes=10,
                                            transform=eval_tf, random_offset=0)
    mix = v2.RandomChoice([v2.CutMix(num_classes=10, alpha=1.0), v2.MixUp(num_classes=10,
                                                                          alpha=0.2)])

    def collate_fn(batch):
        return mix(*default_collate(batch))

    train_dl = DataLoader(train_ds, batch_size=args.batch_size, shuffle=True, drop_last=True,
                          collate_fn=collate_fn)
    eval_dl = DataLoader(eval_ds, batch_size=32)
    model = torchvision.models.resnet18(num_classes=10)
    for m in model.modules():
        if isinstance(m, torchvision.models.resnet.BasicBlock):
            nn.init.zeros_(m.bn2.weight)
    model = model.to(args.device, memory_format=torch.channels_last)
    criterion = nn.CrossEntropyLoss(label_smoothing=0.1)
    params_bn = [p for n, p in model.named_parameters() if p.ndim <= 1]
    params_w = [p for n, p in model.named_parameters() if p.ndim > 1]
    opt = torch.optim.SGD([{"params": params_w, "weight_decay": 5e-4},
                           {"params": params_bn, "weight_decay": 0.0}], lr=0.05, momentum=0.9,
                          nesterov=True)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, epochs=args.epochs,
                                                steps_per_epoch=len(train_dl), pct_start=0.25)
    scaler = torch.amp.GradScaler("cuda", enabled=args.device == "cuda")
    for epoch in range(args.epochs):
        model.train()
        total = 0.0
        for images, targets in train_dl:
            images = images.to(args.device, memory_format=torch.channels_last)
            assert targets.shape == (args.batch_size, 10)
            with torch.autocast(device_type=args.device, dtype=torch.bfloat16):
                output = model(images)
                loss = criterion(output, targets)
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.unscale_(opt)
            nn.utils.clip_grad_norm_(model.parameters(), 2.0)
            scaler.step(opt)
            scaler.update()
            sched.step()
            total += loss.item()
        print(f"epoch {epoch} loss {total / len(train_dl):.4f} "
              f"lr {sched.get_last_lr()[0]:.4f}")
    model.eval()
    n, loss_sum, top1, top5 = 0, 0.0, 0.0, 0.0
    with torch.inference_mode():
        for images, targets in eval_dl:
            output = model(images.to(memory_format=torch.channels_last)).float()
            loss_sum += nn.functional.cross_entropy(output, targets).item() * len(targets)
            a1, a5 = accuracy(output, targets, topk=(1, 5))
            top1 += a1 * len(targets)
            top5 += a5 * len(targets)
            n += len(targets)
    print(f"top1 {top1 / n:.4f} top5 {top5 / n:.4f}")
    print("OUTCOME " + json.dumps({"eval_loss": loss_sum / n, "top5": top5 / n}))


if __name__ == "__main__":
    main()
