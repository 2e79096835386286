"""A small BERT-style masked language model (the "BERT from scratch" tutorials): a word-level
vocabulary with [PAD]/[CLS]/[SEP]/[MASK] built from Python stdlib docstrings, variable-length
sentences padded with pad_sequence(batch_first=True, padding_value=PAD), 80/10/10 masking with
torch.rand / torch.bernoulli / torch.randint, encoder blocks written with
nn.MultiheadAttention(batch_first=True, key_padding_mask=...), token + position + segment
embeddings, CrossEntropyLoss(ignore_index=-100), masked-token accuracy, save/load of the
encoder."""
import collections
import inspect
import json
import random
import re

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import DataLoader, Dataset

SPECIALS = ["[PAD]", "[CLS]", "[SEP]", "[MASK]", "[UNK]"]
PAD, CLS, SEP, MASK, UNK = range(5)


def corpus(n=400, seed=0):
    """Sentences of a small template grammar (so masked words are predictable from context),
    plus the words of a stdlib docstring as noise."""
    rng = random.Random(seed)
    nouns = {"cat": "meows", "dog": "barks", "bird": "sings", "cow": "moos", "duck": "quacks"}
    adjs = ["big", "small", "old", "young", "happy"]
    places = ["garden", "house", "park", "field", "river"]
    noise = re.findall(r"[a-z]+", (inspect.getdoc(json) or "").lower())
    sents = []
    for _ in range(n):
        noun = rng.choice(sorted(nouns))
        s = ["the", rng.choice(adjs), noun, nouns[noun], "in", "the", rng.choice(places)]
        if rng.random() < 0.5:
            s += ["and", "the", noun, "is", "happy" if s[1] == "happy" else "calm"]
        if rng.random() < 0.3:
            k = rng.randrange(len(noise) - 4)
            s += noise[k:k + 3]
        sents.append(s)
    return sents


class MLMDataset(Dataset):
    def __init__(self, sents, vocab):
        self.data = [torch.tensor([CLS] + [vocab.get(w, UNK) for w in s] + [SEP]) for s in sents]

    def __len__(self):
        return len(self.data)

    def __getitem__(self, i):
        return self.data[i]


def collate(batch):
    return pad_sequence(batch, batch_first=True, padding_value=PAD)


def mask_tokens(inputs, vocab_size, mlm_probability=0.15):
    labels = inputs.clone()
    probability_matrix = torch.full(labels.shape, mlm_probability)
    special = inputs < len(SPECIALS)
    probability_matrix.masked_fill_(special, value=0.0)
    masked_indices = torch.bernoulli(probability_matrix).bool()
    labels[~masked_indices] = -100
    indices_replaced = torch.bernoulli(torch.full(labels.shape, 0.8)).bool() & masked_indices
    inputs = inputs.clone()
    inputs[indices_replaced] = MASK
    indices_random = (torch.bernoulli(torch.full(labels.shape, 0.5)).bool() & masked_indices
                      & ~indices_replaced)
    random_words = torch.randint(len(SPECIALS), vocab_size, labels.shape, dtype=torch.long)
    inputs[indices_random] = random_words[indices_random]
    return inputs, labels


class EncoderLayer(nn.Module):
    def __init__(self, d, heads, ff, dropout=0.1):
        super().__init__()
        self.attn = nn.MultiheadAttention(d, heads, dropout=dropout, batch_first=True)
        self.ln1 = nn.LayerNorm(d)
        self.ff = nn.Sequential(nn.Linear(d, ff), nn.GELU(), nn.Linear(ff, d), nn.Dropout(dropout))
        self.ln2 = nn.LayerNorm(d)
        self.drop = nn.Dropout(dropout)

    def forward(self, x, pad_mask):
        a, w = self.attn(x, x, x, key_padding_mask=pad_mask, need_weights=True)
        x = self.ln1(x + self.drop(a))
        x = self.ln2(x + self.ff(x))
        return x, w


