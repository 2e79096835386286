"""A tiny Vision Transformer (the "ViT from scratch" tutorials / vit-pytorch style) on
generated 16x16 images of oriented bars: patch embedding with a strided Conv2d and
flatten(2).transpose(1, 2), a learnable cls token (torch.zeros + expand) and position embedding
(nn.init.trunc_normal_), nn.TransformerEncoder(batch_first=True, norm_first=True,
activation="gelu", enable_nested_tensor=False), AdamW with a no-weight-decay group for
norms/biases/tokens, linear warmup + cosine LambdaLR, label smoothing, torch.topk accuracy."""
import math

import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset


class PatchEmbed(nn.Module):
    def __init__(self, img_size=16, patch_size=4, in_chans=1, embed_dim=48):
        super().__init__()
        self.num_patches = (img_size // patch_size) ** 2
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x):
        x = self.proj(x)                     # B, D, H/p, W/p
        return x.flatten(2).transpose(1, 2)  # B, N, D


class ViT(nn.Module):
    def __init__(self, num_classes=4, embed_dim=48, depth=2, num_heads=4, mlp_ratio=2.0,
                 dropout=0.1):
        super().__init__()
        self.patch_embed = PatchEmbed(embed_dim=embed_dim)
        n = self.patch_embed.num_patches
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, n + 1, embed_dim))
        self.pos_drop = nn.Dropout(p=dropout)
        layer = nn.TransformerEncoderLayer(d_model=embed_dim, nhead=num_heads,
                                           dim_feedforward=int(embed_dim * mlp_ratio),
                                           dropout=dropout, activation="gelu",
                                           batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers=depth,
                                             norm=nn.LayerNorm(embed_dim),
                                             enable_nested_tensor=False)
        self.head = nn.Linear(embed_dim, num_classes)
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        self.apply(self._init_weights)

    def _init_weights(self, m):
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)

    def forward(self, x):
        B = x.shape[0]
        x = self.patch_embed(x)
        cls_tokens = self.cls_token.expand(B, -1, -1)
        x = torch.cat((cls_tokens, x), dim=1)
        x = self.pos_drop(x + self.pos_embed)
        x = self.encoder(x)
        return self.head(x[:, 0])


def make_bars(n, seed):
    """Images with one bright bar: horizontal, vertical, or one of two diagonals."""
    rs = np.random.RandomState(seed)
    X = rs.normal(0, 0.3, (n, 1, 16, 16)).astype(np.float32)
    y = rs.randint(0, 4, n)
    for i in range(n):
        c = rs.randint(3, 13)
        for t in range(2, 14):
            r, col = [(c, t), (t, c), (t, t + c - 8), (t, 8 - c + 15 - t)][y[i]]
            if 0 <= col < 16:
                X[i, 0, r, col] += 1.5
    return torch.from_numpy(X), torch.from_numpy(y).long()


def accuracy(output, target, topk=(1,)):
    with torch.no_grad():
        maxk = max(topk)
        batch_size = target.size(0)
        _, pred = output.topk(maxk, 1, True, True)
        pred = pred.t()
        correct = pred.eq(target.view(1, -1).expand_as(pred))
        res = []
        for k in topk:
            correct_k = correct[:k].reshape(-1).float().sum(0, keepdim=True)
            res.append(correct_k.mul_(100.0 / batch_size))
        return res


def main():
    torch.manual_seed(0)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    Xtr, ytr = make_bars(448, 0)
    Xte, yte = make_bars(192, 1)
    train_loader = DataLoader(TensorDataset(Xtr, ytr), batch_size=64, shuffle=True)
    test_loader = DataLoader(TensorDataset(Xte, yte), batch_size=128)
    model = ViT().to(device)
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (no_decay if p.ndim <= 1 or name.endswith(".bias") or "token" in name or "pos_embed" in name
         else decay).append(p)
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=2e-3)
    epochs, warmup = 6, 8
    total = epochs * len(train_loader)

    def lr_lambda(step):
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * (step - warmup) / (total - warmup)))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda)
    criterion = nn.CrossEntropyLoss(label_smoothing=0.1)
    print(f"params: {sum(p.numel() for p in model.parameters() if p.requires_grad):,}")
    for epoch in range(epochs):
        model.train()
        total_loss = 0.0
        for images, target in train_loader:
            images, target = images.to(device), target.to(device)
            output = model(images)
            loss = criterion(output, target)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
            optimizer.step()
            scheduler.step()
            total_loss += loss.item() * images.size(0)
        model.eval()
        top1 = top2 = 0.0
        with torch.no_grad():
            for images, target in test_loader:
                acc1, acc2 = accuracy(model(images.to(device)), target.to(device), topk=(1, 2))
                top1 += acc1[0] * images.size(0) / 100
                top2 += acc2[0] * images.size(0) / 100
        print(f"Epoch {epoch}: loss {total_loss / len(Xtr):.4f} "
              f"Acc@1 {top1 / len(Xte):.3f} Acc@2 {top2 / len(Xte):.3f} "
              f"lr {scheduler.get_last_lr()[0]:.2e}")
    with torch.no_grad():
        attn_in = model.patch_embed(Xte[:2])
        print("patch tokens", tuple(attn_in.shape), "cls norm", model.cls_token.norm().item() > 0)
    print(f"final_acc {(top1 / len(Xte)).item():.4f}")


if __name__ == "__main__":
    main()
