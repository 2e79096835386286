"""word2vec skip-gram with negative sampling: two nn.Embedding tables, unigram^0.75 noise
distribution sampled with torch.multinomial, logsigmoid loss, SparseAdam-free plain Adam,
nearest neighbours by cosine similarity."""
import argparse
import random
from collections import Counter

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

GROUPS = [["cat", "dog", "mouse", "horse", "cow"], ["red", "green", "blue", "yellow", "black"],
          ["one", "two", "three", "four", "five"], ["paris", "rome", "berlin", "madrid", "oslo"]]
TEMPLATES = [["the", "{0}", "and", "the", "{1}"], ["{0}", "{1}", "{2}"],
             ["i", "like", "{0}", "more", "than", "{1}"]]


def make_corpus(n_sent, seed=0):
    rng = random.Random(seed)
    words = []
    for _ in range(n_sent):
        g = rng.choice(GROUPS)
        t = rng.choice(TEMPLATES)
        words += [w.format(*rng.sample(g, 3)) for w in t]
    return words


class SkipGramDataset(Dataset):
    def __init__(self, ids, window):
        self.pairs = []
        for i, c in enumerate(ids):
            for j in range(max(0, i - window), min(len(ids), i + window + 1)):
                if j != i:
                    self.pairs.append((c, ids[j]))

    def __len__(self):
        return len(self.pairs)

    def __getitem__(self, idx):
        c, o = self.pairs[idx]
        return torch.tensor(c), torch.tensor(o)


class SkipGramModel(nn.Module):
    def __init__(self, emb_size, emb_dimension):
        super(SkipGramModel, self).__init__()
        self.u_embeddings = nn.Embedding(emb_size, emb_dimension)
        self.v_embeddings = nn.Embedding(emb_size, emb_dimension)
        initrange = 1.0 / emb_dimension
        nn.init.uniform_(self.u_embeddings.weight.data, -initrange, initrange)
        nn.init.constant_(self.v_embeddings.weight.data, 0)

    def forward(self, pos_u, pos_v, neg_v):
        emb_u = self.u_embeddings(pos_u)
        emb_v = self.v_embeddings(pos_v)
        emb_neg_v = self.v_embeddings(neg_v)
        score = torch.sum(torch.mul(emb_u, emb_v), dim=1)
        score = torch.clamp(score, max=10, min=-10)
        score = -F.logsigmoid(score)
        neg_score = torch.bmm(emb_neg_v, emb_u.unsqueeze(2)).squeeze()
        neg_score = torch.clamp(neg_score, max=10, min=-10)
        neg_score = -torch.sum(F.logsigmoid(-neg_score), dim=1)
        return torch.mean(score + neg_score)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--dim", type=int, default=24)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--neg", type=int, default=5)
    args = parser.parse_args()
    torch.manual_seed(0)
    words = make_corpus(500)
    counts = Counter(words)
    vocab = sorted(counts)
    w2i = {w: i for i, w in enumerate(vocab)}
    ids = [w2i[w] for w in words]
    freqs = np.array([counts[w] for w in vocab], dtype=np.float64) ** 0.75
    noise = torch.from_numpy(freqs / freqs.sum())
    loader = DataLoader(SkipGramDataset(ids, 2), batch_size=128, shuffle=True)
    model = SkipGramModel(len(vocab), args.dim)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for epoch in range(args.epochs):
        running = 0.0
        for i, (u, v) in enumerate(loader):
            neg = torch.multinomial(noise, u.size(0) * args.neg, replacement=True)
            neg = neg.view(u.size(0), args.neg)
            optimizer.zero_grad()
            loss = model(u, v, neg)
            loss.backward()
            optimizer.step()
            running = 0.9 * running + 0.1 * loss.item() if i else loss.item()
        print(f"epoch {epoch} loss {running:.4f}")
    emb = F.normalize(model.u_embeddings.weight.detach(), dim=1)
    sims = emb @ emb.T
    sims.fill_diagonal_(-1)
    group_of = {w: gi for gi, g in enumerate(GROUPS) for w in g}
    grouped = [w for w in vocab if w in group_of]
    hits = 0
    for w in grouped:
        nn_idx = sims[w2i[w]].argmax().item()
        hits += int(group_of.get(vocab[nn_idx]) == group_of[w])
    print("nearest to 'cat':", vocab[sims[w2i["cat"]].argmax().item()])
    print(f"final_acc {hits / len(grouped):.4f}")