class BertMLM(nn.Module):
    def __init__(self, vocab_size, d=64, heads=4, layers=2, max_len=32):
        super().__init__()
        self.tok = nn.Embedding(vocab_size, d, padding_idx=PAD)
        self.pos = nn.Embedding(max_len, d)
        self.seg = nn.Embedding(2, d)
        self.norm = nn.LayerNorm(d)
        self.layers = nn.ModuleList([EncoderLayer(d, heads, 4 * d) for _ in range(layers)])
        self.transform = nn.Sequential(nn.Linear(d, d), nn.GELU(), nn.LayerNorm(d, eps=1e-12))
        self.decoder = nn.Linear(d, vocab_size)
        self.decoder.weight = self.tok.weight   # tied input/output embeddings

    def forward(self, ids):
        pad_mask = ids == PAD
        pos = torch.arange(ids.size(1), device=ids.device).unsqueeze(0).expand_as(ids)
        x = self.norm(self.tok(ids) + self.pos(pos) + self.seg(torch.zeros_like(ids)))
        weights = []
        for layer in self.layers:
            x, w = layer(x, pad_mask)
            weights.append(w)
        return self.decoder(self.transform(x)), weights


def main():
    torch.manual_seed(0)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    sents = corpus()
    counts = collections.Counter(w for s in sents for w in s)
    words = [w for w, c in counts.most_common() if c >= 1]
    vocab = {w: i + len(SPECIALS) for i, w in enumerate(words)}
    vocab_size = len(vocab) + len(SPECIALS)
    print(f"{len(sents)} sentences, vocab {vocab_size}")
    ds = MLMDataset(sents, vocab)
    loader = DataLoader(ds, batch_size=32, shuffle=True, collate_fn=collate)
    model = BertMLM(vocab_size).to(device)
    assert model.decoder.weight is model.tok.weight
    n_params = sum(p.numel() for p in model.parameters())
    print(f"parameters {n_params} (tied: {n_params - model.tok.weight.numel()} besides embeddings)")
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3, betas=(0.9, 0.98), eps=1e-9)
    criterion = nn.CrossEntropyLoss(ignore_index=-100)
    for epoch in range(10):
        model.train()
        tot, n = 0.0, 0
        for batch in loader:
            inputs, labels = mask_tokens(batch, vocab_size)
            inputs, labels = inputs.to(device), labels.to(device)
            logits, _ = model(inputs)
            loss = criterion(logits.view(-1, vocab_size), labels.view(-1))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            tot += loss.item()
            n += 1
        if epoch % 3 == 2:
            print(f"epoch {epoch + 1:2d} mlm loss {tot / n:.4f}")
    torch.save(model.state_dict(), "bert_mlm.pt")
    model2 = BertMLM(vocab_size)
    model2.load_state_dict(torch.load("bert_mlm.pt", weights_only=True))
    model2.eval()
    torch.manual_seed(1)
    correct = total = 0
    loss_sum = 0.0
    with torch.no_grad():
        for batch in DataLoader(ds, batch_size=64, collate_fn=collate):
            inputs, labels = mask_tokens(batch, vocab_size)
            logits, weights = model2(inputs)
            m = labels != -100
            loss_sum += F.cross_entropy(logits[m], labels[m], reduction="sum").item()
            correct += (logits.argmax(-1)[m] == labels[m]).sum().item()
            total += m.sum().item()
    w = weights[-1]
    print("attention weights", tuple(w.shape), "rows sum to 1:",
          torch.allclose(w.sum(-1), torch.ones(w.shape[:-1])),
          "padding gets no weight:", bool((w.masked_select((inputs == PAD)[:, None, :]
                                                            .expand_as(w)) == 0).all()))
    print(f"masked token accuracy {correct / total:.3f}")
    print(f"final_loss {loss_sum / total:.4f}")


if __name__ == "__main__":
    main()
