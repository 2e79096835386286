"""torch.utils.data machinery the way training scripts combine it: a map-style Dataset with
a custom collate_fn returning a dict, TensorDataset, ConcatDataset, Subset, random_split with a
seeded torch.Generator, WeightedRandomSampler for class imbalance (weights from
torch.bincount), BatchSampler/SequentialSampler, DataLoader(num_workers=2,
persistent_workers, worker_init_fn, drop_last=True), default_collate, printing of tensors with
f-strings and torch.set_printoptions, then a small classifier trained on the imbalanced
data and evaluated with balanced accuracy."""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import (BatchSampler, ConcatDataset, DataLoader, Dataset,
                              SequentialSampler, Subset, TensorDataset, WeightedRandomSampler,
                              default_collate, random_split)


class PointsDataset(Dataset):
    """Gaussian blobs with a 8:2:1 class imbalance; items are (features, label, index)."""

    def __init__(self, n, seed):
        rs = np.random.RandomState(seed)
        counts = [n * 8 // 11, n * 2 // 11, n - n * 8 // 11 - n * 2 // 11]
        centers = torch.tensor([[0.0, 0.0], [2.0, 1.5], [-1.5, 2.0]])
        xs, ys = [], []
        for c, k in enumerate(counts):
            xs.append(centers[c] + 0.8 * torch.from_numpy(rs.randn(k, 2)).float())
            ys.append(torch.full((k,), c, dtype=torch.long))
        self.x = torch.cat(xs)
        self.y = torch.cat(ys)

    def __len__(self):
        return len(self.y)

    def __getitem__(self, idx):
        return self.x[idx], self.y[idx], idx


def collate_fn(batch):
    feats, labels, idx = zip(*batch)
    return {"x": torch.stack(feats), "y": torch.tensor(labels), "idx": list(idx)}


def seed_worker(worker_id):
    worker_seed = torch.initial_seed() % 2 ** 32
    np.random.seed(worker_seed)


def balanced_accuracy(pred, y, num_classes=3):
    recalls = []
    for c in range(num_classes):
        m = y == c
        recalls.append((pred[m] == c).float().mean())
    return torch.stack(recalls).mean().item()


def main():
    torch.manual_seed(0)
    torch.set_printoptions(precision=3, sci_mode=False)
    full = PointsDataset(2200, seed=1)
    extra = TensorDataset(torch.from_numpy(np.random.RandomState(2).randn(50, 2)).float() * 0.8
                          + torch.tensor([-1.5, 2.0]),
                          torch.full((50,), 2, dtype=torch.long), torch.arange(50))
    data = ConcatDataset([full, extra])
    print(f"dataset sizes {[len(d) for d in data.datasets]} cumulative {data.cumulative_sizes}")
    generator = torch.Generator().manual_seed(42)
    train_set, val_set, test_set = random_split(data, [0.7, 0.15, 0.15], generator=generator)
    print(f"split sizes {len(train_set)} {len(val_set)} {len(test_set)}")
    first = default_collate([data[i][:2] for i in range(3)])
    print("default_collate:", first[0].shape, first[1])

    train_labels = torch.tensor([int(data[i][1]) for i in train_set.indices])
    class_count = torch.bincount(train_labels, minlength=3)
    print(f"class counts {class_count}")
    class_weights = 1.0 / class_count.float()
    sample_weights = class_weights[train_labels]
    sampler = WeightedRandomSampler(sample_weights, num_samples=len(sample_weights),
                                    replacement=True, generator=torch.Generator().manual_seed(0))
    train_loader = DataLoader(train_set, batch_size=32, sampler=sampler, drop_last=True,
                              collate_fn=collate_fn, num_workers=2, worker_init_fn=seed_worker,
                              persistent_workers=True)
    val_loader = DataLoader(val_set, batch_size=64, shuffle=False, collate_fn=collate_fn)
    seen = torch.zeros(3, dtype=torch.long)
    for batch in train_loader:
        seen += torch.bincount(batch["y"], minlength=3)
    print(f"one epoch of the weighted sampler sees {seen.tolist()} "
          f"({len(train_loader)} batches, drop_last)")
    assert seen.sum().item() == len(train_loader) * 32

    model = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 3))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for epoch in range(8):
        model.train()
        running = 0.0
        for i, batch in enumerate(train_loader):
            out = model(batch["x"])
            loss = F.cross_entropy(out, batch["y"])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            running += loss.item()
        model.eval()
        with torch.no_grad():
            preds, ys = [], []
            for batch in val_loader:
                preds.append(model(batch["x"]).argmax(1))
                ys.append(batch["y"])
            bacc = balanced_accuracy(torch.cat(preds), torch.cat(ys))
        print(f"epoch {epoch}: loss {running / (i + 1):.4f} val balanced acc {bacc:.3f}")

    # a fixed subset evaluated in index order through an explicit BatchSampler
    subset = Subset(test_set, list(range(0, len(test_set))))
    batches = BatchSampler(SequentialSampler(subset), batch_size=40, drop_last=False)
    loader = DataLoader(subset, batch_sampler=batches, collate_fn=collate_fn)
    preds, ys = [], []
    with torch.no_grad():
        for batch in loader:
            logits = model(batch["x"])
            preds.append(logits.argmax(1))
            ys.append(batch["y"])
    probs = F.softmax(logits[:4], dim=1)
    print(f"last batch probabilities:\n{probs}")
    confusion = torch.bincount(torch.cat(ys) * 3 + torch.cat(preds), minlength=9).view(3, 3)
    print("confusion:\n", confusion)
    torch.set_printoptions(profile="default")
    print(f"final_acc {balanced_accuracy(torch.cat(preds), torch.cat(ys)):.4f}")


if __name__ == "__main__":
    main()
