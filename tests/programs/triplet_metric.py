"""Metric learning (the "Siamese / triplet network" tutorials): an embedding MLP trained with
nn.TripletMarginLoss on (anchor, positive, negative) triplets mined online within each batch
(batch-hard: torch.cdist, masked max/min), plus an auxiliary contrastive pair loss with
F.pairwise_distance and F.cosine_similarity, F.normalize'd embeddings, and k-NN retrieval
(recall@1 via topk on the cosine similarity matrix) on held-out classes."""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset


def make_classes(num_classes, per_class, dim=20, informative=4, seed=0):
    """Classes differ only in a few informative directions; the other features are large
    nuisance noise, so raw distances retrieve poorly and a learned projection generalises to
    unseen classes."""
    rs = np.random.RandomState(seed)
    centers = np.zeros((num_classes, dim))
    centers[:, :informative] = rs.normal(0, 1.5, (num_classes, informative))
    noise = rs.normal(0, 1.0, (num_classes * per_class, dim))
    noise[:, :informative] *= 0.25
    mix = np.linalg.qr(np.random.RandomState(7).normal(size=(dim, dim)))[0]
    X = (centers.repeat(per_class, 0) + noise) @ mix
    y = np.arange(num_classes).repeat(per_class)
    return torch.tensor(X, dtype=torch.float32), torch.tensor(y)


class TripletDataset(Dataset):
    """Random (anchor, positive, negative) triplets, as in the classic tutorials."""

    def __init__(self, X, y, n, seed=0):
        self.X, self.y = X, y
        rs = np.random.RandomState(seed)
        labels = y.numpy()
        self.by_class = {c: np.where(labels == c)[0] for c in np.unique(labels)}
        self.triplets = []
        for _ in range(n):
            a = rs.randint(len(y))
            c = labels[a]
            p = rs.choice(self.by_class[c])
            neg_c = rs.choice([k for k in self.by_class if k != c])
            self.triplets.append((a, p, rs.choice(self.by_class[neg_c])))

    def __len__(self):
        return len(self.triplets)

    def __getitem__(self, i):
        a, p, n = self.triplets[i]
        return self.X[a], self.X[p], self.X[n], self.y[a]


class EmbeddingNet(nn.Module):
    def __init__(self, dim=20, emb=16):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim, 64), nn.PReLU(), nn.Linear(64, 64), nn.PReLU(),
                                 nn.Linear(64, emb))

    def forward(self, x):
        return F.normalize(self.net(x), p=2, dim=1)


def batch_hard_triplet_loss(emb, labels, margin):
    dist = torch.cdist(emb, emb, p=2)
    same = labels.unsqueeze(0) == labels.unsqueeze(1)
    eye = torch.eye(len(labels), dtype=torch.bool)
    hardest_pos = (dist * (same & ~eye).float()).max(dim=1).values
    hardest_neg = dist.masked_fill(same, float("inf")).min(dim=1).values
    return F.relu(hardest_pos - hardest_neg + margin).mean()


@torch.no_grad()
def recall_at_1(model, X, y):
    model.eval()
    e = model(X)
    sim = e @ e.t()
    sim.fill_diagonal_(-float("inf"))
    nn_idx = sim.topk(1, dim=1).indices.squeeze(1)
    return (y[nn_idx] == y).float().mean().item()


def main():
    torch.manual_seed(0)
    X, y = make_classes(60, 30, seed=0)
    train = y < 40
    Xtr, ytr, Xte, yte = X[train], y[train], X[~train], y[~train]
    loader = DataLoader(TripletDataset(Xtr, ytr, 3200), batch_size=64, shuffle=True)
    model = EmbeddingNet()
    criterion = nn.TripletMarginLoss(margin=0.3, p=2)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-5)
    print(f"recall@1 before training (unseen classes): {recall_at_1(model, Xte, yte):.3f}")
    for epoch in range(6):
        model.train()
        losses = []
        for anchor, positive, negative, labels in loader:
            ea, ep, en = model(anchor), model(positive), model(negative)
            loss = criterion(ea, ep, en)
            loss = loss + 0.5 * batch_hard_triplet_loss(torch.cat([ea, ep]),
                                                        torch.cat([labels, labels]), 0.3)
            d_pos = F.pairwise_distance(ea, ep)
            cos_neg = F.cosine_similarity(ea, en)
            loss = loss + 0.1 * (d_pos.pow(2).mean() + F.relu(cos_neg - 0.2).mean())
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        print(f"epoch {epoch}: loss {np.mean(losses):.4f} "
              f"recall@1 train {recall_at_1(model, Xtr, ytr):.3f} "
              f"unseen {recall_at_1(model, Xte, yte):.3f}")
    r = recall_at_1(model, Xte, yte)
    print(f"final_acc {r:.4f}")


if __name__ == "__main__":
    main()
