"""A tabular training script built on torch.utils.data's composition tools and nn.Module
bookkeeping (Kaggle-notebook style): rows streamed from CSV text by an `IterableDataset`
(`num_workers=0`) and `ChainDataset`, a map-style Dataset returning dicts, `ConcatDataset`,
`Subset`, `random_split` with a seeded Generator, `StackDataset`, `WeightedRandomSampler` for
the rare class, `BatchSampler(drop_last=True)` as a DataLoader `batch_sampler`,
`default_collate` on dicts/namedtuples; a model with `register_buffer` feature statistics
(persistent and not), `named_buffers`, `get_submodule`, a `state_dict` round trip through
`torch.save(io.BytesIO)`, `load_state_dict(strict=False)` missing/unexpected keys,
`@torch.no_grad()` / `@torch.inference_mode()` decorated helpers, `torch.enable_grad()`
inside no_grad, `torch.set_grad_enabled(False)`, and tensor printing
(`torch.set_printoptions(precision=3)` reprs checked against literals). Metric: balanced test
accuracy."""
import argparse
import collections
import csv
import io
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import (BatchSampler, ChainDataset, ConcatDataset, DataLoader, Dataset,
                              IterableDataset, StackDataset, Subset, WeightedRandomSampler,
                              default_collate, random_split)

Row = collections.namedtuple("Row", ["x", "y"])


def make_csv(rs, n):
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["f0", "f1", "f2", "f3", "label"])
    for _ in range(n):
        f = rs.randn(4) * [1.0, 2.0, 0.5, 3.0] + [0.0, 1.0, -1.0, 5.0]
        score = f[0] - 0.5 * f[1] + 2 * f[2] + 0.2 * f[3] + 0.3 * rs.randn()
        label = int(score > 1.2)
        w.writerow([f"{v:.5f}" for v in f] + [label])
    return buf.getvalue()


class CsvStream(IterableDataset):
    def __init__(self, text):
        self.text = text

    def __iter__(self):
        reader = csv.DictReader(io.StringIO(self.text))
        for rec in reader:
            x = torch.tensor([float(rec[f"f{i}"]) for i in range(4)])
            yield Row(x, int(rec["label"]))


class DictDataset(Dataset):
    def __init__(self, rows):
        self.rows = rows

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, i):
        r = self.rows[i]
        return {"x": r.x, "y": torch.tensor(r.y)}


class Net(nn.Module):
    def __init__(self, mean, std):
        super().__init__()
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)
        self.register_buffer("calls", torch.zeros((), dtype=torch.long), persistent=False)
        self.body = nn.Sequential(collections.OrderedDict([
            ("fc1", nn.Linear(4, 32)), ("act", nn.ReLU()), ("drop", nn.Dropout(0.1)),
            ("fc2", nn.Linear(32, 2))]))

    def forward(self, x):
        self.calls += 1
        return self.body((x - self.mean) / self.std)


@torch.no_grad()
def evaluate(model, loader):
    model.eval()
    preds, ys = [], []
    for batch in loader:
        preds.append(model(batch["x"]).argmax(1))
        ys.append(batch["y"])
        with torch.enable_grad():
            assert torch.is_grad_enabled()
    pred, y = torch.cat(preds), torch.cat(ys)
    recalls = [(pred[y == c] == c).float().mean().item() for c in (0, 1)]
    return sum(recalls) / 2


@torch.inference_mode()
def predict_proba(model, x):
    return F.softmax(model(x), dim=1)


