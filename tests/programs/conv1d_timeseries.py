"""1-D CNN time-series classifier: synthetic signals (sine, square, sawtooth, noise) with
random phase/frequency, Conv1d + BatchNorm1d + MaxPool1d + AdaptiveAvgPool1d, Dataset that
generates on the fly with a fixed torch.Generator, DataLoader with a custom collate_fn that
stacks and adds a channel dim, CosineAnnealingLR, confusion matrix via torch.bincount."""
import argparse
import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

N_CLASSES, LENGTH = 4, 96


class SignalDataset(Dataset):
    def __init__(self, n, seed):
        g = torch.Generator().manual_seed(seed)
        self.labels = torch.randint(0, N_CLASSES, (n,), generator=g)
        self.freq = torch.empty(n).uniform_(1.5, 4.0, generator=g)
        self.phase = torch.rand(n, generator=g) * 2 * math.pi
        self.noise = torch.randn(n, LENGTH, generator=g) * 0.3

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        t = torch.linspace(0, 1, LENGTH)
        arg = 2 * math.pi * self.freq[i] * t + self.phase[i]
        c = int(self.labels[i])
        if c == 0:
            s = torch.sin(arg)
        elif c == 1:
            s = torch.sign(torch.sin(arg))
        elif c == 2:
            s = 2 * torch.remainder(arg / (2 * math.pi), 1.0) - 1
        else:
            s = torch.zeros(LENGTH)
        return s + self.noise[i], c


def collate(batch):
    xs, ys = zip(*batch)
    return torch.stack(xs).unsqueeze(1), torch.tensor(ys)


class CNN1D(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv1d(1, 16, kernel_size=7, padding=3)
        self.bn1 = nn.BatchNorm1d(16)
        self.conv2 = nn.Conv1d(16, 32, kernel_size=5, padding=2)
        self.bn2 = nn.BatchNorm1d(32)
        self.pool = nn.MaxPool1d(2)
        self.gap = nn.AdaptiveAvgPool1d(1)
        self.fc = nn.Linear(32, N_CLASSES)

    def forward(self, x):
        x = self.pool(F.relu(self.bn1(self.conv1(x))))
        x = self.pool(F.relu(self.bn2(self.conv2(x))))
        return self.fc(torch.flatten(self.gap(x), 1))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()
    torch.manual_seed(0)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    train_loader = DataLoader(SignalDataset(768, 1), batch_size=32, shuffle=True,
                              collate_fn=collate, num_workers=0)
    test_loader = DataLoader(SignalDataset(256, 2), batch_size=128, collate_fn=collate)
    model = CNN1D().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)
    for epoch in range(args.epochs):
        model.train()
        for xb, yb in train_loader:
            xb, yb = xb.to(device), yb.to(device)
            optimizer.zero_grad()
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            optimizer.step()
        scheduler.step()
        print(f"epoch {epoch} loss {loss.item():.4f} lr {scheduler.get_last_lr()[0]:.5f}")
    model.eval()
    preds, targets = [], []
    with torch.no_grad():
        for xb, yb in test_loader:
            preds.append(model(xb.to(device)).argmax(1).cpu())
            targets.append(yb)
    preds, targets = torch.cat(preds), torch.cat(targets)
    confusion = torch.bincount(targets * N_CLASSES + preds,
                               minlength=N_CLASSES ** 2).reshape(N_CLASSES, N_CLASSES)
    print(confusion)
    acc = confusion.diag().sum().item() / confusion.sum().item()
    print(f"final_acc {acc:.4f}")
