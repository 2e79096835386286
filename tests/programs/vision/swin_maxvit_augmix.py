"""Small-image Swin Transformer (v1 and v2 blocks) and MaxViT built from torchvision's classes,
the way people try them on CIFAR-sized data: models.swin_transformer.SwinTransformer with
patch_size=[2, 2], short depths and window_size=[4, 4]; the same with
block=SwinTransformerBlockV2 and downsample_layer=PatchMergingV2 (swin_v2's log-spaced
continuous position bias); models.maxvit.MaxVit(input_size=(32, 32), partition_size=4, ...);
trained with AdamW + a OneCycleLR on a transforms.v2 pipeline of AugMix, RandomGrayscale,
GaussianBlur and RandomCrop(padding=4, padding_mode="reflect") on uint8 tv_tensors.Image; a
batch of augmented images written with utils.save_image and read back with PIL."""
import argparse
import json
import os
import tempfile
from functools import partial

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader
from torchvision import tv_tensors, utils
from torchvision.models.maxvit import MaxVit
from torchvision.models.swin_transformer import (PatchMergingV2, SwinTransformer,
                                                 SwinTransformerBlockV2)
from torchvision.transforms import v2

NUM_CLASSES = 3


def make_data(n, seed):
    """Class 0: horizontal stripes, 1: vertical stripes, 2: checkerboard; random colours."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(32), torch.arange(32), indexing="ij")
    images, labels = [], []
    for i in range(n):
        label = i % NUM_CLASSES
        period = int(torch.randint(3, 7, (1,), generator=g))
        off = int(torch.randint(0, period, (1,), generator=g))
        h, v = ((yy + off) // period) % 2, ((xx + off) // period) % 2
        pattern = [h, v, h ^ v][label].float()
        fg, bg = torch.rand(3, 1, 1, generator=g), 0.5 * torch.rand(3, 1, 1, generator=g)
        img = bg + (fg - bg) * pattern + 0.05 * torch.randn(3, 32, 32, generator=g)
        images.append((img.clamp(0, 1) * 255).to(torch.uint8))
        labels.append(label)
    return torch.stack(images), torch.tensor(labels)


class Augmented(torch.utils.data.Dataset):
    def __init__(self, images, labels, transform):
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return self.transform(tv_tensors.Image(self.images[i])), self.labels[i]


def build(kind):
    if kind == "swin":
        return SwinTransformer(patch_size=[2, 2], embed_dim=32, depths=[2, 2], num_heads=[2, 4],
                               window_size=[4, 4], stochastic_depth_prob=0.1,
                               num_classes=NUM_CLASSES)
    if kind == "swin_v2":
        return SwinTransformer(patch_size=[2, 2], embed_dim=32, depths=[2, 2], num_heads=[2, 4],
                               window_size=[4, 4], stochastic_depth_prob=0.1,
                               num_classes=NUM_CLASSES, block=SwinTransformerBlockV2,
                               downsample_layer=PatchMergingV2)
    return MaxVit(input_size=(32, 32), stem_channels=16, partition_size=4,
                  block_channels=[32, 64], block_layers=[1, 1], head_dim=8,
                  stochastic_depth_prob=0.1, num_classes=NUM_CLASSES,
                  norm_layer=partial(nn.BatchNorm2d, eps=1e-3, momentum=0.01))


def run(kind, train_loader, test_x, test_y, epochs):
    model = build(kind)
    n_params = sum(p.numel() for p in model.parameters())
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.05)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=2e-3, pct_start=0.25,
                                                    total_steps=epochs * len(train_loader))
    for _ in range(epochs):
        model.train()
        for x, y in train_loader:
            loss = F.cross_entropy(model(x), y, label_smoothing=0.05)
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
    model.eval()
    with torch.no_grad():
        out = model(test_x)
    acc = (out.argmax(1) == test_y).float().mean().item()
    print(f"{kind:8s} params {n_params:7d} last loss {loss.item():.4f} test acc {acc:.3f}")
    return n_params, F.cross_entropy(out, test_y).item(), acc


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    torch.manual_seed(args.seed)

    train_x, train_y = make_data(120, args.seed)
    test_x, test_y = make_data(48, 100 + args.seed)
    normalize = v2.Compose([v2.ToDtype(torch.float32, scale=True),
                            v2.Normalize([0.5] * 3, [0.5] * 3)])
    train_tf = v2.Compose([
        v2.RandomCrop(32, padding=4, padding_mode="reflect"),
        v2.AugMix(severity=2, mixture_width=2),
        v2.RandomGrayscale(p=0.1),
        v2.RandomApply([v2.GaussianBlur(3, sigma=(0.1, 1.0))], p=0.3),
        normalize,
    ])
    loader = DataLoader(Augmented(train_x, train_y, train_tf), batch_size=20, shuffle=True)
    xb, _ = next(iter(loader))
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "batch.png")
        utils.save_image(xb * 0.5 + 0.5, path, nrow=5)
        saved = np.asarray(Image.open(path))
    print("augmented grid", saved.shape)

    test = normalize(test_x)
    results = {kind: run(kind, loader, test, test_y, args.epochs)
               for kind in ["swin", "swin_v2", "maxvit"]}
    outcome = {"grid_shape_ok": saved.shape == (2 + 4 * 34, 2 + 5 * 34, 3)}
    for kind, (n_params, loss, acc) in results.items():
        outcome[kind + "_params"] = n_params
        outcome[kind + "_test_loss"] = loss
        outcome[kind + "_acc"] = acc
    print("OUTCOME " + json.dumps(outcome))


if __name__ == "__main__":
    main()
