"""Recommender in the style of the classic PyTorch matrix-factorisation / NCF examples:
user and item nn.Embedding(sparse=True) factors + biases trained with optim.SparseAdam while
the dense MLP tower uses Adam (two optimizers over disjoint parameter sets), explicit ratings
via MSE, then implicit-feedback BPR with negative sampling through torch.randint and
F.logsigmoid; evaluation is test RMSE and hit-rate@10 with topk over masked scores."""
import argparse

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset


def make_ratings(n_users=120, n_items=80, dim=4, density=0.25, seed=0):
    rs = np.random.RandomState(seed)
    u = rs.normal(0, 1, (n_users, dim))
    v = rs.normal(0, 1, (n_items, dim))
    score = u @ v.T / np.sqrt(dim) + rs.normal(0, 0.3, (n_users, n_items))
    mask = rs.rand(n_users, n_items) < density
    users, items = np.nonzero(mask)
    ratings = np.clip(3 + 1.2 * score[users, items], 1, 5)
    perm = rs.permutation(len(users))
    return users[perm], items[perm], ratings[perm].astype(np.float32), n_users, n_items


class NeuMF(nn.Module):
    def __init__(self, n_users, n_items, dim=16):
        super().__init__()
        self.user = nn.Embedding(n_users, dim, sparse=True)
        self.item = nn.Embedding(n_items, dim, sparse=True)
        self.user_bias = nn.Embedding(n_users, 1, sparse=True)
        self.item_bias = nn.Embedding(n_items, 1, sparse=True)
        self.mlp = nn.Sequential(nn.Linear(2 * dim, 32), nn.ReLU(), nn.Linear(32, 1))
        self.global_bias = nn.Parameter(torch.tensor(3.0))
        for emb in (self.user, self.item):
            nn.init.normal_(emb.weight, std=0.1)
        nn.init.zeros_(self.user_bias.weight)
        nn.init.zeros_(self.item_bias.weight)

    def forward(self, u, i):
        pu, qi = self.user(u), self.item(i)
        dot = (pu * qi).sum(-1)
        deep = self.mlp(torch.cat([pu, qi], dim=-1)).squeeze(-1)
        return self.global_bias + self.user_bias(u).squeeze(-1) + \
            self.item_bias(i).squeeze(-1) + dot + deep

    def sparse_parameters(self):
        return [self.user.weight, self.item.weight, self.user_bias.weight,
                self.item_bias.weight]

    def dense_parameters(self):
        return list(self.mlp.parameters()) + [self.global_bias]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=256)
    args = p.parse_args()
    torch.manual_seed(0)
    users, items, ratings, n_users, n_items = make_ratings()
    n_test = len(users) // 10
    ds = TensorDataset(torch.from_numpy(users), torch.from_numpy(items),
                       torch.from_numpy(ratings))
    train_ds = torch.utils.data.Subset(ds, range(n_test, len(ds)))
    test_u, test_i, test_r = ds[:n_test]
    loader = DataLoader(train_ds, batch_size=args.batch_size, shuffle=True)
    model = NeuMF(n_users, n_items)
    sparse_opt = torch.optim.SparseAdam(model.sparse_parameters(), lr=0.02)
    dense_opt = torch.optim.Adam(model.dense_parameters(), lr=0.01, weight_decay=1e-4)
    for epoch in range(args.epochs):
        model.train()
        total = 0.0
        for u, i, r in loader:
            loss = F.mse_loss(model(u, i), r)
            sparse_opt.zero_grad()
            dense_opt.zero_grad()
            loss.backward()
            assert model.user.weight.grad.is_sparse
            sparse_opt.step()
            dense_opt.step()
            total += loss.item() * len(r)
        model.eval()
        with torch.no_grad():
            rmse = F.mse_loss(model(test_u, test_i).clamp(1, 5), test_r).sqrt().item()
        print(f"epoch {epoch} train_mse {total / len(train_ds):.4f} test_rmse {rmse:.4f}")

    # implicit feedback: BPR on "liked" pairs (rating >= 3.5), negatives sampled uniformly
    liked = torch.zeros(n_users, n_items, dtype=torch.bool)
    keep = ratings >= 3.5
    liked[torch.from_numpy(users[keep]), torch.from_numpy(items[keep])] = True
    pos_u, pos_i = liked.nonzero(as_tuple=True)
    bpr = NeuMF(n_users, n_items, dim=8)
    opt = torch.optim.SparseAdam(bpr.sparse_parameters(), lr=0.03)
    dopt = torch.optim.Adam(bpr.dense_parameters(), lr=0.01)
    for epoch in range(args.epochs):
        perm = torch.randperm(len(pos_u))
        total = 0.0
        for start in range(0, len(perm), args.batch_size):
            idx = perm[start:start + args.batch_size]
            u, i = pos_u[idx], pos_i[idx]
            j = torch.randint(0, n_items, (len(idx),))
            loss = -F.logsigmoid(bpr(u, i) - bpr(u, j)).mean()
            opt.zero_grad()
            dopt.zero_grad()
            loss.backward()
            opt.step()
            dopt.step()
            total += loss.item() * len(idx)
        print(f"bpr epoch {epoch} loss {total / len(perm):.4f}")
    with torch.no_grad():
        all_u = torch.arange(n_users).repeat_interleave(n_items)
        all_i = torch.arange(n_items).repeat(n_users)
        scores = bpr(all_u, all_i).view(n_users, n_items)
        top = scores.topk(10, dim=1).indices
        hits = liked.gather(1, top).any(dim=1).float().mean().item()
    print(f"hit_rate@10 {hits:.4f}")
    print(f"final_loss {rmse:.4f}")


if __name__ == "__main__":
    main()
