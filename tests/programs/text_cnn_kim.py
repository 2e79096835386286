"""Sentence classification with a CNN (Kim 2014), as the popular "CNN for text classification
in PyTorch" posts write it: a tokenizer + vocab built with collections.Counter, padding to
max_len with a <pad> index, `nn.Embedding.from_pretrained(..., freeze=False, padding_idx=0)`
from "pretrained" vectors (here SVD word vectors of the corpus co-occurrences), a static plus a
non-static channel, `nn.ModuleList` of `nn.Conv1d` with kernel sizes 3/4/5 over the permuted
embeddings, max-over-time pooling with `F.max_pool1d(x, x.shape[2])`, dropout, Adadelta
(the paper's optimizer) with max-norm weight rescaling of the output layer (`torch.norm` +
`renorm_`)."""
import argparse
import random
from collections import Counter

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

POS = ["good", "great", "excellent", "fun", "enjoyable", "moving", "brilliant", "charming"]
NEG = ["bad", "boring", "awful", "dull", "terrible", "tedious", "weak", "bland"]
FILLER = ("the movie film plot actors story was is and a very quite really but with its "
          "director scenes ending music script this that it of to").split()


def make_sentence(label, rng):
    words = [rng.choice(FILLER) for _ in range(rng.randint(8, 18))]
    cue = POS if label else NEG
    other = NEG if label else POS
    for _ in range(2):
        words.insert(rng.randrange(len(words)), rng.choice(cue))
    if rng.random() < 0.5:   # a contrasting word, and "not" flipping one cue
        words.insert(rng.randrange(len(words)), rng.choice(other))
    if rng.random() < 0.3:
        i = rng.randrange(len(words))
        words[i:i] = ["not", rng.choice(other)]
    return " ".join(words)


def tokenize(s):
    return s.lower().split()


def build_vocab(sentences, min_freq=1):
    counter = Counter(tok for s in sentences for tok in tokenize(s))
    itos = ["<pad>", "<unk>"] + [w for w, c in counter.most_common() if c >= min_freq]
    return {w: i for i, w in enumerate(itos)}


def encode(sentences, stoi, max_len):
    out = np.zeros((len(sentences), max_len), dtype=np.int64)
    for i, s in enumerate(sentences):
        ids = [stoi.get(t, 1) for t in tokenize(s)][:max_len]
        out[i, :len(ids)] = ids
    return torch.from_numpy(out)


def svd_vectors(ids, vocab_size, dim):
    co = np.zeros((vocab_size, vocab_size))
    for row in ids.numpy():
        row = row[row > 0]
        for i in range(len(row)):
            for j in range(max(0, i - 2), min(len(row), i + 3)):
                if i != j:
                    co[row[i], row[j]] += 1
    u, s, _ = np.linalg.svd(np.log1p(co))
    vec = u[:, :dim] * np.sqrt(s[:dim])
    return torch.tensor(vec / (np.abs(vec).max() + 1e-8), dtype=torch.float)


class CNN_Text(nn.Module):
    def __init__(self, pretrained, n_classes, kernel_sizes=(3, 4, 5), n_filters=16, dropout=0.5):
        super(CNN_Text, self).__init__()
        self.embedding_static = nn.Embedding.from_pretrained(pretrained, freeze=True,
                                                             padding_idx=0)
        self.embedding = nn.Embedding.from_pretrained(pretrained.clone(), freeze=False,
                                                      padding_idx=0)
        emb_dim = pretrained.shape[1]
        self.convs = nn.ModuleList([nn.Conv1d(2 * emb_dim, n_filters, k, padding=k // 2)
                                    for k in kernel_sizes])
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(len(kernel_sizes) * n_filters, n_classes)

    def forward(self, x):
        emb = torch.cat([self.embedding_static(x), self.embedding(x)], dim=2)   # (B, L, 2E)
        emb = emb.permute(0, 2, 1)                                               # (B, 2E, L)
        conved = [F.relu(conv(emb)) for conv in self.convs]
        pooled = [F.max_pool1d(c, c.shape[2]).squeeze(2) for c in conved]
        cat = self.dropout(torch.cat(pooled, dim=1))
        return self.fc(cat)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--max_len", type=int, default=24)
    args = parser.parse_args()
    rng = random.Random(0)
    labels = [i % 2 for i in range(1200)]
    sentences = [make_sentence(y, rng) for y in labels]
    stoi = build_vocab(sentences[:900])
    X = encode(sentences, stoi, args.max_len)
    y = torch.tensor(labels)
    vectors = svd_vectors(X[:900], len(stoi), 24)
    print(f"vocab {len(stoi)}, embeddings {tuple(vectors.shape)}")
    torch.manual_seed(0)
    train_loader = DataLoader(TensorDataset(X[:900], y[:900]), batch_size=50, shuffle=True)
    test_loader = DataLoader(TensorDataset(X[900:], y[900:]), batch_size=100)
    model = CNN_Text(vectors, 2)
    optimizer = torch.optim.Adadelta(filter(lambda p: p.requires_grad, model.parameters()),
                                     lr=1.0, rho=0.95)
    criterion = nn.CrossEntropyLoss()
    for epoch in range(args.epochs):
        model.train()
        for xb, yb in train_loader:
            optimizer.zero_grad()
            loss = criterion(model(xb), yb)
            loss.backward()
            optimizer.step()
            with torch.no_grad():   # the paper's l2 constraint s = 3 on the output weights
                w = model.fc.weight
                if torch.norm(w, dim=1).max() > 3:
                    w.renorm_(p=2, dim=0, maxnorm=3)
        model.eval()
        correct = 0
        with torch.no_grad():
            for xb, yb in test_loader:
                correct += (model(xb).argmax(1) == yb).sum().item()
        print(f"epoch {epoch} loss {loss.item():.4f} test acc {correct / 300:.4f}")
    assert torch.equal(model.embedding_static.weight, vectors)
    print(f"final_acc {correct / 300:.4f}")


if __name__ == "__main__":
    main()
