"""A capsule network with dynamic routing (Sabour, Frosst & Hinton 2017) in the style of the
popular PyTorch CapsNet repos: PrimaryCaps as a ModuleList of Conv2d stacked and viewed into
capsules, the `squash` nonlinearity, DigitCaps with a 5-D weight `W` (1, routes, caps, out, in)
applied by broadcasting `torch.matmul` after `torch.stack(...)`/`unsqueeze(4)`, routing
logits `b_ij` updated by agreement over 3 iterations with `F.softmax(b_ij, dim=1)`, the margin
loss with `F.relu(0.9 - v) ** 2`, and a reconstruction decoder masked by
`torch.eye(n).index_select(dim=0, index=target)`."""
import argparse

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset


def squash(input_tensor, dim=-1):
    squared_norm = (input_tensor ** 2).sum(dim, keepdim=True)
    return squared_norm * input_tensor / ((1. + squared_norm) * torch.sqrt(squared_norm + 1e-8))


class ConvLayer(nn.Module):
    def __init__(self, in_channels=1, out_channels=32, kernel_size=5):
        super(ConvLayer, self).__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=kernel_size, stride=1)

    def forward(self, x):
        return F.relu(self.conv(x))


class PrimaryCaps(nn.Module):
    def __init__(self, num_capsules=4, in_channels=32, out_channels=8, kernel_size=3):
        super(PrimaryCaps, self).__init__()
        self.capsules = nn.ModuleList([
            nn.Conv2d(in_channels, out_channels, kernel_size=kernel_size, stride=2, padding=0)
            for _ in range(num_capsules)])

    def forward(self, x):
        u = [capsule(x) for capsule in self.capsules]
        u = torch.stack(u, dim=1)                     # (B, caps, C, H, W)
        u = u.view(x.size(0), u.size(1), -1)          # (B, caps, C*H*W)
        u = u.transpose(1, 2).contiguous()            # (B, routes, caps)
        return squash(u)


class DigitCaps(nn.Module):
    def __init__(self, num_capsules, num_routes, in_channels=4, out_channels=8, iterations=3):
        super(DigitCaps, self).__init__()
        self.in_channels = in_channels
        self.num_routes = num_routes
        self.num_capsules = num_capsules
        self.iterations = iterations
        self.W = nn.Parameter(0.1 * torch.randn(1, num_routes, num_capsules, out_channels,
                                                in_channels))

    def forward(self, x):
        batch_size = x.size(0)
        x = torch.stack([x] * self.num_capsules, dim=2).unsqueeze(4)   # (B, R, N, in, 1)
        W = torch.cat([self.W] * batch_size, dim=0)                     # (B, R, N, out, in)
        u_hat = torch.matmul(W, x)                                      # (B, R, N, out, 1)
        b_ij = torch.zeros(1, self.num_routes, self.num_capsules, 1, device=x.device)
        for iteration in range(self.iterations):
            c_ij = F.softmax(b_ij, dim=2)
            c_ij = torch.cat([c_ij] * batch_size, dim=0).unsqueeze(4)   # (B, R, N, 1, 1)
            s_j = (c_ij * u_hat).sum(dim=1, keepdim=True)               # (B, 1, N, out, 1)
            v_j = squash(s_j, dim=3)
            if iteration < self.iterations - 1:
                a_ij = torch.matmul(u_hat.transpose(3, 4),
                                    torch.cat([v_j] * self.num_routes, dim=1))
                b_ij = b_ij + a_ij.squeeze(4).mean(dim=0, keepdim=True)
        return v_j.squeeze(1)                                           # (B, N, out, 1)


class Decoder(nn.Module):
    def __init__(self, num_classes, caps_dim, size):
        super(Decoder, self).__init__()
        self.num_classes, self.size = num_classes, size
        self.reconstraction_layers = nn.Sequential(
            nn.Linear(caps_dim * num_classes, 64), nn.ReLU(inplace=True),
            nn.Linear(64, size * size), nn.Sigmoid())

    def forward(self, x, target=None):
        classes = torch.sqrt((x ** 2).sum(2))                   # (B, N, 1)
        classes = F.softmax(classes, dim=1)
        if target is None:
            _, target = classes.max(dim=1)
            target = target.squeeze(1)
        masked = torch.eye(self.num_classes).index_select(dim=0, index=target)
        t = (x * masked[:, :, None, None]).view(x.size(0), -1)
        reconstructions = self.reconstraction_layers(t)
        return reconstructions.view(-1, 1, self.size, self.size), masked


