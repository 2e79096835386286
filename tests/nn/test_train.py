"""End to end: an MLP and a small CNN learn generated classification problems."""
import numpy as np

import cadenza as torch  # the point: PyTorch code, unchanged
import cadenza.nn as nn
import cadenza.nn.functional as F


def _optimizer(params, lr):
    try:
        from cadenza.optim import Adam
        return Adam(params, lr=lr)
    except ImportError:  # plain SGD step written inline
        class _SGD:
            def __init__(self, ps, lr):
                self.ps, self.lr = list(ps), lr

            def zero_grad(self):
                for p in self.ps:
                    p.grad = None

            def step(self):
                with torch.no_grad():
                    for p in self.ps:
                        p -= self.lr * p.grad
        return _SGD(params, lr * 30)


def _fit(model, x, y, steps, lr, batch=64):
    opt = _optimizer(model.parameters(), lr)
    loss_fn = nn.CrossEntropyLoss()
    g = np.random.default_rng(0)
    model.train()
    for _ in range(steps):
        idx = torch.tensor(g.integers(0, len(y), batch))
        opt.zero_grad()
        loss = loss_fn(model(x[idx]), y[idx])
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
    model.eval()
    with torch.no_grad():
        return (model(x).argmax(1) == y).float().mean().item()


def test_mlp_learns_blobs():
    torch.manual_seed(0)
    rng = np.random.default_rng(1)
    centers = rng.standard_normal((4, 10)) * 2.5
    labels = rng.integers(0, 4, 600)
    data = centers[labels] + rng.standard_normal((600, 10))
    x = torch.tensor(data, dtype=torch.float32)
    y = torch.tensor(labels)
    model = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Dropout(0.1),
                          nn.Linear(32, 32), nn.GELU(), nn.LayerNorm(32), nn.Linear(32, 4))
    assert _fit(model, x, y, steps=150, lr=1e-2) > 0.95


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, 3)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn(self.conv1(x))), 2)   # (N, 8, 4, 4)
        x = F.relu(self.conv2(x))
        return self.fc(torch.flatten(self.pool(x), 1))          # (N, 3)


def test_cnn_learns_bars():
    torch.manual_seed(0)
    rng = np.random.default_rng(2)
    n = 360
    labels = rng.integers(0, 3, n)
    imgs = rng.standard_normal((n, 1, 8, 8)) * 0.3
    pos = rng.integers(1, 7, n)
    for i in range(n):
        if labels[i] == 0:
            imgs[i, 0, pos[i], :] += 1.5          # horizontal bar
        elif labels[i] == 1:
            imgs[i, 0, :, pos[i]] += 1.5          # vertical bar
        else:
            imgs[i, 0, np.arange(8), np.arange(8)] += 1.5  # diagonal
    x = torch.tensor(imgs, dtype=torch.float32)
    y = torch.tensor(labels)
    assert _fit(SmallCNN(), x, y, steps=120, lr=2e-2, batch=32) > 0.95