def printing_checks():
    torch.set_printoptions(precision=3)
    t = torch.tensor([[1.0, -2.5, 3.14159], [0.001, 100.0, -0.5]])
    assert str(t) == ("tensor([[ 1.000e+00, -2.500e+00,  3.142e+00],\n"
                      "        [ 1.000e-03,  1.000e+02, -5.000e-01]])"), str(t)
    assert repr(torch.arange(5)) == "tensor([0, 1, 2, 3, 4])"
    assert repr(torch.tensor([1.5, 2.25], dtype=torch.float64)) == \
        "tensor([1.500, 2.250], dtype=torch.float64)"
    assert repr(torch.tensor([True, False])) == "tensor([ True, False])"
    assert repr(torch.zeros(2, 0)) == "tensor([], size=(2, 0))"
    assert repr(torch.tensor(2.5, requires_grad=True)) == "tensor(2.500, requires_grad=True)"
    torch.set_printoptions(profile="default")
    assert repr(torch.tensor([0.1, 0.25])) == "tensor([0.1000, 0.2500])"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    torch.manual_seed(args.seed)
    printing_checks()
    rs = np.random.RandomState(5)
    stream = ChainDataset([CsvStream(make_csv(rs, 300)), CsvStream(make_csv(rs, 300))])
    rows = list(DataLoader(stream, batch_size=None, num_workers=0))
    assert len(rows) == 600 and isinstance(rows[0], Row)
    batch = default_collate(rows[:4])
    assert isinstance(batch, Row) and batch.x.shape == (4, 4) and batch.y.tolist() == \
        [r.y for r in rows[:4]]

    full = ConcatDataset([DictDataset(rows[:300]), DictDataset(rows[300:])])
    train_set, val_set, test_set = random_split(full, [0.6, 0.2, 0.2],
                                                generator=torch.Generator().manual_seed(42))
    assert (len(train_set), len(val_set), len(test_set)) == (360, 120, 120)
    pos = sum(int(full[i]["y"]) for i in train_set.indices)
    print(f"train positives {pos}/{len(train_set)}")
    labels = torch.tensor([int(full[i]["y"]) for i in train_set.indices])
    class_w = 1.0 / torch.bincount(labels).double()
    sampler = WeightedRandomSampler(class_w[labels], num_samples=len(labels), replacement=True)
    train_loader = DataLoader(train_set, batch_sampler=BatchSampler(sampler, 32,
                                                                    drop_last=True))
    assert len(train_loader) == len(labels) // 32
    test_loader = DataLoader(test_set, batch_size=64)
    small = Subset(val_set, range(0, 40))
    pairs = StackDataset(small, torch.arange(len(small)))
    assert pairs[3][1].item() == 3 and torch.equal(pairs[3][0]["x"], small[3]["x"])

    xs = torch.stack([full[i]["x"] for i in train_set.indices])
    model = Net(xs.mean(0), xs.std(0))
    print([name for name, _ in model.named_buffers()])
    assert model.get_submodule("body.fc2").out_features == 2
    assert "calls" not in model.state_dict()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for epoch in range(args.epochs):
        model.train()
        for batch in train_loader:
            loss = F.cross_entropy(model(batch["x"]), batch["y"])
            opt.zero_grad()
            loss.backward()
            opt.step()
    bal = evaluate(model, test_loader)
    print(f"balanced accuracy {bal:.4f} after {model.calls.item()} forward calls")

    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    buf.seek(0)
    state = torch.load(buf)
    clone = Net(torch.zeros(4), torch.ones(4))
    state["extra.weight"] = torch.ones(1)
    del state["body.fc2.bias"]
    result = clone.load_state_dict(state, strict=False)
    assert result.missing_keys == ["body.fc2.bias"], result
    assert result.unexpected_keys == ["extra.weight"], result
    with torch.no_grad():
        clone.body.fc2.bias.copy_(model.body.fc2.bias)
    clone.eval()
    x = torch.stack([test_set[i]["x"] for i in range(8)])
    torch.testing.assert_close(predict_proba(clone, x), predict_proba(model, x))
    with torch.set_grad_enabled(False):
        assert not clone(x).requires_grad
    assert math.isfinite(bal)
    print(f"final_acc {bal:.4f}")


if __name__ == "__main__":
    main()
