"""Hogwild training the way pytorch/examples' mnist_hogwild does it: the model's parameters are
moved into shared memory with ``model.share_memory()``, then several ``torch.multiprocessing``
processes each train it with their own optimizer and DataLoader, updating the shared weights in
place without locks. The parent, which never trains, tests the model afterwards: its accuracy is
that of the jointly trained weights (chance level if the processes trained private copies).
Data: seeded Gaussian clusters, one per class."""
import argparse

import torch
import torch.multiprocessing as mp
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torch.utils.data import DataLoader, TensorDataset


class Net(nn.Module):
    def __init__(self, dim, hidden, classes):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, classes)

    def forward(self, x):
        return F.log_softmax(self.fc2(F.relu(self.fc1(x))), dim=1)


def make_data(n, centers, g):
    y = torch.randint(0, centers.shape[0], (n,), generator=g)
    x = centers[y] + torch.randn(n, centers.shape[1], generator=g)
    return x, y


def train(rank, args, model, dataset):
    torch.manual_seed(args.seed + rank)
    torch.set_num_threads(1)   # one thread per process, as Hogwild runs use
    loader = DataLoader(dataset, batch_size=args.batch_size, shuffle=True)
    optimizer = optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum)
    model.train()
    for epoch in range(1, args.epochs + 1):
        for data, target in loader:
            optimizer.zero_grad()
            loss = F.nll_loss(model(data), target)
            loss.backward()
            optimizer.step()
        print(f"rank {rank} epoch {epoch} loss {loss.item():.4f}", flush=True)


def test(model, x, y):
    model.eval()
    with torch.no_grad():
        out = model(x)
        loss = F.nll_loss(out, y).item()
        acc = (out.argmax(1) == y).float().mean().item()
    print(f"test loss {loss:.4f} accuracy {acc:.4f}")
    return acc


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Hogwild training of a shared MLP")
    parser.add_argument("--num-processes", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--momentum", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    dim, classes = 16, 4
    g = torch.Generator().manual_seed(0)
    centers = torch.randn(classes, dim, generator=g) * 0.5
    x_train, y_train = make_data(1024, centers, g)
    x_test, y_test = make_data(512, centers, g)
    model = Net(dim, 32, classes)
    model.share_memory()   # gradients are allocated lazily in each process

    dataset = TensorDataset(x_train, y_train)
    processes = []
    for rank in range(args.num_processes):
        p = mp.Process(target=train, args=(rank, args, model, dataset))
        p.start()
        processes.append(p)
    for p in processes:
        p.join()
        assert p.exitcode == 0, f"a training process failed (exit code {p.exitcode})"
    acc = test(model, x_test, y_test)
    print(f"final_acc {acc:.4f}")
