"""TabTransformer: column embeddings for categorical features passed through a
TransformerEncoder (batch_first, norm_first, GELU), continuous features LayerNorm'ed,
then an MLP head; binary classification with BCEWithLogitsLoss and AUC computed by hand."""
import argparse

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset


class TabTransformer(nn.Module):
    def __init__(self, categories, num_continuous, dim=16, depth=2, heads=4, mlp_hidden=32,
                 dropout=0.1):
        super().__init__()
        self.num_categories = len(categories)
        total_tokens = sum(categories)
        offsets = F.pad(torch.tensor(list(categories)), (1, 0), value=0).cumsum(dim=-1)[:-1]
        self.register_buffer("categories_offset", offsets)
        self.embeds = nn.Embedding(total_tokens, dim)
        layer = nn.TransformerEncoderLayer(d_model=dim, nhead=heads, dim_feedforward=dim * 4,
                                           dropout=dropout, activation="gelu", batch_first=True,
                                           norm_first=True)
        self.transformer = nn.TransformerEncoder(layer, num_layers=depth)
        self.norm = nn.LayerNorm(num_continuous)
        input_size = dim * self.num_categories + num_continuous
        self.mlp = nn.Sequential(nn.Linear(input_size, mlp_hidden), nn.ReLU(),
                                 nn.Linear(mlp_hidden, mlp_hidden // 2), nn.ReLU(),
                                 nn.Linear(mlp_hidden // 2, 1))

    def forward(self, x_categ, x_cont):
        x_categ = x_categ + self.categories_offset
        x = self.embeds(x_categ)
        x = self.transformer(x)
        flat_categ = x.flatten(1)
        normed_cont = self.norm(x_cont)
        x = torch.cat((flat_categ, normed_cont), dim=-1)
        return self.mlp(x).squeeze(-1)


def roc_auc(scores, labels):
    order = torch.argsort(scores)
    ranks = torch.empty_like(order, dtype=torch.float64)
    ranks[order] = torch.arange(1, len(scores) + 1, dtype=torch.float64)
    pos = labels.bool()
    n_pos, n_neg = pos.sum().item(), (~pos).sum().item()
    return ((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)).item()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=8)
    args = parser.parse_args()
    torch.manual_seed(0)
    rng = np.random.default_rng(1)
    n = 1500
    categories = (5, 4, 6, 3)
    xc = np.stack([rng.integers(0, c, n) for c in categories], 1)
    xn = rng.normal(size=(n, 3)).astype(np.float32)
    logit = 1.2 * ((xc[:, 0] == xc[:, 2] % 5)) - 0.8 * (xc[:, 1] == 3) + xn[:, 0] - 0.5 * xn[:, 2]
    y = (logit + rng.logistic(size=n) * 0.5 > 0.2).astype(np.float32)
    X_c, X_n, Y = torch.from_numpy(xc), torch.from_numpy(xn), torch.from_numpy(y)
    train = DataLoader(TensorDataset(X_c[:1200], X_n[:1200], Y[:1200]), batch_size=64,
                       shuffle=True)
    model = TabTransformer(categories, 3)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-2)
    loss_fn = nn.BCEWithLogitsLoss()
    for epoch in range(args.epochs):
        model.train()
        tot = 0.0
        for c, x, t in train:
            opt.zero_grad()
            loss = loss_fn(model(c, x), t)
            loss.backward()
            opt.step()
            tot += loss.item() * len(t)
        if epoch % 2 == 0:
            print(f"epoch {epoch} train loss {tot / 1200:.4f}")
    model.eval()
    with torch.no_grad():
        scores = model(X_c[1200:], X_n[1200:])
        acc = ((scores > 0).float() == Y[1200:]).float().mean().item()
        auc = roc_auc(scores, Y[1200:])
    print(f"test acc {acc:.4f} auc {auc:.4f}")
    print(f"final_auc {auc:.4f}")
