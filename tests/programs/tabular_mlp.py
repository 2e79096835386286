"""Tabular MLP (fastai-style TabularModel): categorical embeddings + continuous features with
BatchNorm1d, Linear/ReLU/BatchNorm/Dropout blocks, class-weighted CrossEntropyLoss, early
stopping on validation accuracy with copy.deepcopy(model.state_dict())."""
import argparse
import copy

import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, Dataset


class TabularDataset(Dataset):
    def __init__(self, cats, conts, y):
        self.cats = torch.as_tensor(cats, dtype=torch.long)
        self.conts = torch.as_tensor(conts, dtype=torch.float32)
        self.y = torch.as_tensor(y, dtype=torch.long)

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return self.cats[i], self.conts[i], self.y[i]


class TabularModel(nn.Module):
    def __init__(self, emb_szs, n_cont, out_sz, layers, p=0.2):
        super().__init__()
        self.embeds = nn.ModuleList([nn.Embedding(ni, nf) for ni, nf in emb_szs])
        self.emb_drop = nn.Dropout(p)
        self.bn_cont = nn.BatchNorm1d(n_cont)
        layerlist = []
        n_emb = sum(nf for ni, nf in emb_szs)
        n_in = n_emb + n_cont
        for i in layers:
            layerlist.append(nn.Linear(n_in, i))
            layerlist.append(nn.ReLU(inplace=True))
            layerlist.append(nn.BatchNorm1d(i))
            layerlist.append(nn.Dropout(p))
            n_in = i
        layerlist.append(nn.Linear(layers[-1], out_sz))
        self.layers = nn.Sequential(*layerlist)

    def forward(self, x_cat, x_cont):
        embeddings = []
        for i, e in enumerate(self.embeds):
            embeddings.append(e(x_cat[:, i]))
        x = torch.cat(embeddings, 1)
        x = self.emb_drop(x)
        x_cont = self.bn_cont(x_cont)
        x = torch.cat([x, x_cont], 1)
        return self.layers(x)


def make_data(n, rng):
    cats = np.stack([rng.integers(0, 7, n), rng.integers(0, 3, n), rng.integers(0, 12, n)], 1)
    conts = rng.normal(size=(n, 4)) * [1.0, 10.0, 0.1, 3.0] + [0.0, 50.0, 1.0, -2.0]
    score = (np.isin(cats[:, 0], [1, 3, 5]) * 1.5 + (cats[:, 1] == 2) * 1.0
             + 0.12 * (conts[:, 1] - 50) + 0.8 * conts[:, 0] - 0.3 * (cats[:, 2] % 4))
    y = (score + rng.normal(scale=0.7, size=n) > 1.0).astype(np.int64)
    return cats, conts.astype(np.float32), y


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=25)
    parser.add_argument("--patience", type=int, default=6)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    cats, conts, y = make_data(2000, rng)
    tr, va, te = slice(0, 1400), slice(1400, 1700), slice(1700, 2000)
    train_dl = DataLoader(TabularDataset(cats[tr], conts[tr], y[tr]), batch_size=64,
                          shuffle=True, drop_last=True)
    val_dl = DataLoader(TabularDataset(cats[va], conts[va], y[va]), batch_size=300)
    test_ds = TabularDataset(cats[te], conts[te], y[te])
    cat_szs = [int(cats[:, i].max()) + 1 for i in range(cats.shape[1])]
    emb_szs = [(size, min(50, (size + 1) // 2)) for size in cat_szs]
    model = TabularModel(emb_szs, conts.shape[1], 2, [64, 32], p=0.2)
    weights = torch.tensor(np.bincount(y[tr]), dtype=torch.float32)
    criterion = nn.CrossEntropyLoss(weight=weights.sum() / (2 * weights))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.003)
    best_acc, best_state, bad_epochs = 0.0, None, 0
    for epoch in range(args.epochs):
        model.train()
        for xc, xn, yb in train_dl:
            optimizer.zero_grad()
            loss = criterion(model(xc, xn), yb)
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            xc, xn, yb = next(iter(val_dl))
            val_acc = (model(xc, xn).argmax(1) == yb).float().mean().item()
        if val_acc > best_acc:
            best_acc, best_state, bad_epochs = val_acc, copy.deepcopy(model.state_dict()), 0
        else:
            bad_epochs += 1
            if bad_epochs >= args.patience:
                print(f"early stopping at epoch {epoch}")
                break
        if epoch % 5 == 0:
            print(f"epoch {epoch:2d} loss {loss.item():.4f} val_acc {val_acc:.4f}")
    model.load_state_dict(best_state)
    model.eval()
    with torch.no_grad():
        out = model(test_ds.cats, test_ds.conts)
        acc = (out.argmax(dim=1) == test_ds.y).float().mean().item()
    print("running_mean of bn_cont:", [round(v, 2) for v in model.bn_cont.running_mean.tolist()])
    print(f"final_acc {acc:.4f}")
