"""CTC "speech" recogniser (DeepSpeech-style) on synthetic spectrogram-like sequences: each
utterance is a variable-length run of per-character frame templates plus noise. Conv1d front
end with stride, bidirectional GRU, Linear to characters + blank, F.log_softmax transposed to
(T, N, C) for nn.CTCLoss with per-utterance input/target lengths, greedy CTC decoding
(collapse repeats, drop blanks) after folding the BatchNorm into the conv with
nn.utils.fuse_conv_bn_eval, and character error rate by edit distance."""
import argparse

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

ALPHABET = "_abcdefgh"   # index 0 is the CTC blank
FEATS = 16


class SyntheticSpeech(Dataset):
    def __init__(self, n, seed):
        rs = np.random.RandomState(seed)
        self.templates = np.random.RandomState(123).normal(0, 1, (len(ALPHABET), FEATS))
        self.items = []
        for _ in range(n):
            text = rs.randint(1, len(ALPHABET), rs.randint(2, 6))
            frames = []
            for c in text:
                frames += [self.templates[c]] * rs.randint(3, 6)
                frames += [np.zeros(FEATS)] * rs.randint(0, 2)
            x = np.stack(frames) + rs.normal(0, 0.5, (len(frames), FEATS))
            self.items.append((x.astype(np.float32), text))

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        x, text = self.items[i]
        return torch.from_numpy(x), torch.as_tensor(text, dtype=torch.long)


def collate(batch):
    feats, texts = zip(*batch)
    in_lens = torch.tensor([f.shape[0] for f in feats])
    tgt_lens = torch.tensor([len(t) for t in texts])
    x = nn.utils.rnn.pad_sequence(feats, batch_first=True)          # (N, T, F)
    return x, in_lens, torch.cat(texts), tgt_lens


class SpeechModel(nn.Module):
    def __init__(self, hidden=32, n_class=len(ALPHABET)):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv1d(FEATS, hidden, 5, stride=2, padding=2),
                                  nn.BatchNorm1d(hidden), nn.GELU())
        self.rnn = nn.GRU(hidden, hidden, num_layers=2, bidirectional=True, batch_first=True,
                          dropout=0.1)
        self.fc = nn.Linear(2 * hidden, n_class)

    def forward(self, x, lengths):
        x = self.conv(x.transpose(1, 2)).transpose(1, 2)
        lengths = (lengths + 2 * 2 - 5) // 2 + 1
        x = nn.utils.rnn.pack_padded_sequence(x, lengths.cpu(), batch_first=True,
                                              enforce_sorted=False)
        x, _ = self.rnn(x)
        x, _ = nn.utils.rnn.pad_packed_sequence(x, batch_first=True)
        return self.fc(x), lengths


def greedy_decode(logits, lengths):
    best = logits.argmax(-1)
    out = []
    for seq, n in zip(best, lengths):
        prev, chars = 0, []
        for c in seq[:n].tolist():
            if c != prev and c != 0:
                chars.append(c)
            prev = c
        out.append(chars)
    return out


def edit_distance(a, b):
    d = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, d[0] = d[0], i
        for j, cb in enumerate(b, 1):
            prev, d[j] = d[j], min(d[j] + 1, d[j - 1] + 1, prev + (ca != cb))
    return d[len(b)]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=8)
    args = p.parse_args()
    torch.manual_seed(0)
    train_dl = DataLoader(SyntheticSpeech(160, 0), batch_size=32, shuffle=True,
                          collate_fn=collate)
    test_ds = SyntheticSpeech(48, 1)
    model = SpeechModel()
    ctc = nn.CTCLoss(blank=0, zero_infinity=True)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=6e-3, epochs=args.epochs,
                                                steps_per_epoch=len(train_dl))
    for epoch in range(args.epochs):
        model.train()
        total = 0.0
        for x, in_lens, targets, tgt_lens in train_dl:
            logits, out_lens = model(x, in_lens)
            log_probs = F.log_softmax(logits, dim=-1).transpose(0, 1)   # (T, N, C)
            loss = ctc(log_probs, targets, out_lens, tgt_lens)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            total += loss.item()
        print(f"epoch {epoch} ctc {total / len(train_dl):.4f}")
    model.eval()
    x, in_lens, targets, tgt_lens = collate([test_ds[i] for i in range(len(test_ds))])
    with torch.no_grad():
        reference, _ = model(x, in_lens)
        # inference export: fold the front end's BatchNorm1d into its Conv1d
        model.conv[0] = nn.utils.fuse_conv_bn_eval(model.conv[0], model.conv[1])
        model.conv[1] = nn.Identity()
        logits, out_lens = model(x, in_lens)
    assert torch.allclose(logits, reference, atol=1e-4), (logits - reference).abs().max()
    hyps = greedy_decode(logits, out_lens)
    refs = torch.split(targets, tgt_lens.tolist())
    errors = sum(edit_distance(h, r.tolist()) for h, r in zip(hyps, refs))
    cer = errors / tgt_lens.sum().item()
    print("example:", "".join(ALPHABET[c] for c in hyps[0]), "vs",
          "".join(ALPHABET[c] for c in refs[0].tolist()))
    print(f"final_acc {1 - cer:.4f}")


if __name__ == "__main__":
    main()
