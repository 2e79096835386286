"""Kipf & Welling GCN (pygcn-style) with a sparse normalized adjacency and torch.sparse.mm /
torch.spmm, on a synthetic community graph."""
import argparse
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torch.nn.parameter import Parameter
from torch.nn.modules.module import Module


class GraphConvolution(Module):
    def __init__(self, in_features, out_features, bias=True):
        super(GraphConvolution, self).__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weight = Parameter(torch.FloatTensor(in_features, out_features))
        if bias:
            self.bias = Parameter(torch.FloatTensor(out_features))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        stdv = 1. / math.sqrt(self.weight.size(1))
        self.weight.data.uniform_(-stdv, stdv)
        if self.bias is not None:
            self.bias.data.uniform_(-stdv, stdv)

    def forward(self, input, adj):
        support = torch.mm(input, self.weight)
        output = torch.spmm(adj, support)
        if self.bias is not None:
            return output + self.bias
        return output


class GCN(nn.Module):
    def __init__(self, nfeat, nhid, nclass, dropout):
        super(GCN, self).__init__()
        self.gc1 = GraphConvolution(nfeat, nhid)
        self.gc2 = GraphConvolution(nhid, nclass)
        self.dropout = dropout

    def forward(self, x, adj):
        x = F.relu(self.gc1(x, adj))
        x = F.dropout(x, self.dropout, training=self.training)
        x = self.gc2(x, adj)
        return F.log_softmax(x, dim=1)


def normalize(mx):
    rowsum = np.array(mx.sum(1))
    r_inv = np.power(rowsum, -1.0).flatten()
    r_inv[np.isinf(r_inv)] = 0.
    return mx * r_inv[:, None]


def sparse_mx_to_torch_sparse_tensor(rows, cols, vals, shape):
    indices = torch.from_numpy(np.vstack((rows, cols)).astype(np.int64))
    values = torch.from_numpy(vals.astype(np.float32))
    return torch.sparse_coo_tensor(indices, values, torch.Size(shape))


def load_data(n=300, nclass=3, nfeat=40, seed=1):
    rng = np.random.RandomState(seed)
    labels = rng.randint(0, nclass, n)
    prob = np.where(labels[:, None] == labels[None, :], 0.06, 0.004)
    a = np.triu((rng.rand(n, n) < prob).astype(np.float32), 1)
    a = a + a.T + np.eye(n, dtype=np.float32)
    a = normalize(a)
    rows, cols = np.nonzero(a)
    adj = sparse_mx_to_torch_sparse_tensor(rows, cols, a[rows, cols], a.shape)
    feats = (rng.rand(n, nfeat) < 0.1).astype(np.float32)
    feats[np.arange(n), labels * 5 + rng.randint(0, 5, n)] = 1.0
    features = torch.FloatTensor(normalize(feats))
    idx = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return adj, features, torch.LongTensor(labels), idx[:60], idx[60:120], idx[120:]


def accuracy(output, labels):
    preds = output.max(1)[1].type_as(labels)
    correct = preds.eq(labels).double()
    return correct.sum() / len(labels)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--epochs", type=int, default=120)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--weight_decay", type=float, default=5e-4)
    parser.add_argument("--hidden", type=int, default=16)
    parser.add_argument("--dropout", type=float, default=0.5)
    args = parser.parse_args()
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    adj, features, labels, idx_train, idx_val, idx_test = load_data()
    assert adj.is_sparse and adj._nnz() == adj._indices().shape[1]
    dense_check = torch.sparse.mm(adj, features) - adj.to_dense() @ features
    assert dense_check.abs().max() < 1e-5
    model = GCN(nfeat=features.shape[1], nhid=args.hidden, nclass=labels.max().item() + 1,
                dropout=args.dropout)
    optimizer = optim.Adam(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    for epoch in range(args.epochs):
        model.train()
        optimizer.zero_grad()
        output = model(features, adj)
        loss_train = F.nll_loss(output[idx_train], labels[idx_train])
        acc_train = accuracy(output[idx_train], labels[idx_train])
        loss_train.backward()
        optimizer.step()
        if epoch % 30 == 0:
            model.eval()
            output = model(features, adj)
            loss_val = F.nll_loss(output[idx_val], labels[idx_val])
            print(f"Epoch: {epoch + 1:04d} loss_train: {loss_train.item():.4f} "
                  f"acc_train: {acc_train.item():.4f} loss_val: {loss_val.item():.4f} "
                  f"acc_val: {accuracy(output[idx_val], labels[idx_val]).item():.4f}")
    model.eval()
    output = model(features, adj)
    loss_test = F.nll_loss(output[idx_test], labels[idx_test])
    acc_test = accuracy(output[idx_test], labels[idx_test])
    print("Test set results:", "loss= {:.4f}".format(loss_test.item()),
          "accuracy= {:.4f}".format(acc_test.item()))
    print(f"final_acc {acc_test.item():.4f}")
