"""End-To-End Memory Networks (Sukhbaatar et al. 2015) on a generated bAbI-style task ("where is
X?" after a story of moves), the way the popular MemN2N PyTorch ports write it: a word vocab
built from the stories, stories padded into (batch, memory, sentence) LongTensors, the
position-encoding matrix (the `1 + 4 (k - (d+1)/2)(j - (J+1)/2) / (d J)` form) as a buffer,
learnt temporal encodings T_A / T_C per memory slot, adjacent weight tying through an
`nn.ModuleList` of hops + 1 embeddings with `padding_idx=0`, `torch.bmm` attention with
`F.softmax` masked by `masked_fill` on empty memory slots, the answer projection tied to the
last embedding (`F.linear(u, C_K.weight)`), `normal_(0, 0.1)` init, SGD with
`clip_grad_norm_(40)` and halving the LR every few epochs by editing `param_groups`. The metric is
test accuracy."""
import argparse
import random

import torch
import torch.nn as nn
import torch.nn.functional as F

PEOPLE = ["mary", "john", "sandra", "daniel"]
PLACES = ["kitchen", "garden", "office", "bathroom", "hallway", "bedroom"]
VERBS = ["moved to", "went to", "journeyed to", "travelled to"]


def make_story(rng, n_sent):
    story, where = [], {}
    for _ in range(n_sent):
        p, loc = rng.choice(PEOPLE), rng.choice(PLACES)
        where[p] = loc
        story.append(f"{p} {rng.choice(VERBS)} the {loc}".split())
    q = rng.choice(sorted(where))
    return story, ["where", "is", q], where[q]


def vectorize(data, w2i, mem_size, sent_len):
    S = torch.zeros(len(data), mem_size, sent_len, dtype=torch.long)
    Q = torch.zeros(len(data), sent_len, dtype=torch.long)
    A = torch.zeros(len(data), dtype=torch.long)
    for i, (story, q, a) in enumerate(data):
        story = story[-mem_size:]
        for j, sent in enumerate(story):
            S[i, j, : len(sent)] = torch.tensor([w2i[w] for w in sent])
        Q[i, : len(q)] = torch.tensor([w2i[w] for w in q])
        A[i] = w2i[a]
    return S, Q, A


def position_encoding(sentence_size, embedding_dim):
    encoding = torch.ones(embedding_dim, sentence_size)
    ls, le = sentence_size + 1, embedding_dim + 1
    for i in range(1, le):
        for j in range(1, ls):
            encoding[i - 1, j - 1] = (i - (embedding_dim + 1) / 2) * (j - (sentence_size + 1) / 2)
    encoding = 1 + 4 * encoding / embedding_dim / sentence_size
    encoding[:, -1] = 1.0
    return encoding.t()   # (sentence, dim)


class MemN2N(nn.Module):
    def __init__(self, vocab_size, dim, mem_size, sent_len, hops=3):
        super().__init__()
        self.hops = hops
        self.C = nn.ModuleList([nn.Embedding(vocab_size, dim, padding_idx=0)
                                for _ in range(hops + 1)])
        for emb in self.C:
            emb.weight.data.normal_(0, 0.1)
            emb.weight.data[0].zero_()
        self.TA = nn.Parameter(torch.randn(mem_size, dim) * 0.1)
        self.TC = nn.Parameter(torch.randn(mem_size, dim) * 0.1)
        self.register_buffer("encoding", position_encoding(sent_len, dim))

    def forward(self, story, query):
        # story: (B, M, J), query: (B, J)
        u = (self.C[0](query) * self.encoding).sum(1)               # (B, d)
        empty = story.sum(-1) == 0                                     # (B, M)
        for k in range(self.hops):
            m = (self.C[k](story) * self.encoding).sum(2) + self.TA     # (B, M, d)
            c = (self.C[k + 1](story) * self.encoding).sum(2) + self.TC
            scores = torch.bmm(m, u.unsqueeze(2)).squeeze(2)           # (B, M)
            p = F.softmax(scores.masked_fill(empty, float("-inf")), dim=-1)
            o = torch.bmm(p.unsqueeze(1), c).squeeze(1)
            u = u + o
        return F.linear(u, self.C[-1].weight)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed + 100)
    data = [make_story(rng, rng.randint(2, 8)) for _ in range(1400)]
    words = sorted({w for s, q, a in data for sent in s + [q] for w in sent} | set(PLACES))
    w2i = {w: i + 1 for i, w in enumerate(words)}
    mem_size, sent_len = 8, max(len(s) for st, _, _ in data for s in st)
    S, Q, A = vectorize(data, w2i, mem_size, sent_len)
    n_train = 1000
    model = MemN2N(len(w2i) + 1, 32, mem_size, sent_len)
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    bs = 32
    for epoch in range(args.epochs):
        if epoch and epoch % 6 == 0:
            for g in opt.param_groups:
                g["lr"] = g["lr"] / 2
        perm = torch.randperm(n_train)
        total = 0.0
        for i in range(0, n_train, bs):
            idx = perm[i: i + bs]
            logits = model(S[idx], Q[idx])
            loss = F.cross_entropy(logits, A[idx], reduction="sum")
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 40.0)
            opt.step()
            with torch.no_grad():
                for emb in model.C:
                    emb.weight[0].zero_()
            total += loss.item()
        if epoch % 5 == 0 or epoch == args.epochs - 1:
            print(f"epoch {epoch} loss {total / n_train:.4f} lr {opt.param_groups[0]['lr']}")
    model.eval()
    with torch.no_grad():
        pred = model(S[n_train:], Q[n_train:]).argmax(-1)
        acc = (pred == A[n_train:]).float().mean().item()
        train_acc = (model(S[:n_train], Q[:n_train]).argmax(-1) == A[:n_train]).float().mean()
    print(f"train acc {train_acc.item():.3f}")
    print(f"final_acc {acc:.4f}")


if __name__ == "__main__":
    main()
