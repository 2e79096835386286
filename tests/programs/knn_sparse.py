"""Nearest neighbours and sparse tensors: a kNN classifier with torch.cdist + topk +
torch.mode voting, a label-propagation step on a sparse kNN graph (torch.sparse_coo_tensor,
coalesce, torch.sparse.sum, torch.sparse.mm with gradients to the dense operand,
to_dense / to_sparse, indices / values), scatter_reduce('amax' / 'mean') and index_add_ for
per-class statistics, and a classifier trained on graph-smoothed features."""
import torch
import torch.nn as nn
import torch.nn.functional as F


def blobs(n, k, d, g):
    centers = torch.randn(k, d, generator=g) * 3
    y = torch.randint(0, k, (n,), generator=g)
    x = centers[y] + torch.randn(n, d, generator=g)
    return x, y


def knn_predict(xtr, ytr, xte, k=5):
    d = torch.cdist(xte, xtr)
    idx = d.topk(k, largest=False).indices
    return torch.mode(ytr[idx], dim=1).values


def knn_graph(x, k):
    n = x.size(0)
    d = torch.cdist(x, x)
    d.fill_diagonal_(float("inf"))
    nbr = d.topk(k, largest=False).indices
    rows = torch.arange(n).repeat_interleave(k)
    cols = nbr.reshape(-1)
    idx = torch.cat([torch.stack([rows, cols]), torch.stack([cols, rows])], 1)
    A = torch.sparse_coo_tensor(idx, torch.ones(idx.size(1)), (n, n)).coalesce()
    A = torch.sparse_coo_tensor(A.indices(), torch.ones_like(A.values()), (n, n)).coalesce()
    deg = torch.sparse.sum(A, dim=1).to_dense()
    dinv = deg.pow(-0.5)
    i, j = A.indices()
    return torch.sparse_coo_tensor(A.indices(), dinv[i] * dinv[j], (n, n)).coalesce()


if __name__ == "__main__":
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    x, y = blobs(600, 4, 8, g)
    xtr, ytr, xte, yte = x[:400], y[:400], x[400:], y[400:]
    knn_acc = (knn_predict(xtr, ytr, xte) == yte).float().mean().item()
    print("knn acc", knn_acc)
    # per-class statistics with scatter_reduce / index_add_
    cls_max = torch.zeros(4, 8).scatter_reduce(0, ytr[:, None].expand(-1, 8), xtr, reduce="amax",
                                               include_self=False)
    cls_mean = torch.zeros(4, 8).scatter_reduce(0, ytr[:, None].expand(-1, 8), xtr, reduce="mean",
                                                include_self=False)
    sums = torch.zeros(4, 8).index_add_(0, ytr, xtr)
    counts = torch.bincount(ytr, minlength=4).float()
    assert torch.allclose(cls_mean, sums / counts[:, None], atol=1e-5)
    assert (cls_max >= cls_mean).all()
    # sparse graph smoothing, labels on only 20 nodes
    A = knn_graph(x, 6)
    print("graph", A.shape, A._nnz(), A.is_coalesced(), A.layout)
    dense = A.to_dense()
    assert torch.allclose(dense, dense.T, atol=1e-6)
    assert torch.equal(dense.to_sparse().coalesce().indices(), A.indices())
    h = torch.sparse.mm(A, torch.sparse.mm(A, x))
    labeled = torch.arange(0, 600, 30)
    model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 4))
    W = nn.Parameter(torch.eye(8))
    opt = torch.optim.Adam(list(model.parameters()) + [W], lr=0.02)
    for step in range(150):
        feats = torch.sparse.mm(A, h @ W)
        loss = F.cross_entropy(model(feats)[labeled], y[labeled])
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        pred = model(torch.sparse.mm(A, h @ W)).argmax(1)
    mask = torch.ones(600, dtype=torch.bool)
    mask[labeled] = False
    graph_acc = (pred[mask] == y[mask]).float().mean().item()
    print("graph acc", graph_acc, "W grad ok", W.grad is not None)
    print(f"final_acc {(knn_acc + graph_acc) / 2:.4f}")
