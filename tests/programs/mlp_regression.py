"""MLP regression on a synthetic nonlinear function: TensorDataset, random_split, DataLoader,
feature standardization, MSELoss, Adam, ReduceLROnPlateau, state-dict checkpoint."""
import argparse

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset, random_split


def make_data(n=1200, d=6):
    X = torch.rand(n, d) * 4 - 2
    y = torch.sin(X[:, 0]) * X[:, 1] + 0.5 * X[:, 2] ** 2 - X[:, 3] + 0.1 * torch.randn(n)
    return X, y.unsqueeze(1)


class Net(nn.Module):
    def __init__(self, d_in, hidden=(64, 64)):
        super().__init__()
        layers, prev = [], d_in
        for h in hidden:
            layers += [nn.Linear(prev, h), nn.SiLU()]
            prev = h
        layers.append(nn.Linear(prev, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


def evaluate(model, loader, loss_fn, device):
    model.eval()
    total, n = 0.0, 0
    with torch.no_grad():
        for xb, yb in loader:
            xb, yb = xb.to(device), yb.to(device)
            total += loss_fn(model(xb), yb).item() * xb.size(0)
            n += xb.size(0)
    return total / n


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-3)
    args = parser.parse_args()
    torch.manual_seed(0)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    X, y = make_data()
    mean, std = X.mean(0, keepdim=True), X.std(0, keepdim=True)
    X = (X - mean) / std
    ds = TensorDataset(X, y)
    train_ds, val_ds, test_ds = random_split(ds, [0.7, 0.15, 0.15],
                                             generator=torch.Generator().manual_seed(42))
    train_loader = DataLoader(train_ds, batch_size=args.batch_size, shuffle=True)
    val_loader = DataLoader(val_ds, batch_size=256)
    test_loader = DataLoader(test_ds, batch_size=256)
    model = Net(X.shape[1]).to(device)
    loss_fn = nn.MSELoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", factor=0.5,
                                                           patience=3)
    best = float("inf")
    for epoch in range(args.epochs):
        model.train()
        for xb, yb in train_loader:
            xb, yb = xb.to(device), yb.to(device)
            optimizer.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            optimizer.step()
        val_loss = evaluate(model, val_loader, loss_fn, device)
        scheduler.step(val_loss)
        if val_loss < best:
            best = val_loss
            torch.save({"epoch": epoch, "model_state_dict": model.state_dict(),
                        "optimizer_state_dict": optimizer.state_dict(), "loss": val_loss},
                       "checkpoint.pt")
        if epoch % 10 == 0:
            print(f"epoch {epoch:3d} train {loss.item():.4f} val {val_loss:.4f} "
                  f"lr {optimizer.param_groups[0]['lr']:.2e}")
    ckpt = torch.load("checkpoint.pt")
    model.load_state_dict(ckpt["model_state_dict"])
    optimizer.load_state_dict(ckpt["optimizer_state_dict"])
    test_mse = evaluate(model, test_loader, loss_fn, device)
    print(f"best epoch {ckpt['epoch']}, test MSE {test_mse:.4f}")
    print(f"final_loss {test_mse:.4f}")


if __name__ == "__main__":
    main()
