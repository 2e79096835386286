"""Time-series forecasting with a Transformer (the "Transformers for time series" blog /
tutorial style): sliding windows over generated seasonal series (np.sin + trend + noise),
z-score scaling fitted on the training part, sinusoidal PositionalEncoding as a registered
buffer (batch_first), a nn.TransformerEncoder over the input window with a causal mask from
nn.Transformer.generate_square_subsequent_mask, a linear head predicting the next `horizon`
values, Adam + StepLR, MSE / MAE metrics, autoregressive multi-step rollout under
torch.no_grad, and torch.save / torch.load of a checkpoint dict."""
import math

import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, Dataset


class PositionalEncoding(nn.Module):
    def __init__(self, d_model, dropout=0.1, max_len=500):
        super().__init__()
        self.dropout = nn.Dropout(p=dropout)
        position = torch.arange(max_len).unsqueeze(1)
        div_term = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
        pe = torch.zeros(1, max_len, d_model)
        pe[0, :, 0::2] = torch.sin(position * div_term)
        pe[0, :, 1::2] = torch.cos(position * div_term)
        self.register_buffer("pe", pe)

    def forward(self, x):
        x = x + self.pe[:, :x.size(1)]
        return self.dropout(x)


class WindowDataset(Dataset):
    def __init__(self, series, window, horizon):
        self.series = torch.as_tensor(series, dtype=torch.float32)
        self.window, self.horizon = window, horizon

    def __len__(self):
        return len(self.series) - self.window - self.horizon + 1

    def __getitem__(self, i):
        x = self.series[i:i + self.window]
        y = self.series[i + self.window:i + self.window + self.horizon]
        return x.unsqueeze(-1), y


class TimeSeriesTransformer(nn.Module):
    def __init__(self, d_model=32, nhead=4, num_layers=2, horizon=4, dropout=0.1):
        super().__init__()
        self.input_proj = nn.Linear(1, d_model)
        self.pos_encoder = PositionalEncoding(d_model, dropout)
        enc = nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward=64, dropout=dropout,
                                         batch_first=True)
        self.encoder = nn.TransformerEncoder(enc, num_layers, enable_nested_tensor=False)
        self.head = nn.Linear(d_model, horizon)
        self.d_model = d_model

    def forward(self, src, src_mask=None):
        x = self.input_proj(src) * math.sqrt(self.d_model)
        x = self.pos_encoder(x)
        x = self.encoder(x, mask=src_mask, is_causal=src_mask is not None)
        return self.head(x[:, -1])


def make_series(n=900, seed=0):
    rs = np.random.RandomState(seed)
    t = np.arange(n)
    return (np.sin(2 * np.pi * t / 24) + 0.5 * np.sin(2 * np.pi * t / 60 + 1.0)
            + 0.002 * t + rs.normal(0, 0.1, n))


def main():
    torch.manual_seed(0)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    window, horizon = 24, 4
    series = make_series()
    split = int(len(series) * 0.8)
    mean, std = series[:split].mean(), series[:split].std()
    scaled = (series - mean) / std
    train_ds = WindowDataset(scaled[:split], window, horizon)
    test_ds = WindowDataset(scaled[split - window:], window, horizon)
    train_loader = DataLoader(train_ds, batch_size=64, shuffle=True)
    test_loader = DataLoader(test_ds, batch_size=128, shuffle=False)
    model = TimeSeriesTransformer(horizon=horizon).to(device)
    mask = nn.Transformer.generate_square_subsequent_mask(window).to(device)
    print("mask", mask.shape, mask.dtype, mask[:3, :3])
    criterion = nn.MSELoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=4, gamma=0.5)
    for epoch in range(6):
        model.train()
        total = 0.0
        for x, y in train_loader:
            x, y = x.to(device), y.to(device)
            optimizer.zero_grad()
            loss = criterion(model(x, mask), y)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
            optimizer.step()
            total += loss.item() * x.size(0)
        scheduler.step()
        print(f"| epoch {epoch + 1:3d} | lr {scheduler.get_last_lr()[0]:02.5f} | "
              f"train mse {total / len(train_ds):5.4f}")
    torch.save({"model_state_dict": model.state_dict(), "mean": mean, "std": std,
                "epoch": epoch}, "ts_checkpoint.pt")
    ckpt = torch.load("ts_checkpoint.pt", weights_only=False)
    model = TimeSeriesTransformer(horizon=horizon)
    model.load_state_dict(ckpt["model_state_dict"])
    model.eval()
    preds, targets = [], []
    with torch.no_grad():
        for x, y in test_loader:
            preds.append(model(x, mask))
            targets.append(y)
        preds, targets = torch.cat(preds), torch.cat(targets)
        mse = nn.functional.mse_loss(preds, targets).item()
        mae = (preds - targets).abs().mean().item()
        # autoregressive rollout: feed predictions back in, 24 steps ahead
        hist = torch.as_tensor(scaled[split - window:split], dtype=torch.float32).view(1, -1, 1)
        out = []
        while len(out) < 24:
            nxt = model(hist[:, -window:], mask)[0]
            out.extend(nxt.tolist())
            hist = torch.cat([hist, nxt.view(1, -1, 1)], dim=1)
        rollout = np.array(out[:24]) * ckpt["std"] + ckpt["mean"]
        rollout_mae = np.abs(rollout - series[split:split + 24]).mean()
    print(f"test mse {mse:.4f} mae {mae:.4f} rollout mae {rollout_mae:.4f}")
    print(f"final_loss {mse:.5f}")


if __name__ == "__main__":
    main()
