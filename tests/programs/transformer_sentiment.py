"""Sentiment classification with a small Transformer encoder (the blog-post way): a toy review
corpus built from word lists (negations flip the polarity, so word order matters), a Vocab
from collections.Counter with <pad>/<unk>, padding to the batch maximum in collate_fn,
`nn.TransformerEncoder(enable_nested_tensor=False)` with `src_key_padding_mask`, a learned
[CLS] token plus sinusoidal positions, masked mean pooling, AdamW with `OneCycleLR` stepped per
batch, `nn.utils.clip_grad_norm_`, and evaluation under `@torch.no_grad()` with a
`torch.inference_mode()` prediction helper. The metric is the test accuracy."""
import argparse
import math
import random
from collections import Counter

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

POS = "good great excellent wonderful fun lovely superb enjoyable brilliant".split()
NEG = "bad awful terrible boring dull poor horrible weak mediocre".split()
FILLER = ("the movie film plot acting was really quite very and story cast but it "
          "a this overall").split()


def make_review(rng):
    label = rng.random() < 0.5
    words = []
    for _ in range(rng.randint(2, 4)):
        words += rng.sample(FILLER, rng.randint(1, 3))
        negate = rng.random() < 0.3
        word_label = label ^ negate
        if negate:
            words.append("not")
        words.append(rng.choice(POS if word_label else NEG))
    return " ".join(words), int(label)


class Vocab:
    def __init__(self, texts, min_freq=1):
        counts = Counter(w for t in texts for w in t.split())
        self.itos = ["<pad>", "<unk>", "<cls>"] + sorted(w for w, c in counts.items()
                                                         if c >= min_freq)
        self.stoi = {w: i for i, w in enumerate(self.itos)}

    def __len__(self):
        return len(self.itos)

    def encode(self, text):
        return [self.stoi["<cls>"]] + [self.stoi.get(w, 1) for w in text.split()]


class ReviewDataset(Dataset):
    def __init__(self, pairs, vocab):
        self.items = [(torch.tensor(vocab.encode(t)), y) for t, y in pairs]

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]


def collate(batch):
    lengths = [len(x) for x, _ in batch]
    ids = torch.zeros(len(batch), max(lengths), dtype=torch.long)
    for i, (x, _) in enumerate(batch):
        ids[i, :len(x)] = x
    labels = torch.tensor([y for _, y in batch])
    return ids, ids == 0, labels


class PositionalEncoding(nn.Module):
    def __init__(self, d_model, max_len=64):
        super().__init__()
        position = torch.arange(max_len).unsqueeze(1)
        div_term = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
        pe = torch.zeros(1, max_len, d_model)
        pe[0, :, 0::2] = torch.sin(position * div_term)
        pe[0, :, 1::2] = torch.cos(position * div_term)
        self.register_buffer("pe", pe)

    def forward(self, x):
        return x + self.pe[:, :x.size(1)]


class SentimentTransformer(nn.Module):
    def __init__(self, vocab_size, d_model=32, nhead=4, layers=2, num_classes=2):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, d_model, padding_idx=0)
        self.pos = PositionalEncoding(d_model)
        layer = nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward=64, dropout=0.1,
                                           activation="gelu", batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(2 * d_model, num_classes)

    def forward(self, ids, pad_mask):
        x = self.pos(self.embed(ids) * math.sqrt(self.embed.embedding_dim))
        h = self.norm(self.encoder(x, src_key_padding_mask=pad_mask))
        keep = (~pad_mask).unsqueeze(-1).float()
        mean = (h * keep).sum(1) / keep.sum(1).clamp(min=1)
        return self.head(torch.cat([h[:, 0], mean], dim=-1))


@torch.no_grad()
def evaluate(model, loader):
    model.eval()
    correct = total = 0
    loss = 0.0
    for ids, mask, y in loader:
        logits = model(ids, mask)
        loss += F.cross_entropy(logits, y, reduction="sum").item()
        correct += (logits.argmax(1) == y).sum().item()
        total += y.numel()
    return loss / total, correct / total


def predict(model, vocab, text):
    with torch.inference_mode():
        ids = torch.tensor([vocab.encode(text)])
        probs = model(ids, ids == 0).softmax(-1)
    return probs[0, 1].item()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=5e-3)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    torch.manual_seed(args.seed)
    rng = random.Random(1234)
    train_pairs = [make_review(rng) for _ in range(640)]
    test_pairs = [make_review(rng) for _ in range(300)]
    vocab = Vocab([t for t, _ in train_pairs])
    train_loader = DataLoader(ReviewDataset(train_pairs, vocab), batch_size=args.batch_size,
                              shuffle=True, collate_fn=collate)
    test_loader = DataLoader(ReviewDataset(test_pairs, vocab), batch_size=100,
                             collate_fn=collate)
    model = SentimentTransformer(len(vocab))
    print(f"{sum(p.numel() for p in model.parameters() if p.requires_grad)} parameters, "
          f"vocab {len(vocab)}")
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=args.lr, epochs=args.epochs, steps_per_epoch=len(train_loader),
        pct_start=0.2)
    for epoch in range(1, args.epochs + 1):
        model.train()
        running = 0.0
        for ids, mask, y in train_loader:
            optimizer.zero_grad()
            loss = F.cross_entropy(model(ids, mask), y)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
            optimizer.step()
            scheduler.step()
            running += loss.item()
        test_loss, acc = evaluate(model, test_loader)
        print(f"epoch {epoch} train {running / len(train_loader):.4f} test {test_loss:.4f} "
              f"acc {acc:.4f} lr {scheduler.get_last_lr()[0]:.2e}")
    for text in ("the movie was great", "the plot was not good", "acting was not bad"):
        print(f"{text!r}: p(positive) = {predict(model, vocab, text):.3f}")
    print(f"final_acc {acc:.4f}")


if __name__ == "__main__":
    main()
