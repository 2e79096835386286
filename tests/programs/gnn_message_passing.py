"""Graph classification with hand-written message passing, the way people write GNNs without
PyTorch Geometric: graphs as (x, edge_index) pairs, a collate_fn that concatenates graphs with
offset edge indices and builds a `batch` vector, GIN / GraphSAGE layers aggregating with
`index_add_`, `scatter_add_` (degrees), `scatter_reduce(reduce="amax", include_self=False)`
and `torch.zeros(...).index_add_`, global mean/max pooling per graph by the batch vector,
and a 2-class task (cycles vs. trees)."""
import argparse
import random

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader


def random_tree(n, rng):
    edges = [(i, rng.randrange(i)) for i in range(1, n)]
    return edges


def random_cycle_graph(n, rng):
    edges = random_tree(n, rng)
    while True:
        a, b = rng.randrange(n), rng.randrange(n)
        if a != b and (a, b) not in edges and (b, a) not in edges:
            edges.append((a, b))
            return edges


def make_graph(label, rng):
    n = rng.randrange(6, 13)
    edges = random_cycle_graph(n, rng) if label else random_tree(n, rng)
    src = [a for a, b in edges] + [b for a, b in edges]
    dst = [b for a, b in edges] + [a for a, b in edges]
    edge_index = torch.tensor([src, dst], dtype=torch.long)
    deg = torch.zeros(n).scatter_add_(0, edge_index[0], torch.ones(edge_index.size(1)))
    x = torch.stack([torch.ones(n), deg / 4.0], dim=1)
    return {"x": x, "edge_index": edge_index, "y": label, "num_nodes": n}


def collate_graphs(graphs):
    xs, edges, batch, ys = [], [], [], []
    offset = 0
    for i, g in enumerate(graphs):
        xs.append(g["x"])
        edges.append(g["edge_index"] + offset)
        batch.append(torch.full((g["num_nodes"],), i, dtype=torch.long))
        ys.append(g["y"])
        offset += g["num_nodes"]
    return (torch.cat(xs, 0), torch.cat(edges, 1), torch.cat(batch), torch.tensor(ys))


class GINConv(nn.Module):
    def __init__(self, in_dim, out_dim, eps=0.0):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(in_dim, out_dim), nn.BatchNorm1d(out_dim), nn.ReLU(),
                                 nn.Linear(out_dim, out_dim))
        self.eps = nn.Parameter(torch.Tensor([eps]))

    def forward(self, x, edge_index):
        src, dst = edge_index
        agg = torch.zeros_like(x).index_add_(0, dst, x[src])
        return self.mlp((1 + self.eps) * x + agg)


class SAGEConv(nn.Module):
    """mean and max neighbour aggregation, concatenated with the node itself"""
    def __init__(self, in_dim, out_dim):
        super().__init__()
        self.lin = nn.Linear(3 * in_dim, out_dim)

    def forward(self, x, edge_index):
        src, dst = edge_index
        n = x.size(0)
        deg = torch.zeros(n, dtype=x.dtype).scatter_add_(0, dst, torch.ones_like(dst,
                                                                                dtype=x.dtype))
        summed = x.new_zeros(x.shape).index_add_(0, dst, x[src])
        mean = summed / deg.clamp(min=1).unsqueeze(-1)
        index = dst.unsqueeze(-1).expand(-1, x.size(1))
        mx = torch.zeros_like(x).scatter_reduce(0, index, x[src], reduce="amax",
                                                include_self=False)
        return F.normalize(self.lin(torch.cat([x, mean, mx], dim=-1)), p=2, dim=-1)


def global_pool(h, batch, num_graphs):
    counts = torch.bincount(batch, minlength=num_graphs).clamp(min=1).to(h.dtype)
    mean = torch.zeros(num_graphs, h.size(1)).index_add_(0, batch, h) / counts[:, None]
    mx = h.new_full((num_graphs, h.size(1)), float("-inf")).scatter_reduce(
        0, batch[:, None].expand_as(h), h, reduce="amax")
    return torch.cat([mean, mx], dim=1)


class Net(nn.Module):
    def __init__(self, hidden=32):
        super().__init__()
        self.conv1 = GINConv(2, hidden)
        self.conv2 = GINConv(hidden, hidden)
        self.conv3 = SAGEConv(hidden, hidden)
        self.head = nn.Sequential(nn.Linear(2 * hidden, hidden), nn.ReLU(), nn.Dropout(0.2),
                                  nn.Linear(hidden, 2))

    def forward(self, x, edge_index, batch, num_graphs):
        h = F.relu(self.conv1(x, edge_index))
        h = F.relu(self.conv2(h, edge_index))
        h = self.conv3(h, edge_index)
        return self.head(global_pool(h, batch, num_graphs))


def evaluate(model, loader):
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for x, edge_index, batch, y in loader:
            pred = model(x, edge_index, batch, y.size(0)).argmax(dim=1)
            correct += int((pred == y).sum())
            total += y.size(0)
    return correct / total


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=15)
    args = parser.parse_args()
    rng = random.Random(0)
    torch.manual_seed(0)
    dataset = [make_graph(i % 2, rng) for i in range(400)]
    rng.shuffle(dataset)
    train_loader = DataLoader(dataset[:300], batch_size=32, shuffle=True,
                              collate_fn=collate_graphs)
    test_loader = DataLoader(dataset[300:], batch_size=50, collate_fn=collate_graphs)
    model = Net()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01, weight_decay=5e-4)
    for epoch in range(1, args.epochs + 1):
        model.train()
        total_loss = 0
        for x, edge_index, batch, y in train_loader:
            optimizer.zero_grad()
            out = model(x, edge_index, batch, y.size(0))
            loss = F.cross_entropy(out, y)
            loss.backward()
            optimizer.step()
            total_loss += loss.item() * y.size(0)
        if epoch % 5 == 0:
            print(f"Epoch: {epoch:03d}, Loss: {total_loss / 300:.4f}, "
                  f"Train: {evaluate(model, train_loader):.4f}, "
                  f"Test: {evaluate(model, test_loader):.4f}")
    print(f"final_acc {evaluate(model, test_loader):.4f}")


if __name__ == "__main__":
    main()