class CapsNet(nn.Module):
    def __init__(self, num_classes=4, size=14):
        super(CapsNet, self).__init__()
        self.conv_layer = ConvLayer(1, 16, 5)
        self.primary_capsules = PrimaryCaps(4, 16, 8, 3)
        routes = 8 * (((size - 4) - 3) // 2 + 1) ** 2
        self.digit_capsules = DigitCaps(num_classes, routes, 4, 8)
        self.decoder = Decoder(num_classes, 8, size)
        self.mse_loss = nn.MSELoss()

    def forward(self, data, target=None):
        output = self.digit_capsules(self.primary_capsules(self.conv_layer(data)))
        reconstructions, masked = self.decoder(output, target)
        return output, reconstructions, masked

    def loss(self, data, x, target, reconstructions):
        return self.margin_loss(x, target) + self.reconstruction_loss(data, reconstructions)

    def margin_loss(self, x, labels, size_average=True):
        batch_size = x.size(0)
        v_c = torch.sqrt((x ** 2).sum(dim=2, keepdim=True))
        left = F.relu(0.9 - v_c).view(batch_size, -1)
        right = F.relu(v_c - 0.1).view(batch_size, -1)
        loss = labels * left ** 2 + 0.5 * (1.0 - labels) * right ** 2
        return loss.sum(dim=1).mean()

    def reconstruction_loss(self, data, reconstructions):
        loss = self.mse_loss(reconstructions.view(reconstructions.size(0), -1),
                             data.view(reconstructions.size(0), -1))
        return loss * 0.0005 * data[0].numel()


def make_shapes(n, rng, size=14):
    """4 classes: horizontal bar, vertical bar, diagonal, box outline; random position."""
    x = np.zeros((n, 1, size, size), np.float32)
    y = rng.randint(0, 4, n)
    for i in range(n):
        r, c = rng.randint(2, size - 7, 2)
        if y[i] == 0:
            x[i, 0, r + 2, c:c + 6] = 1
        elif y[i] == 1:
            x[i, 0, r:r + 6, c + 2] = 1
        elif y[i] == 2:
            x[i, 0, np.arange(r, r + 6), np.arange(c, c + 6)] = 1
        else:
            x[i, 0, r:r + 5, c] = x[i, 0, r:r + 5, c + 4] = 1
            x[i, 0, r, c:c + 5] = x[i, 0, r + 4, c:c + 5] = 1
    x += rng.rand(n, 1, size, size).astype(np.float32) * 0.2
    return torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.RandomState(0)
    x_train, y_train = make_shapes(640, rng)
    x_test, y_test = make_shapes(200, rng)
    torch.manual_seed(0)
    capsule_net = CapsNet()
    optimizer = torch.optim.Adam(capsule_net.parameters(), lr=2e-3)
    loader = DataLoader(TensorDataset(x_train, y_train), batch_size=32, shuffle=True)
    for epoch in range(args.epochs):
        capsule_net.train()
        train_loss = 0
        for batch_id, (data, target) in enumerate(loader):
            target = torch.eye(4).index_select(dim=0, index=target)
            optimizer.zero_grad()
            output, reconstructions, masked = capsule_net(data)
            loss = capsule_net.loss(data, output, target, reconstructions)
            loss.backward()
            optimizer.step()
            train_loss += loss.item()
        print(f"epoch {epoch} train loss {train_loss / len(loader):.4f}")
    capsule_net.eval()
    with torch.no_grad():
        output, reconstructions, masked = capsule_net(x_test)
        pred = np.argmax(masked.numpy(), 1)
        acc = float(np.mean(pred == y_test.numpy()))
    print(f"final_acc {acc:.4f}")


if __name__ == "__main__":
    main()
