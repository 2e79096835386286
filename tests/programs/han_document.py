"""Hierarchical Attention Network (Yang et al. 2016) for document classification, as the common
PyTorch re-implementations write it: documents tokenised into sentences and words with a
`collections.Counter` vocab (min_freq, <pad>/<unk>), a collate_fn padding to a
(batch, max_sents, max_words) LongTensor plus per-document sentence counts and per-sentence
word counts, a word encoder (bidirectional `nn.GRU` over `pack_padded_sequence` of the non-empty
sentences, `enforce_sorted=False`, then `pad_packed_sequence(total_length=...)`) with additive
attention against a learnt context vector (`torch.tanh(Linear)` @ u_w, `masked_fill` of padding
by `-inf`, softmax), sentence vectors scattered back into the padded document tensor with
boolean-mask assignment, a sentence encoder + attention of the same shape, Adam with
`clip_grad_norm_`, and a `torch.utils.data.Dataset`/`DataLoader(collate_fn=...)`. Labels depend
on which sentence says what (a negated sentence flips it). The metric is test accuracy."""
import argparse
import random
from collections import Counter

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
from torch.utils.data import DataLoader, Dataset

POS = ["great", "lovely", "excellent", "fun", "superb"]
NEG = ["awful", "boring", "terrible", "dull", "poor"]
FILL = ["the", "plot", "was", "acting", "film", "music", "really", "quite", "and", "scenes",
        "i", "think", "overall", "story", "ending"]


def make_doc(rng):
    n_sent = rng.randint(2, 6)
    label = rng.randint(0, 1)
    key = rng.randrange(n_sent)
    sents = []
    for s in range(n_sent):
        words = [rng.choice(FILL) for _ in range(rng.randint(3, 8))]
        if s == key:   # the one opinionated sentence decides the label
            negate = rng.random() < 0.3
            good = label == 1
            word = rng.choice(POS if good != negate else NEG)
            words.insert(rng.randrange(len(words) + 1), word)
            if negate:
                words.insert(words.index(word), "not")
        sents.append(words)
    return sents, label


class Vocab:
    def __init__(self, docs, min_freq=2):
        counts = Counter(w for d in docs for s in d for w in s)
        self.itos = ["<pad>", "<unk>"] + sorted(w for w, c in counts.items() if c >= min_freq)
        self.stoi = {w: i for i, w in enumerate(self.itos)}

    def __call__(self, words):
        return [self.stoi.get(w, 1) for w in words]


class DocDataset(Dataset):
    def __init__(self, docs, labels, vocab):
        self.docs = [[vocab(s) for s in d] for d in docs]
        self.labels = labels

    def __len__(self):
        return len(self.docs)

    def __getitem__(self, i):
        return self.docs[i], self.labels[i]


def collate(batch):
    max_s = max(len(d) for d, _ in batch)
    max_w = max(len(s) for d, _ in batch for s in d)
    x = torch.zeros(len(batch), max_s, max_w, dtype=torch.long)
    word_lens = torch.zeros(len(batch), max_s, dtype=torch.long)
    for i, (doc, _) in enumerate(batch):
        for j, sent in enumerate(doc):
            x[i, j, : len(sent)] = torch.tensor(sent)
            word_lens[i, j] = len(sent)
    sent_lens = torch.tensor([len(d) for d, _ in batch])
    return x, sent_lens, word_lens, torch.tensor([y for _, y in batch])


class AttentionPool(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.proj = nn.Linear(dim, dim)
        self.context = nn.Parameter(torch.empty(dim).uniform_(-0.1, 0.1))

    def forward(self, h, mask):
        u = torch.tanh(self.proj(h))
        scores = (u @ self.context).masked_fill(~mask, float("-inf"))
        alpha = F.softmax(scores, dim=1)
        return (alpha.unsqueeze(-1) * h).sum(1), alpha


class HAN(nn.Module):
    def __init__(self, vocab_size, emb=32, hid=24, n_cls=2):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, emb, padding_idx=0)
        self.word_rnn = nn.GRU(emb, hid, batch_first=True, bidirectional=True)
        self.word_att = AttentionPool(2 * hid)
        self.sent_rnn = nn.GRU(2 * hid, hid, batch_first=True, bidirectional=True)
        self.sent_att = AttentionPool(2 * hid)
        self.fc = nn.Linear(2 * hid, n_cls)

    def forward(self, x, sent_lens, word_lens):
        B, S, W = x.shape
        real = word_lens > 0                                   # (B, S)
        words = x[real]                                        # (n_sent, W)
        lens = word_lens[real]
        packed = pack_padded_sequence(self.embed(words), lens, batch_first=True,
                                      enforce_sorted=False)
        out, _ = self.word_rnn(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=W)
        wmask = torch.arange(W).unsqueeze(0) < lens.unsqueeze(1)
        sent_vecs, _ = self.word_att(out, wmask)
        doc = torch.zeros(B, S, sent_vecs.size(-1))
        doc[real] = sent_vecs
        packed = pack_padded_sequence(doc, sent_lens, batch_first=True, enforce_sorted=False)
        out, _ = self.sent_rnn(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=S)
        doc_vec, alpha = self.sent_att(out, real)
        return self.fc(doc_vec), alpha


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    rng = random.Random(7)
    docs, labels = zip(*[make_doc(rng) for _ in range(900)])
    vocab = Vocab(docs[:700])
    train = DocDataset(docs[:700], labels[:700], vocab)
    test = DocDataset(docs[700:], labels[700:], vocab)
    train_loader = DataLoader(train, batch_size=32, shuffle=True, collate_fn=collate)
    test_loader = DataLoader(test, batch_size=64, collate_fn=collate)
    model = HAN(len(vocab.itos))
    opt = torch.optim.Adam(model.parameters(), lr=5e-3)
    for epoch in range(args.epochs):
        model.train()
        total, n = 0.0, 0
        for x, sl, wl, y in train_loader:
            logits, _ = model(x, sl, wl)
            loss = F.cross_entropy(logits, y)
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            total += loss.item() * y.size(0)
            n += y.size(0)
        print(f"epoch {epoch} loss {total / n:.4f}")
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for x, sl, wl, y in test_loader:
            logits, alpha = model(x, sl, wl)
            correct += (logits.argmax(1) == y).sum().item()
            total += y.numel()
    print("sentence attention of the first test document:",
          [round(a, 2) for a in alpha[0, : sl[0]].tolist()])
    print(f"final_acc {correct / total:.4f}")


if __name__ == "__main__":
    main()
