"""Deep Knowledge Tracing (Piech et al. 2015) as the open-source DKT repos write it: student
interaction sequences (skill id, correct) encoded as `skill + correct * num_skills`, padded per
batch with `pad_sequence(batch_first=True, padding_value=-1)`, an nn.Embedding (or one-hot)
of the interactions into an LSTM, the next question's logit picked from the per-skill output
with `torch.gather`, a padding mask with `masked_select`, `BCEWithLogitsLoss`, and AUC computed
from the predictions by ranks; simulated students follow a hidden mastery model."""
import argparse

import numpy as np
import torch
import torch.nn as nn
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import DataLoader, Dataset


def simulate_students(n_students, num_skills, rng):
    difficulty = rng.randn(num_skills)
    students = []
    for _ in range(n_students):
        ability = rng.randn(num_skills) * 0.5 + rng.randn() * 0.8
        length = rng.randint(10, 40)
        skills, correct = [], []
        for _ in range(length):
            s = rng.randint(num_skills)
            p = 1 / (1 + np.exp(-(ability[s] - difficulty[s])))
            c = int(rng.rand() < p)
            ability[s] += 0.3   # practice helps
            skills.append(s)
            correct.append(c)
        students.append((skills, correct))
    return students


class DKTDataset(Dataset):
    def __init__(self, students, num_skills):
        self.students = students
        self.num_skills = num_skills

    def __len__(self):
        return len(self.students)

    def __getitem__(self, idx):
        skills, correct = self.students[idx]
        skills = torch.tensor(skills, dtype=torch.long)
        correct = torch.tensor(correct, dtype=torch.long)
        interaction = skills[:-1] + correct[:-1] * self.num_skills
        return interaction, skills[1:], correct[1:].float()


def collate(batch):
    inter, nxt, lab = zip(*batch)
    return (pad_sequence(inter, batch_first=True, padding_value=0),
            pad_sequence(nxt, batch_first=True, padding_value=-1),
            pad_sequence(lab, batch_first=True, padding_value=-1))


class DKT(nn.Module):
    def __init__(self, num_skills, emb_dim=32, hidden=48):
        super(DKT, self).__init__()
        self.num_skills = num_skills
        self.interaction_emb = nn.Embedding(2 * num_skills, emb_dim)
        self.lstm = nn.LSTM(emb_dim, hidden, batch_first=True)
        self.dropout = nn.Dropout(0.2)
        self.out = nn.Linear(hidden, num_skills)

    def forward(self, interaction, next_skill):
        h, _ = self.lstm(self.interaction_emb(interaction))
        logits = self.out(self.dropout(h))                       # (B, T, num_skills)
        idx = next_skill.clamp(min=0).unsqueeze(-1)
        return torch.gather(logits, -1, idx).squeeze(-1)         # (B, T)


def auc_score(y_true, y_score):
    order = np.argsort(y_score, kind="mergesort")
    ranks = np.empty(len(y_score))
    ranks[order] = np.arange(1, len(y_score) + 1)
    pos = y_true == 1
    n_pos, n_neg = pos.sum(), (~pos).sum()
    return (ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def evaluate(model, loader):
    model.eval()
    ys, ps = [], []
    with torch.no_grad():
        for inter, nxt, lab in loader:
            logits = model(inter, nxt)
            mask = nxt >= 0
            ps.append(torch.sigmoid(torch.masked_select(logits, mask)).numpy())
            ys.append(torch.masked_select(lab, mask).numpy())
    return auc_score(np.concatenate(ys), np.concatenate(ps))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--num_skills", type=int, default=12)
    parser.add_argument("--epochs", type=int, default=8)
    args = parser.parse_args()
    rng = np.random.RandomState(0)
    students = simulate_students(500, args.num_skills, rng)
    train = DKTDataset(students[:400], args.num_skills)
    test = DKTDataset(students[400:], args.num_skills)
    torch.manual_seed(0)
    train_loader = DataLoader(train, batch_size=32, shuffle=True, collate_fn=collate)
    test_loader = DataLoader(test, batch_size=100, collate_fn=collate)
    model = DKT(args.num_skills)
    criterion = nn.BCEWithLogitsLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for epoch in range(args.epochs):
        model.train()
        total = 0.0
        for inter, nxt, lab in train_loader:
            logits = model(inter, nxt)
            mask = nxt != -1
            loss = criterion(logits[mask], lab[mask])
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), max_norm=5.0)
            optimizer.step()
            total += loss.item()
        print(f"epoch {epoch} loss {total / len(train_loader):.4f} "
              f"test auc {evaluate(model, test_loader):.4f}")
    print(f"final_auc {evaluate(model, test_loader):.4f}")


if __name__ == "__main__":
    main()
