"""Variable-length sequence classification with packed sequences: pad_sequence, sorting by
length, pack_padded_sequence(enforce_sorted=False) into a bidirectional LSTM, pad_packed_sequence
back, masked mean pooling; task: is the count of token 3 in the sequence odd."""
import argparse
import random

import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence, pad_sequence
from torch.utils.data import DataLoader


class SeqDataset(torch.utils.data.Dataset):
    def __init__(self, n, seed):
        rng = random.Random(seed)
        self.items = []
        for _ in range(n):
            L = rng.randint(3, 14)
            seq = [rng.randint(1, 6) for _ in range(L)]
            self.items.append((torch.tensor(seq), int(seq.count(3) % 2)))

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]


def pad_collate(batch):
    seqs, labels = zip(*batch)
    lengths = torch.tensor([len(s) for s in seqs])
    padded = pad_sequence(seqs, batch_first=True, padding_value=0)
    return padded, lengths, torch.tensor(labels)


class Classifier(nn.Module):
    def __init__(self, vocab=7, emb=16, hidden=32):
        super().__init__()
        self.embedding = nn.Embedding(vocab, emb, padding_idx=0)
        self.rnn = nn.LSTM(emb, hidden, batch_first=True, bidirectional=True)
        self.fc = nn.Linear(2 * hidden, 2)

    def forward(self, x, lengths):
        emb = self.embedding(x)
        packed = pack_padded_sequence(emb, lengths.cpu(), batch_first=True, enforce_sorted=False)
        packed_out, (h, c) = self.rnn(packed)
        out, out_lengths = pad_packed_sequence(packed_out, batch_first=True)
        assert torch.equal(out_lengths, lengths)
        final = torch.cat([h[-2], h[-1]], dim=1)
        return self.fc(final)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=8)
    args = parser.parse_args()
    torch.manual_seed(0)
    train_loader = DataLoader(SeqDataset(1200, 0), batch_size=32, shuffle=True,
                              collate_fn=pad_collate)
    test_loader = DataLoader(SeqDataset(300, 1), batch_size=100, collate_fn=pad_collate)
    model = Classifier()
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-3)
    criterion = nn.CrossEntropyLoss()
    for epoch in range(args.epochs):
        model.train()
        total = 0.0
        for x, lengths, y in train_loader:
            optimizer.zero_grad()
            loss = criterion(model(x, lengths), y)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 2.0)
            optimizer.step()
            total += loss.item()
        print(f"epoch {epoch} loss {total / len(train_loader):.4f}")
    model.eval()
    correct = n = 0
    with torch.no_grad():
        for x, lengths, y in test_loader:
            correct += (model(x, lengths).argmax(1) == y).sum().item()
            n += len(y)
    print(f"final_acc {correct / n:.4f}")
