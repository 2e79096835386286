"""Gradient accumulation with loss scaling by the accumulation steps, clip_grad_norm_ returning
the total norm, parameter groups with different LRs, optimizer.zero_grad(set_to_none=True),
and a check that accumulated gradients equal the full-batch gradient."""
import argparse

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset


class Classifier(nn.Module):
    def __init__(self, d_in=20, hidden=64, n_classes=5):
        super().__init__()
        self.backbone = nn.Sequential(nn.Linear(d_in, hidden), nn.GELU(), nn.LayerNorm(hidden),
                                      nn.Linear(hidden, hidden), nn.GELU())
        self.head = nn.Linear(hidden, n_classes)

    def forward(self, x):
        return self.head(self.backbone(x))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--accumulation_steps", type=int, default=4)
    parser.add_argument("--micro_batch", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--max_grad_norm", type=float, default=1.0)
    args = parser.parse_args()
    torch.manual_seed(0)
    W = torch.randn(20, 5)
    X = torch.randn(1280, 20)
    y = (X @ W + 0.5 * torch.randn(1280, 5)).argmax(1)
    loader = DataLoader(TensorDataset(X[:1024], y[:1024]), batch_size=args.micro_batch,
                        shuffle=True)
    model = Classifier()

    # accumulated micro-batch gradients == one full-batch gradient
    xb, yb = X[:64], y[:64]
    model.zero_grad()
    F.cross_entropy(model(xb), yb).backward()
    full = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    for chunk_x, chunk_y in zip(xb.chunk(4), yb.chunk(4)):
        (F.cross_entropy(model(chunk_x), chunk_y) / 4).backward()
    for p, g in zip(model.parameters(), full):
        assert torch.allclose(p.grad, g, atol=1e-6), "accumulation mismatch"

    optimizer = torch.optim.AdamW([
        {"params": model.backbone.parameters(), "lr": 1e-3},
        {"params": model.head.parameters(), "lr": 3e-3},
    ], weight_decay=0.01)
    optimizer.zero_grad(set_to_none=True)
    norms = []
    for epoch in range(args.epochs):
        model.train()
        for step, (inputs, labels) in enumerate(loader):
            loss = F.cross_entropy(model(inputs), labels)
            loss = loss / args.accumulation_steps
            loss.backward()
            if (step + 1) % args.accumulation_steps == 0:
                total_norm = torch.nn.utils.clip_grad_norm_(model.parameters(),
                                                            args.max_grad_norm)
                norms.append(float(total_norm))
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
        model.eval()
        with torch.no_grad():
            val_loss = F.cross_entropy(model(X[1024:]), y[1024:]).item()
            acc = (model(X[1024:]).argmax(-1) == y[1024:]).float().mean().item()
        print(f"epoch {epoch} val_loss {val_loss:.4f} acc {acc:.4f} "
              f"mean grad norm {sum(norms[-16:]) / len(norms[-16:]):.3f}")
    assert all(p.grad is None for p in model.parameters())
    print(f"final_acc {acc:.4f}")


if __name__ == "__main__":
    main()
