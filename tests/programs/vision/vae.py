"""Variational auto-encoder on MNIST (pytorch/examples/vae): 784-400-20 encoder, BCE + KL loss,
Adam(1e-3), reconstructions and samples saved with save_image. The idx files are generated
offline (ten stroke templates with noise)."""
import json
import os

import numpy as np
import torch
import torch.utils.data
from torch import nn, optim
from torch.nn import functional as F
from torchvision import datasets, transforms
from torchvision.utils import save_image


def write_idx(path, array):
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big")
                                                     for d in array.shape)
    with open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def make_mnist(root, n_train=512, n_test=128, seed=4):
    rs = np.random.RandomState(seed)
    templates = np.zeros((10, 28, 28))
    for c in range(10):
        for _ in range(3):
            r0, c0 = rs.randint(6, 22, 2)
            templates[c, r0:r0 + 3, max(c0 - 7, 0):c0 + 7] = 255
            templates[c, max(r0 - 7, 0):r0 + 7, c0:c0 + 3] = 255
    raw = os.path.join(root, "MNIST", "raw")
    os.makedirs(raw, exist_ok=True)
    for split, n in (("train", n_train), ("t10k", n_test)):
        labels = rs.randint(0, 10, n)
        imgs = np.stack([np.roll(templates[y], rs.randint(-1, 2, 2), axis=(0, 1)) for y in labels])
        imgs = np.clip(imgs + rs.normal(0, 20, imgs.shape), 0, 255)
        write_idx(os.path.join(raw, f"{split}-images-idx3-ubyte"), imgs)
        write_idx(os.path.join(raw, f"{split}-labels-idx1-ubyte"), labels)


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, 20)
        self.fc22 = nn.Linear(400, 20)
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5 * logvar)
        eps = torch.randn_like(std)
        return mu + eps * std

    def decode(self, z):
        return torch.sigmoid(self.fc4(F.relu(self.fc3(z))))

    def forward(self, x):
        mu, logvar = self.encode(x.view(-1, 784))
        z = self.reparameterize(mu, logvar)
        return self.decode(z), mu, logvar


def loss_function(recon_x, x, mu, logvar):
    BCE = F.binary_cross_entropy(recon_x, x.view(-1, 784), reduction="sum")
    KLD = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return BCE + KLD


def main():
    torch.manual_seed(1)
    make_mnist("data")
    train_loader = torch.utils.data.DataLoader(
        datasets.MNIST("data", train=True, download=True, transform=transforms.ToTensor()),
        batch_size=64, shuffle=True)
    test_loader = torch.utils.data.DataLoader(
        datasets.MNIST("data", train=False, transform=transforms.ToTensor()),
        batch_size=64, shuffle=False)
    model = VAE()
    optimizer = optim.Adam(model.parameters(), lr=1e-3)
    os.makedirs("results", exist_ok=True)
    for epoch in range(1, 6):
        model.train()
        train_loss = 0
        for data, _ in train_loader:
            optimizer.zero_grad()
            recon_batch, mu, logvar = model(data)
            loss = loss_function(recon_batch, data, mu, logvar)
            loss.backward()
            train_loss += loss.item()
            optimizer.step()
        print(f"====> Epoch: {epoch} Average loss: {train_loss / len(train_loader.dataset):.4f}")
    model.eval()
    test_loss = 0
    with torch.no_grad():
        for i, (data, _) in enumerate(test_loader):
            recon_batch, mu, logvar = model(data)
            test_loss += loss_function(recon_batch, data, mu, logvar).item()
            if i == 0:
                n = min(data.size(0), 8)
                comparison = torch.cat([data[:n], recon_batch.view(64, 1, 28, 28)[:n]])
                save_image(comparison.cpu(), "results/reconstruction.png", nrow=n)
        sample = model.decode(torch.randn(64, 20)).cpu()
        save_image(sample.view(64, 1, 28, 28), "results/sample.png")
    test_loss /= len(test_loader.dataset)
    print(f"====> Test set loss: {test_loss:.4f}")
    print("OUTCOME " + json.dumps({"test_loss": test_loss,
                                   "train_loss": train_loss / len(train_loader.dataset)}))


if __name__ == "__main__":
    main()
