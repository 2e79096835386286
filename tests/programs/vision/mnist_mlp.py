"""MNIST classifier with a multi-layer perceptron, in the style of the classic PyTorch MNIST
tutorials. The idx files are generated (ten digit-like stroke templates, shifted and noisy)
and written in the official layout, so the program runs offline."""
import json
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader
from torchvision import datasets, transforms


def write_idx(path, array):
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big")
                                                     for d in array.shape)
    with open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def make_mnist(root, n_train=800, n_test=200, seed=0):
    rs = np.random.RandomState(seed)
    templates = np.zeros((10, 28, 28))
    for c in range(10):  # a few random strokes per class
        for _ in range(4):
            r0, c0 = rs.randint(6, 22, 2)
            if rs.rand() < 0.5:
                templates[c, r0:r0 + 2, max(c0 - 6, 0):c0 + 6] = 255
            else:
                templates[c, max(r0 - 6, 0):r0 + 6, c0:c0 + 2] = 255
    raw = os.path.join(root, "MNIST", "raw")
    os.makedirs(raw, exist_ok=True)
    for split, n in (("train", n_train), ("t10k", n_test)):
        labels = rs.randint(0, 10, n)
        imgs = np.stack([np.roll(templates[y], rs.randint(-2, 3, 2), axis=(0, 1)) for y in labels])
        imgs = imgs * rs.uniform(0.6, 1.0, (n, 1, 1)) + rs.normal(0, 110, imgs.shape)
        imgs = np.clip(imgs, 0, 255)
        write_idx(os.path.join(raw, f"{split}-images-idx3-ubyte"), imgs)
        write_idx(os.path.join(raw, f"{split}-labels-idx1-ubyte"), labels)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(28 * 28, 128)
        self.fc2 = nn.Linear(128, 64)
        self.fc3 = nn.Linear(64, 10)

    def forward(self, x):
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return F.log_softmax(self.fc3(x), dim=1)


def main():
    torch.manual_seed(0)
    make_mnist("data")
    transform = transforms.Compose([transforms.ToTensor(),
                                    transforms.Normalize((0.1307,), (0.3081,))])
    train_set = datasets.MNIST("data", train=True, download=True, transform=transform)
    test_set = datasets.MNIST("data", train=False, transform=transform)
    train_loader = DataLoader(train_set, batch_size=64, shuffle=True)
    test_loader = DataLoader(test_set, batch_size=100)
    model = Net()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    for epoch in range(1, 4):
        model.train()
        for batch_idx, (data, target) in enumerate(train_loader):
            optimizer.zero_grad()
            loss = F.nll_loss(model(data), target)
            loss.backward()
            optimizer.step()
        print(f"Train Epoch: {epoch} loss: {loss.item():.4f}")
    model.eval()
    test_loss, correct = 0.0, 0
    with torch.no_grad():
        for data, target in test_loader:
            output = model(data)
            test_loss += F.nll_loss(output, target, reduction="sum").item()
            correct += output.argmax(dim=1).eq(target).sum().item()
    test_loss /= len(test_set)
    accuracy = correct / len(test_set)
    print(f"Test set: Average loss: {test_loss:.4f}, Accuracy: {correct}/{len(test_set)}")
    print("OUTCOME " + json.dumps({"accuracy": accuracy, "test_loss": test_loss}))


if __name__ == "__main__":
    main()
