"""Sequence-to-sequence with attention on a toy transduction task (reverse a digit string and
add one to every digit), the way the NLP-from-scratch tutorials and Bentrevett's notebooks
write it: variable-length sources padded with pad_sequence, a bidirectional `nn.GRU` encoder
over `pack_padded_sequence(enforce_sorted=False)` whose final forward/backward states are
concatenated and projected (tanh) to the decoder's initial state, a `nn.GRUCell` decoder with
dot-product attention masked by source length (`masked_fill` with -inf), teacher forcing chosen
per batch with `random.random()`, greedy decoding, `pack_sequence` / `unpad_sequence` /
`PackedSequence` attribute checks, and sequence accuracy on held-out strings."""
import argparse
import random

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import (PackedSequence, pack_padded_sequence, pack_sequence,
                                pad_packed_sequence, pad_sequence, unpad_sequence)

PAD, SOS, EOS = 0, 1, 2
NUM_TOKENS = 13  # 3 specials + 10 digits


def make_pair(rng):
    n = rng.randint(3, 8)
    digits = [rng.randint(0, 9) for _ in range(n)]
    src = [d + 3 for d in digits]
    tgt = [(d + 1) % 10 + 3 for d in reversed(digits)] + [EOS]
    return torch.tensor(src), torch.tensor(tgt)


def batches(pairs, batch_size, shuffle):
    order = list(range(len(pairs)))
    if shuffle:
        random.shuffle(order)
    for i in range(0, len(order), batch_size):
        chunk = [pairs[j] for j in order[i:i + batch_size]]
        srcs, tgts = zip(*chunk)
        lengths = torch.tensor([len(s) for s in srcs])
        yield (pad_sequence(srcs, batch_first=True, padding_value=PAD), lengths,
               pad_sequence(tgts, batch_first=True, padding_value=PAD))


class Encoder(nn.Module):
    def __init__(self, vocab, emb, hid, dec_hid):
        super().__init__()
        self.embedding = nn.Embedding(vocab, emb, padding_idx=PAD)
        self.rnn = nn.GRU(emb, hid, batch_first=True, bidirectional=True)
        self.fc = nn.Linear(2 * hid, dec_hid)

    def forward(self, src, lengths):
        packed = pack_padded_sequence(self.embedding(src), lengths, batch_first=True,
                                      enforce_sorted=False)
        out, hidden = self.rnn(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=src.size(1))
        hidden = torch.tanh(self.fc(torch.cat((hidden[-2], hidden[-1]), dim=1)))
        return out, hidden


class AttnDecoder(nn.Module):
    def __init__(self, vocab, emb, enc_out, hid):
        super().__init__()
        self.embedding = nn.Embedding(vocab, emb, padding_idx=PAD)
        self.key = nn.Linear(enc_out, hid, bias=False)
        self.cell = nn.GRUCell(emb + enc_out, hid)
        self.out = nn.Linear(hid + enc_out + emb, vocab)

    def forward(self, token, hidden, enc_out, keys, mask):
        emb = self.embedding(token)
        scores = torch.bmm(keys, hidden.unsqueeze(2)).squeeze(2)
        scores = scores.masked_fill(~mask, float("-inf"))
        attn = F.softmax(scores, dim=1)
        context = torch.bmm(attn.unsqueeze(1), enc_out).squeeze(1)
        hidden = self.cell(torch.cat([emb, context], dim=1), hidden)
        return self.out(torch.cat([hidden, context, emb], dim=1)), hidden, attn


class Seq2Seq(nn.Module):
    def __init__(self, emb=16, hid=32):
        super().__init__()
        self.encoder = Encoder(NUM_TOKENS, emb, hid, hid)
        self.decoder = AttnDecoder(NUM_TOKENS, emb, 2 * hid, hid)

    def forward(self, src, lengths, tgt=None, teacher_forcing=0.5, max_len=10):
        enc_out, hidden = self.encoder(src, lengths)
        keys = self.decoder.key(enc_out)
        mask = torch.arange(src.size(1)).unsqueeze(0) < lengths.unsqueeze(1)
        steps = tgt.size(1) if tgt is not None else max_len
        token = torch.full((src.size(0),), SOS, dtype=torch.long)
        outputs = []
        use_tf = tgt is not None and random.random() < teacher_forcing
        for t in range(steps):
            logits, hidden, _ = self.decoder(token, hidden, enc_out, keys, mask)
            outputs.append(logits)
            token = tgt[:, t] if use_tf else logits.argmax(1)
        return torch.stack(outputs, dim=1)


def sequence_accuracy(model, pairs):
    model.eval()
    correct = 0
    with torch.no_grad():
        for src, lengths, tgt in batches(pairs, 100, shuffle=False):
            pred = model(src, lengths, max_len=tgt.size(1)).argmax(-1)
            ok = ((pred == tgt) | (tgt == PAD)).all(dim=1)
            correct += ok.sum().item()
    return correct / len(pairs)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    rng = random.Random(7)
    train = [make_pair(rng) for _ in range(600)]
    test = [make_pair(rng) for _ in range(200)]

    # the rnn utilities on a few sequences
    seqs = [torch.tensor([3, 4, 5]), torch.tensor([6, 7]), torch.tensor([8, 9, 10, 11])]
    packed = pack_sequence(seqs, enforce_sorted=False)
    assert isinstance(packed, PackedSequence)
    print("batch_sizes", packed.batch_sizes.tolist(), "sorted", packed.sorted_indices.tolist(),
          "unsorted", packed.unsorted_indices.tolist())
    padded, lens = pad_packed_sequence(packed, batch_first=True)
    back = unpad_sequence(padded, lens, batch_first=True)
    assert all(torch.equal(a, b) for a, b in zip(seqs, back))

    model = Seq2Seq()
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-2)
    criterion = nn.CrossEntropyLoss(ignore_index=PAD)
    for epoch in range(1, args.epochs + 1):
        model.train()
        total = 0.0
        n = 0
        for src, lengths, tgt in batches(train, args.batch_size, shuffle=True):
            optimizer.zero_grad()
            logits = model(src, lengths, tgt, teacher_forcing=0.75)
            loss = criterion(logits.reshape(-1, NUM_TOKENS), tgt.reshape(-1))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            total += loss.item()
            n += 1
        if epoch % 4 == 0:
            print(f"epoch {epoch} loss {total / n:.4f} "
                  f"test seq acc {sequence_accuracy(model, test):.3f}")
    acc = sequence_accuracy(model, test)
    src, tgt = test[0]
    pred = model(src.unsqueeze(0), torch.tensor([len(src)]), max_len=len(tgt)).argmax(-1)[0]
    print("src", (src - 3).tolist(), "->", (pred[:-1] - 3).tolist())
    print(f"final_acc {acc:.4f}")


if __name__ == "__main__":
    main()
