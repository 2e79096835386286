"""FashionMNIST CNN (pytorch/examples/mnist style: two convolutions, max pooling, dropout,
Adam with StepLR), with light augmentation. The idx files are generated offline: ten
garment-like silhouettes (filled shapes), gzipped as on the mirrors and unpacked next to the
archives, as torchvision's download step leaves them."""
import gzip
import json
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torch.optim.lr_scheduler import StepLR
from torchvision import datasets, transforms


def write_idx_gz(path, array):
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big")
                                                     for d in array.shape)
    with gzip.open(path + ".gz", "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())
    with gzip.open(path + ".gz", "rb") as f, open(path, "wb") as out:
        out.write(f.read())


def make_fashion(root, n_train=600, n_test=200, seed=1):
    rs = np.random.RandomState(seed)
    yy, xx = np.mgrid[0:28, 0:28]
    shapes = []
    for c in range(10):
        cy, cx = 14 + rs.randint(-3, 4), 14 + rs.randint(-3, 4)
        ry, rx = rs.randint(4, 12), rs.randint(4, 12)
        p = rs.choice([1.0, 2.0, 4.0])
        shapes.append((np.abs((yy - cy) / ry) ** p + np.abs((xx - cx) / rx) ** p <= 1) * 220.0)
    shapes = np.stack(shapes)
    raw = os.path.join(root, "FashionMNIST", "raw")
    os.makedirs(raw, exist_ok=True)
    for split, n in (("train", n_train), ("t10k", n_test)):
        labels = rs.randint(0, 10, n)
        imgs = np.clip(shapes[labels] + rs.normal(0, 90, (n, 28, 28)), 0, 255)
        write_idx_gz(os.path.join(raw, f"{split}-images-idx3-ubyte"), imgs)
        write_idx_gz(os.path.join(raw, f"{split}-labels-idx1-ubyte"), labels)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, 1)
        self.conv2 = nn.Conv2d(8, 16, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(576, 64)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = F.max_pool2d(x, 2)
        x = self.dropout1(torch.flatten(x, 1))
        x = self.dropout2(F.relu(self.fc1(x)))
        return F.log_softmax(self.fc2(x), dim=1)


def main():
    torch.manual_seed(1)
    make_fashion("data")
    train_tf = transforms.Compose([transforms.RandomRotation(8), transforms.ToTensor(),
                                   transforms.Normalize((0.2860,), (0.3530,))])
    test_tf = transforms.Compose([transforms.ToTensor(),
                                  transforms.Normalize((0.2860,), (0.3530,))])
    train_set = datasets.FashionMNIST("data", train=True, transform=train_tf)
    test_set = datasets.FashionMNIST("data", train=False, transform=test_tf)
    train_loader = torch.utils.data.DataLoader(train_set, batch_size=50, shuffle=True)
    test_loader = torch.utils.data.DataLoader(test_set, batch_size=100)
    model = Net()
    optimizer = optim.Adam(model.parameters(), lr=2e-3)
    scheduler = StepLR(optimizer, step_size=1, gamma=0.7)
    for epoch in range(1, 4):
        model.train()
        for data, target in train_loader:
            optimizer.zero_grad()
            loss = F.nll_loss(model(data), target)
            loss.backward()
            optimizer.step()
        scheduler.step()
        print(f"epoch {epoch} loss {loss.item():.4f}")
    model.eval()
    test_loss, correct = 0.0, 0
    with torch.no_grad():
        for data, target in test_loader:
            output = model(data)
            test_loss += F.nll_loss(output, target, reduction="sum").item()
            correct += output.argmax(dim=1, keepdim=True).eq(target.view_as(
                output.argmax(dim=1, keepdim=True))).sum().item()
    print("OUTCOME " + json.dumps({"accuracy": correct / len(test_set),
                                   "test_loss": test_loss / len(test_set)}))


if __name__ == "__main__":
    main()
