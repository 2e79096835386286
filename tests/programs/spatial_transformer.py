"""Spatial transformer networks (the official tutorial) on synthetic, randomly shifted and
rotated 28x28 glyphs: a localization net (Conv2d/MaxPool2d/ReLU) regresses a 2x3 affine
matrix (fc_loc's last layer zero-initialised to the identity transform), F.affine_grid +
F.grid_sample warp the input, then a LeNet head with Dropout2d / F.dropout classifies it;
F.nll_loss on log_softmax, SGD, test accuracy and a check that the identity theta reproduces
the input."""
import argparse
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torch.utils.data import DataLoader, TensorDataset

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")


def glyphs(n, rng):
    """Ten glyph classes (bars / boxes / crosses), randomly rotated and shifted."""
    base = np.zeros((10, 28, 28), np.float32)
    for k in range(10):
        a = 6 + (k % 5) * 3
        if k < 5:
            base[k, 8:20, a - 1:a + 2] = 1
            base[k, a - 1:a + 2, 8:20] = 1
        else:
            base[k, 8:20, 8:20] = 1
            base[k, 10:18, 10:18] = 0
            base[k, a - 1:a + 2, 6:22] = 1
    y = rng.integers(0, 10, n)
    ang = rng.uniform(-0.6, 0.6, n)
    sh = rng.uniform(-0.25, 0.25, (n, 2))
    theta = np.stack([np.stack([np.cos(ang), -np.sin(ang), sh[:, 0]], 1),
                      np.stack([np.sin(ang), np.cos(ang), sh[:, 1]], 1)], 1).astype(np.float32)
    with torch.no_grad():
        src = torch.from_numpy(base[y]).unsqueeze(1)
        grid = F.affine_grid(torch.from_numpy(theta), src.size(), align_corners=False)
        x = F.grid_sample(src, grid, align_corners=False)
    x = x + 0.1 * torch.from_numpy(rng.standard_normal(x.shape).astype(np.float32))
    return x, torch.from_numpy(y)


class Net(nn.Module):
    def __init__(self):
        super(Net, self).__init__()
        self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
        self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
        self.conv2_drop = nn.Dropout2d()
        self.fc1 = nn.Linear(320, 50)
        self.fc2 = nn.Linear(50, 10)
        # Spatial transformer localization-network
        self.localization = nn.Sequential(
            nn.Conv2d(1, 8, kernel_size=7),
            nn.MaxPool2d(2, stride=2),
            nn.ReLU(True),
            nn.Conv2d(8, 10, kernel_size=5),
            nn.MaxPool2d(2, stride=2),
            nn.ReLU(True)
        )
        # Regressor for the 3 * 2 affine matrix
        self.fc_loc = nn.Sequential(
            nn.Linear(10 * 3 * 3, 32),
            nn.ReLU(True),
            nn.Linear(32, 3 * 2)
        )
        self.fc_loc[2].weight.data.zero_()
        self.fc_loc[2].bias.data.copy_(torch.tensor([1, 0, 0, 0, 1, 0], dtype=torch.float))

    def stn(self, x):
        xs = self.localization(x)
        xs = xs.view(-1, 10 * 3 * 3)
        theta = self.fc_loc(xs)
        theta = theta.view(-1, 2, 3)
        grid = F.affine_grid(theta, x.size())
        x = F.grid_sample(x, grid)
        return x

    def forward(self, x):
        x = self.stn(x)
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2_drop(self.conv2(x)), 2))
        x = x.view(-1, 320)
        x = F.relu(self.fc1(x))
        x = F.dropout(x, training=self.training)
        x = self.fc2(x)
        return F.log_softmax(x, dim=1)


def train(model, optimizer, train_loader, epoch):
    model.train()
    for batch_idx, (data, target) in enumerate(train_loader):
        data, target = data.to(device), target.to(device)
        optimizer.zero_grad()
        output = model(data)
        loss = F.nll_loss(output, target)
        loss.backward()
        optimizer.step()
        if batch_idx % 20 == 0:
            print('Train Epoch: {} [{}/{} ({:.0f}%)]\tLoss: {:.6f}'.format(
                epoch, batch_idx * len(data), len(train_loader.dataset),
                100. * batch_idx / len(train_loader), loss.item()))


def test(model, test_loader):
    with torch.no_grad():
        model.eval()
        test_loss = 0
        correct = 0
        for data, target in test_loader:
            data, target = data.to(device), target.to(device)
            output = model(data)
            test_loss += F.nll_loss(output, target, size_average=False).item()
            pred = output.max(1, keepdim=True)[1]
            correct += pred.eq(target.view_as(pred)).sum().item()
        test_loss /= len(test_loader.dataset)
        print('\nTest set: Average loss: {:.4f}, Accuracy: {}/{} ({:.0f}%)\n'
              .format(test_loss, correct, len(test_loader.dataset),
                      100. * correct / len(test_loader.dataset)))
    return correct / len(test_loader.dataset)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=6)
    args = parser.parse_args()
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    xtr, ytr = glyphs(1500, rng)
    xte, yte = glyphs(400, rng)
    train_loader = DataLoader(TensorDataset(xtr, ytr), batch_size=64, shuffle=True, num_workers=0)
    test_loader = DataLoader(TensorDataset(xte, yte), batch_size=64, shuffle=True, num_workers=0)
    model = Net().to(device)
    # the identity transform reproduces its input
    with torch.no_grad():
        ident = model.stn(xte[:4].to(device))
    print("identity stn max err", (ident - xte[:4]).abs().max().item())
    optimizer = optim.SGD(model.parameters(), lr=0.02, momentum=0.9)
    for epoch in range(1, args.epochs + 1):
        train(model, optimizer, train_loader, epoch)
        acc = test(model, test_loader)
    with torch.no_grad():
        warped = model.stn(xte[:16].to(device)).cpu()
    print("warped", tuple(warped.shape), math.isfinite(warped.sum().item()))
    print(f"final_acc {acc:.4f}")
