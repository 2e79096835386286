"""Training tricks of image-classification repos (timm-style) on generated vectors: a custom
nn.Module with register_buffer (normalisation statistics, non-persistent step counter),
nn.ParameterList / nn.ParameterDict / nn.ModuleDict heads, mixup with
torch.distributions.Beta and torch.randperm, CrossEntropyLoss(label_smoothing=0.1) on soft
mixed targets, an EMA of the weights with torch.optim.swa_utils.AveragedModel
(get_ema_multi_avg_fn) and SWA with SWALR + update_bn, early stopping keeping the best
state_dict with copy.deepcopy, named_buffers / state_dict keys printed."""
import copy

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.optim.swa_utils import AveragedModel, SWALR, get_ema_multi_avg_fn, update_bn
from torch.utils.data import DataLoader, TensorDataset


class Net(nn.Module):
    def __init__(self, mean, std, in_dim=8, hidden=64, num_classes=4):
        super().__init__()
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)
        self.register_buffer("steps", torch.zeros((), dtype=torch.long), persistent=False)
        self.blocks = nn.ModuleDict({
            "stem": nn.Sequential(nn.Linear(in_dim, hidden), nn.BatchNorm1d(hidden), nn.SiLU()),
            "body": nn.Sequential(nn.Linear(hidden, hidden), nn.BatchNorm1d(hidden), nn.SiLU()),
        })
        self.scales = nn.ParameterList([nn.Parameter(torch.ones(hidden)) for _ in range(2)])
        self.head = nn.ParameterDict({
            "weight": nn.Parameter(torch.randn(num_classes, hidden) * 0.05),
            "bias": nn.Parameter(torch.zeros(num_classes))})

    def forward(self, x):
        if self.training:
            self.steps += 1
        x = (x - self.mean) / self.std
        h = self.blocks["stem"](x) * self.scales[0]
        h = h + self.blocks["body"](h) * self.scales[1]
        return F.linear(h, self.head["weight"], self.head["bias"])


def make_data(n, seed):
    rs = np.random.RandomState(seed)
    y = rs.randint(0, 4, n)
    centers = np.random.RandomState(99).normal(0, 1.0, (4, 8))
    X = centers[y] + rs.normal(0, 1.1, (n, 8)) + 5.0
    X[:, 0] *= 10
    return torch.tensor(X, dtype=torch.float32), torch.tensor(y)


def mixup(x, y, alpha, num_classes):
    lam = torch.distributions.Beta(alpha, alpha).sample().item()
    index = torch.randperm(x.size(0))
    mixed_x = lam * x + (1 - lam) * x[index, :]
    y1 = F.one_hot(y, num_classes).float()
    return mixed_x, lam * y1 + (1 - lam) * y1[index]


@torch.no_grad()
def evaluate(model, loader):
    model.eval()
    correct = total = 0
    loss = 0.0
    for x, y in loader:
        out = model(x)
        loss += F.cross_entropy(out, y, reduction="sum").item()
        correct += (out.argmax(1) == y).sum().item()
        total += y.numel()
    return loss / total, correct / total


def main():
    torch.manual_seed(0)
    Xtr, ytr = make_data(1200, 0)
    Xva, yva = make_data(400, 1)
    Xte, yte = make_data(600, 2)
    train_loader = DataLoader(TensorDataset(Xtr, ytr), batch_size=64, shuffle=True)
    val_loader = DataLoader(TensorDataset(Xva, yva), batch_size=200)
    test_loader = DataLoader(TensorDataset(Xte, yte), batch_size=200)
    model = Net(Xtr.mean(0), Xtr.std(0))
    print("buffers:", [(n, tuple(b.shape)) for n, b in model.named_buffers()])
    print("state_dict keys:", [k for k in model.state_dict().keys() if "blocks" not in k])
    print("parameters:", sum(p.numel() for p in model.parameters()))
    ema_model = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(0.95),
                              use_buffers=True)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True,
                                weight_decay=5e-4)
    criterion = nn.CrossEntropyLoss(label_smoothing=0.1)
    best_loss, best_state, patience, bad_epochs = float("inf"), None, 4, 0
    for epoch in range(30):
        model.train()
        for x, y in train_loader:
            x, target = mixup(x, y, 0.4, 4)
            loss = criterion(model(x), target)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            ema_model.update_parameters(model)
        val_loss, val_acc = evaluate(model, val_loader)
        ema_loss, ema_acc = evaluate(ema_model, val_loader)
        print(f"epoch {epoch:2d} val loss {val_loss:.4f} acc {val_acc:.3f} | "
              f"ema loss {ema_loss:.4f} acc {ema_acc:.3f}")
        if val_loss < best_loss - 1e-4:
            best_loss, bad_epochs = val_loss, 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            bad_epochs += 1
            if bad_epochs >= patience:
                print(f"early stopping at epoch {epoch}, best val loss {best_loss:.4f}")
                break
    print("training steps counted in the buffer:", int(model.steps))
    model.load_state_dict(best_state)
    _, best_acc = evaluate(model, test_loader)
    # stochastic weight averaging from the best weights
    swa_model = AveragedModel(model)
    swa_scheduler = SWALR(optimizer, swa_lr=0.01, anneal_epochs=2)
    for epoch in range(4):
        model.train()
        for x, y in train_loader:
            loss = criterion(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        swa_model.update_parameters(model)
        swa_scheduler.step()
    update_bn(train_loader, swa_model)
    _, swa_acc = evaluate(swa_model, test_loader)
    _, ema_acc = evaluate(ema_model, test_loader)
    print(f"test acc: best {best_acc:.3f} ema {ema_acc:.3f} swa {swa_acc:.3f} "
          f"(swa averaged {int(swa_model.n_averaged)} models)")
    print(f"final_acc {max(best_acc, ema_acc, swa_acc):.4f}")


if __name__ == "__main__":
    main()
