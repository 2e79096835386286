"""Graph attention network (pyGAT-style dense adjacency) for node classification on a
synthetic stochastic-block-model graph with noisy features."""
import argparse
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim


class GraphAttentionLayer(nn.Module):
    def __init__(self, in_features, out_features, dropout, alpha, concat=True):
        super(GraphAttentionLayer, self).__init__()
        self.dropout = dropout
        self.in_features = in_features
        self.out_features = out_features
        self.alpha = alpha
        self.concat = concat
        self.W = nn.Parameter(torch.empty(size=(in_features, out_features)))
        nn.init.xavier_uniform_(self.W.data, gain=1.414)
        self.a = nn.Parameter(torch.empty(size=(2 * out_features, 1)))
        nn.init.xavier_uniform_(self.a.data, gain=1.414)
        self.leakyrelu = nn.LeakyReLU(self.alpha)

    def forward(self, h, adj):
        Wh = torch.mm(h, self.W)
        e = self._prepare_attentional_mechanism_input(Wh)
        zero_vec = -9e15 * torch.ones_like(e)
        attention = torch.where(adj > 0, e, zero_vec)
        attention = F.softmax(attention, dim=1)
        attention = F.dropout(attention, self.dropout, training=self.training)
        h_prime = torch.matmul(attention, Wh)
        if self.concat:
            return F.elu(h_prime)
        return h_prime

    def _prepare_attentional_mechanism_input(self, Wh):
        Wh1 = torch.matmul(Wh, self.a[:self.out_features, :])
        Wh2 = torch.matmul(Wh, self.a[self.out_features:, :])
        e = Wh1 + Wh2.T
        return self.leakyrelu(e)

    def __repr__(self):
        return self.__class__.__name__ + " (" + str(self.in_features) + " -> " + \
            str(self.out_features) + ")"


class GAT(nn.Module):
    def __init__(self, nfeat, nhid, nclass, dropout, alpha, nheads):
        super(GAT, self).__init__()
        self.dropout = dropout
        self.attentions = [GraphAttentionLayer(nfeat, nhid, dropout=dropout, alpha=alpha,
                                               concat=True) for _ in range(nheads)]
        for i, attention in enumerate(self.attentions):
            self.add_module("attention_{}".format(i), attention)
        self.out_att = GraphAttentionLayer(nhid * nheads, nclass, dropout=dropout, alpha=alpha,
                                           concat=False)

    def forward(self, x, adj):
        x = F.dropout(x, self.dropout, training=self.training)
        x = torch.cat([att(x, adj) for att in self.attentions], dim=1)
        x = F.dropout(x, self.dropout, training=self.training)
        x = F.elu(self.out_att(x, adj))
        return F.log_softmax(x, dim=1)


def load_data(n=240, nclass=4, nfeat=32, seed=0):
    rng = np.random.RandomState(seed)
    labels = rng.randint(0, nclass, n)
    same = labels[:, None] == labels[None, :]
    prob = np.where(same, 0.08, 0.005)
    adj = (rng.rand(n, n) < prob).astype(np.float32)
    adj = np.triu(adj, 1)
    adj = adj + adj.T + np.eye(n, dtype=np.float32)
    centers = rng.randn(nclass, nfeat)
    features = (centers[labels] * 0.4 + rng.randn(n, nfeat)).astype(np.float32)
    features = features / np.abs(features).sum(1, keepdims=True)
    rowsum = adj.sum(1)
    adj = adj / rowsum[:, None]
    idx = rng.permutation(n)
    idx_train, idx_val, idx_test = idx[:80], idx[80:140], idx[140:]
    adj = torch.FloatTensor(adj)
    features = torch.FloatTensor(features)
    labels = torch.LongTensor(labels)
    return (adj, features, labels, torch.LongTensor(idx_train), torch.LongTensor(idx_val),
            torch.LongTensor(idx_test))


def accuracy(output, labels):
    preds = output.max(1)[1].type_as(labels)
    correct = preds.eq(labels).double()
    correct = correct.sum()
    return correct / len(labels)


parser = argparse.ArgumentParser()
parser.add_argument("--no-cuda", action="store_true", default=False)
parser.add_argument("--seed", type=int, default=72)
parser.add_argument("--epochs", type=int, default=80)
parser.add_argument("--lr", type=float, default=0.005)
parser.add_argument("--weight_decay", type=float, default=5e-4)
parser.add_argument("--hidden", type=int, default=8)
parser.add_argument("--nb_heads", type=int, default=4)
parser.add_argument("--dropout", type=float, default=0.4)
parser.add_argument("--alpha", type=float, default=0.2)
parser.add_argument("--patience", type=int, default=100)

if __name__ == "__main__":
    args = parser.parse_args()
    args.cuda = not args.no_cuda and torch.cuda.is_available()
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    adj, features, labels, idx_train, idx_val, idx_test = load_data()
    model = GAT(nfeat=features.shape[1], nhid=args.hidden, nclass=int(labels.max()) + 1,
                dropout=args.dropout, nheads=args.nb_heads, alpha=args.alpha)
    optimizer = optim.Adam(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    if args.cuda:
        model.cuda()
        features, adj, labels = features.cuda(), adj.cuda(), labels.cuda()

    def train(epoch):
        t = time.time()
        model.train()
        optimizer.zero_grad()
        output = model(features, adj)
        loss_train = F.nll_loss(output[idx_train], labels[idx_train])
        acc_train = accuracy(output[idx_train], labels[idx_train])
        loss_train.backward()
        optimizer.step()
        model.eval()
        output = model(features, adj)
        loss_val = F.nll_loss(output[idx_val], labels[idx_val])
        acc_val = accuracy(output[idx_val], labels[idx_val])
        if epoch % 20 == 0:
            print("Epoch: {:04d}".format(epoch + 1),
                  "loss_train: {:.4f}".format(loss_train.data.item()),
                  "acc_train: {:.4f}".format(acc_train.data.item()),
                  "loss_val: {:.4f}".format(loss_val.data.item()),
                  "acc_val: {:.4f}".format(acc_val.data.item()),
                  "time: {:.4f}s".format(time.time() - t))
        return loss_val.data.item()

    best, best_epoch, bad = float("inf"), 0, 0
    for epoch in range(args.epochs):
        loss_val = train(epoch)
        if loss_val < best:
            best, best_epoch, bad = loss_val, epoch, 0
            torch.save(model.state_dict(), "best.pkl")
        else:
            bad += 1
        if bad == args.patience:
            break
    model.load_state_dict(torch.load("best.pkl"))
    model.eval()
    output = model(features, adj)
    loss_test = F.nll_loss(output[idx_test], labels[idx_test])
    acc_test = accuracy(output[idx_test], labels[idx_test])
    print("Test set results:", "loss= {:.4f}".format(loss_test.item()),
          "accuracy= {:.4f}".format(acc_test.item()))
    print(f"final_acc {acc_test.item():.4f}")
