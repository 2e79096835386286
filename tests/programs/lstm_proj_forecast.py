"""Multi-step probabilistic forecasting of several seasonal series (DeepAR-flavoured): an
encoder nn.LSTM with proj_size (LSTMP), stacked and with inter-layer dropout, whose (h, c) state
(h of size proj_size) seeds an nn.LSTMCell-free autoregressive decoder nn.LSTM(proj_size=...);
a Gaussian head trained with nn.GaussianNLLLoss, per-series scaling via mean absolute value,
covariates from torch.sin/cos of time, ReduceLROnPlateau on validation NLL, and MAE of the
mean forecast. Uses torch.utils.data.Dataset windows and nn.utils.clip_grad_value_."""
import argparse
import math

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, Dataset

CTX, HORIZON = 24, 8


def make_series(n_series=8, length=200):
    g = torch.Generator().manual_seed(0)
    t = torch.arange(length, dtype=torch.float32)
    period = 12 + torch.randint(0, 6, (n_series, 1), generator=g).float()
    level = 5 + 10 * torch.rand(n_series, 1, generator=g)
    trend = 0.02 * torch.randn(n_series, 1, generator=g)
    noise = 0.3 * torch.randn(n_series, length, generator=g)
    return level * (1 + 0.3 * torch.sin(2 * math.pi * t / period)) + trend * t + noise


class Windows(Dataset):
    def __init__(self, series, start, stop):
        self.series = series
        self.index = [(s, t) for s in range(series.shape[0])
                      for t in range(start, stop - CTX - HORIZON + 1, 2)]

    def __len__(self):
        return len(self.index)

    def __getitem__(self, k):
        s, t = self.index[k]
        window = self.series[s, t:t + CTX + HORIZON]
        time = torch.arange(t, t + CTX + HORIZON, dtype=torch.float32)
        cov = torch.stack([torch.sin(2 * math.pi * time / 12), torch.cos(2 * math.pi * time / 12)],
                          dim=-1)
        return window, cov


class Forecaster(nn.Module):
    def __init__(self, hidden=32, proj=12):
        super().__init__()
        self.encoder = nn.LSTM(3, hidden, num_layers=2, proj_size=proj, batch_first=True,
                               dropout=0.1)
        self.decoder = nn.LSTM(3, hidden, num_layers=2, proj_size=proj, batch_first=True)
        self.mu = nn.Linear(proj, 1)
        self.sigma = nn.Sequential(nn.Linear(proj, 1), nn.Softplus())

    def forward(self, past, cov, future=None):
        scale = past.abs().mean(dim=1, keepdim=True) + 1e-3
        x = torch.cat([(past / scale).unsqueeze(-1), cov[:, :CTX]], dim=-1)
        _, (h, c) = self.encoder(x)
        assert h.shape[-1] == self.mu.in_features and c.shape[-1] == self.encoder.hidden_size
        last = past[:, -1:] / scale
        mus, variances = [], []
        for k in range(HORIZON):
            inp = torch.cat([last.unsqueeze(-1), cov[:, CTX + k:CTX + k + 1]], dim=-1)
            out, (h, c) = self.decoder(inp, (h, c))
            mu = self.mu(out[:, -1])
            var = self.sigma(out[:, -1]) ** 2 + 1e-4
            mus.append(mu)
            variances.append(var)
            # teacher forcing during training, own mean at inference
            last = future[:, k:k + 1] / scale if future is not None else mu.detach()
        mu = torch.cat(mus, dim=1) * scale
        var = torch.cat(variances, dim=1) * scale ** 2
        return mu, var


def evaluate(model, loader, nll):
    model.eval()
    total_nll, total_mae, n = 0.0, 0.0, 0
    with torch.no_grad():
        for window, cov in loader:
            past, future = window[:, :CTX], window[:, CTX:]
            mu, var = model(past, cov)
            total_nll += nll(mu, future, var).item() * len(window)
            total_mae += (mu - future).abs().mean().item() * len(window)
            n += len(window)
    return total_nll / n, total_mae / n


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=5)
    args = p.parse_args()
    torch.manual_seed(0)
    series = make_series()
    train_dl = DataLoader(Windows(series, 0, 150), batch_size=64, shuffle=True, drop_last=True)
    val_dl = DataLoader(Windows(series, 150 - CTX, 200), batch_size=128)
    model = Forecaster()
    nll = nn.GaussianNLLLoss()
    opt = torch.optim.Adam(model.parameters(), lr=5e-3)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=1)
    for epoch in range(args.epochs):
        model.train()
        total = 0.0
        for window, cov in train_dl:
            past, future = window[:, :CTX], window[:, CTX:]
            mu, var = model(past, cov, future)
            loss = nll(mu, future, var)
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_value_(model.parameters(), 1.0)
            opt.step()
            total += loss.item()
        val_nll, val_mae = evaluate(model, val_dl, nll)
        sched.step(val_nll)
        print(f"epoch {epoch} train_nll {total / len(train_dl):.4f} val_nll {val_nll:.4f} "
              f"val_mae {val_mae:.4f} lr {opt.param_groups[0]['lr']:.5f}")
    print(f"final_loss {val_mae:.4f}")


if __name__ == "__main__":
    main()
