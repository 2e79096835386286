"""Small-image versions of torchvision's modern architectures, the way people try them on
CIFAR-sized data: models.VisionTransformer(image_size=32, patch_size=4, ...) and
models.convnext.ConvNeXt with a short CNBlockConfig block_setting (stochastic depth, LayerNorm2d),
trained with AdamW (no weight decay on norms / biases / class token / position embedding),
label smoothing, a LinearLR warm-up chained to CosineAnnealingLR by SequentialLR and
clip_grad_norm_. Parameter counts of the full-size builders (efficientnet_b0, convnext_tiny,
vit_b_16, swin_t, mobilenet_v2, resnet50) are taken on the meta device
(`with torch.device("meta")`), and efficientnet_b0(num_classes=4) runs one eval forward on a
32x32 batch."""
import json
import os

import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset
from torchvision import models
from torchvision.models.convnext import CNBlockConfig, ConvNeXt

NUM_CLASSES = 4


def stripes(n, seed):
    """Stripes at 0/45/90/135 degrees with a random frequency and phase, plus noise."""
    rs = np.random.RandomState(seed)
    yy, xx = np.mgrid[0:32, 0:32] / 32.0
    x = np.zeros((n, 3, 32, 32), np.float32)
    y = np.arange(n) % NUM_CLASSES
    for i in range(n):
        a = y[i] * np.pi / 4
        f, ph = rs.uniform(3, 6), rs.uniform(0, 2 * np.pi)
        pattern = np.sin(2 * np.pi * f * (np.cos(a) * xx + np.sin(a) * yy) + ph)
        x[i] = pattern * rs.uniform(0.5, 1.0, (3, 1, 1)) + 0.3 * rs.randn(3, 32, 32)
    return torch.from_numpy(x), torch.from_numpy(y)


def param_groups(model, weight_decay):
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if p.ndim <= 1 or name.endswith(".bias") or name.endswith(("class_token",
                                                                   "pos_embedding")):
            no_decay.append(p)
        else:
            decay.append(p)
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0}]


def train(model, train_loader, x_val, y_val, epochs=6, lr=2e-3):
    optimizer = torch.optim.AdamW(param_groups(model, 0.05), lr=lr)
    steps = epochs * len(train_loader)
    warmup = torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=0.1, total_iters=4)
    cosine = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps - 4)
    scheduler = torch.optim.lr_scheduler.SequentialLR(optimizer, [warmup, cosine],
                                                      milestones=[4])
    criterion = nn.CrossEntropyLoss(label_smoothing=0.1)
    for epoch in range(epochs):
        model.train()
        for x, y in train_loader:
            loss = criterion(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
            optimizer.step()
            scheduler.step()
    model.eval()
    with torch.no_grad():
        logits = model(x_val)
        acc = (logits.argmax(1) == y_val).float().mean().item()
        val_loss = nn.functional.cross_entropy(logits, y_val).item()
    print(f"{type(model).__name__}: final lr {scheduler.get_last_lr()[0]:.2e} "
          f"loss {loss.item():.4f} val acc {acc:.3f}")
    return acc, val_loss


def main():
    torch.manual_seed(int(os.environ.get("SEED", 0)))
    counts = {}
    with torch.device("meta"):
        for name in ["efficientnet_b0", "convnext_tiny", "vit_b_16", "swin_t", "mobilenet_v2",
                     "resnet50"]:
            m = getattr(models, name)(weights=None)
            counts[name] = sum(p.numel() for p in m.parameters())
            assert next(m.parameters()).is_meta
    print("parameter counts", counts)

    x, y = stripes(96, seed=0)
    x_val, y_val = stripes(48, seed=1)
    loader = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True)
    vit = models.VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=4,
                                   hidden_dim=64, mlp_dim=128, num_classes=NUM_CLASSES)
    vit_acc, vit_loss = train(vit, loader, x_val, y_val)
    convnext = ConvNeXt([CNBlockConfig(32, 64, 1), CNBlockConfig(64, None, 1)],
                        stochastic_depth_prob=0.1, num_classes=NUM_CLASSES)
    cnx_acc, cnx_loss = train(convnext, loader, x_val, y_val)

    effnet = models.efficientnet_b0(num_classes=NUM_CLASSES).eval()
    with torch.no_grad():
        out = effnet(x_val[:2])
    print("efficientnet_b0 output", tuple(out.shape))
    print("OUTCOME " + json.dumps({
        "vit_acc": vit_acc, "vit_val_loss": vit_loss, "convnext_acc": cnx_acc,
        "convnext_val_loss": cnx_loss, "total_params": float(sum(counts.values())),
        "effnet_shape_ok": tuple(out.shape) == (2, NUM_CLASSES)}))


if __name__ == "__main__":
    main()
