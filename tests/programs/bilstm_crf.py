"""BiLSTM-CRF named-entity tagger (the "Advanced: Making Dynamic Decisions and the Bi-LSTM CRF"
tutorial, batched the way people port it): word + char-CNN embeddings, packed bidirectional
LSTM, a CRF layer with the forward algorithm in log space (logsumexp over a broadcast score
tensor), masked for padding, and Viterbi decoding with backpointers. Entity-level F1 on held-out
sentences is the metric."""
import argparse
import random

import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence, pad_sequence

TAGS = ["<pad>", "O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
FIRST = ["anna", "boris", "carla", "dmitri", "elena", "farid", "greta", "hugo"]
LAST = ["smith", "ivanova", "rossi", "khan", "muller", "novak"]
CITY = ["paris", "oslo", "lima", "new york", "buenos aires", "kuala lumpur", "rome"]
FILL = ["met", "visited", "in", "the", "yesterday", "with", "from", "went", "to", "and",
        "saw", "a", "friend", "city", "near"]


def make_sentence(rng):
    words, tags = [], []
    for _ in range(rng.randint(3, 8)):
        r = rng.random()
        if r < 0.2:
            name = [rng.choice(FIRST)] + ([rng.choice(LAST)] if rng.random() < 0.6 else [])
            words += name
            tags += ["B-PER"] + ["I-PER"] * (len(name) - 1)
        elif r < 0.35:
            city = rng.choice(CITY).split()
            words += city
            tags += ["B-LOC"] + ["I-LOC"] * (len(city) - 1)
        else:
            words.append(rng.choice(FILL))
            tags.append("O")
    return words, tags


class CRF(nn.Module):
    def __init__(self, num_tags):
        super().__init__()
        self.transitions = nn.Parameter(torch.randn(num_tags, num_tags) * 0.1)
        self.start = nn.Parameter(torch.zeros(num_tags))
        self.end = nn.Parameter(torch.zeros(num_tags))

    def _score(self, emissions, tags, mask):
        # emissions (B, T, K), tags (B, T), mask (B, T) bool
        B, T, _ = emissions.shape
        score = self.start[tags[:, 0]] + emissions[:, 0].gather(1, tags[:, :1]).squeeze(1)
        for t in range(1, T):
            step = self.transitions[tags[:, t - 1], tags[:, t]] + \
                emissions[:, t].gather(1, tags[:, t:t + 1]).squeeze(1)
            score = score + step * mask[:, t]
        last = tags.gather(1, (mask.sum(1, keepdim=True) - 1).long()).squeeze(1)
        return score + self.end[last]

    def _partition(self, emissions, mask):
        alpha = self.start + emissions[:, 0]
        for t in range(1, emissions.size(1)):
            nxt = torch.logsumexp(alpha.unsqueeze(2) + self.transitions + emissions[:, t]
                                  .unsqueeze(1), dim=1)
            alpha = torch.where(mask[:, t].unsqueeze(1), nxt, alpha)
        return torch.logsumexp(alpha + self.end, dim=1)

    def neg_log_likelihood(self, emissions, tags, mask):
        return (self._partition(emissions, mask) - self._score(emissions, tags, mask)).mean()

    @torch.no_grad()
    def decode(self, emissions, mask):
        score = self.start + emissions[:, 0]
        history = []
        for t in range(1, emissions.size(1)):
            best, idx = (score.unsqueeze(2) + self.transitions).max(dim=1)
            nxt = best + emissions[:, t]
            score = torch.where(mask[:, t].unsqueeze(1), nxt, score)
            history.append(idx)
        score = score + self.end
        lengths = mask.sum(1).tolist()
        paths = []
        for b in range(emissions.size(0)):
            best = score[b].argmax().item()
            path = [best]
            for idx in reversed(history[:lengths[b] - 1]):
                best = idx[b, best].item()
                path.append(best)
            paths.append(path[::-1])
        return paths


class Tagger(nn.Module):
    def __init__(self, n_words, n_chars, n_tags, wdim=32, cdim=12, hidden=32):
        super().__init__()
        self.wemb = nn.Embedding(n_words, wdim, padding_idx=0)
        self.cemb = nn.Embedding(n_chars, cdim, padding_idx=0)
        self.char_cnn = nn.Conv1d(cdim, cdim, kernel_size=3, padding=1)
        self.lstm = nn.LSTM(wdim + cdim, hidden, batch_first=True, bidirectional=True)
        self.drop = nn.Dropout(0.2)
        self.proj = nn.Linear(2 * hidden, n_tags)
        self.crf = CRF(n_tags)

    def emissions(self, words, chars, lengths):
        B, T, L = chars.shape
        c = self.cemb(chars.view(B * T, L)).transpose(1, 2)
        c = torch.relu(self.char_cnn(c)).max(dim=2).values.view(B, T, -1)
        x = self.drop(torch.cat([self.wemb(words), c], dim=-1))
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out, _ = self.lstm(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=T)
        return self.proj(self.drop(out))


def spans(tags):
    out, start = set(), None
    for i, t in enumerate(tags + ["O"]):
        if start is not None and not t.startswith("I-"):
            out.add((start, i, tags[start][2:]))
            start = None
        if t.startswith("B-"):
            start = i
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--batch-size", type=int, default=32)
    args = p.parse_args()
    torch.manual_seed(0)
    rng = random.Random(0)
    data = [make_sentence(rng) for _ in range(300)]
    vocab = {"<pad>": 0, "<unk>": 1}
    chars = {"<pad>": 0}
    for words, _ in data[:240]:
        for w in words:
            vocab.setdefault(w, len(vocab))
            for ch in w:
                chars.setdefault(ch, len(chars))
    tag_ix = {t: i for i, t in enumerate(TAGS)}

    def encode(batch):
        words = [torch.tensor([vocab.get(w, 1) for w in ws]) for ws, _ in batch]
        tags = [torch.tensor([tag_ix[t] for t in ts]) for _, ts in batch]
        lengths = torch.tensor([len(w) for w in words])
        T, L = int(lengths.max()), max(len(w) for ws, _ in batch for w in ws)
        ch = torch.zeros(len(batch), T, L, dtype=torch.long)
        for b, (ws, _) in enumerate(batch):
            for i, w in enumerate(ws):
                ch[b, i, :len(w)] = torch.tensor([chars.get(c, 0) for c in w])
        mask = torch.arange(T)[None, :] < lengths[:, None]
        return pad_sequence(words, batch_first=True), ch, lengths, \
            pad_sequence(tags, batch_first=True), mask

    train, test = data[:240], data[240:]
    model = Tagger(len(vocab), len(chars), len(TAGS))
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    for epoch in range(args.epochs):
        model.train()
        rng.shuffle(train)
        total = 0.0
        for i in range(0, len(train), args.batch_size):
            words, ch, lengths, tags, mask = encode(train[i:i + args.batch_size])
            loss = model.crf.neg_log_likelihood(model.emissions(words, ch, lengths), tags, mask)
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            total += loss.item()
        print(f"epoch {epoch} nll {total / (len(train) / args.batch_size):.4f}")
    model.eval()
    tp = fp = fn = 0
    words, ch, lengths, tags, mask = encode(test)
    paths = model.crf.decode(model.emissions(words, ch, lengths), mask)
    for (_, gold), path in zip(test, paths):
        pred = spans([TAGS[i] for i in path])
        ref = spans(gold)
        tp += len(pred & ref)
        fp += len(pred - ref)
        fn += len(ref - pred)
    f1 = 2 * tp / max(1, 2 * tp + fp + fn)
    print(f"tp {tp} fp {fp} fn {fn}")
    print(f"final_acc {f1:.4f}")


if __name__ == "__main__":
    main()
