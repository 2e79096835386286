"""'What is torch.nn really?' (the official tutorial), step by step on synthetic 28x28 digits:
hand-written log_softmax + matmul model with requires_grad weights and manual updates under
no_grad, then nn.Module/nn.Parameter, nn.Linear, optim.SGD, TensorDataset + DataLoader, a
get_data/fit/loss_batch refactor, a Lambda module, a CNN with nn.Sequential + AdaptiveAvgPool2d,
and a WrappedDataLoader with a preprocess function that moves to the device."""
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn, optim
from torch.utils.data import DataLoader, TensorDataset

dev = torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
bs = 64
lr = 0.5
epochs = 2


def make_digits(n, rng):
    """Synthetic 'digits': class k is a bar at one of 10 positions plus noise, flattened to 784."""
    y = rng.integers(0, 10, size=n)
    x = rng.normal(0, 0.3, size=(n, 28, 28)).astype(np.float32)
    for i, k in enumerate(y):
        r = 2 + 2 * k
        x[i, r:r + 3, 4:24] += 1.5
        x[i, 4:24, r:r + 2] += 0.5
    return x.reshape(n, 784), y.astype(np.int64)


def log_softmax(x):
    return x - x.exp().sum(-1).log().unsqueeze(-1)


def model(xb):
    return log_softmax(xb @ weights + bias)


def nll(input, target):
    return -input[range(target.shape[0]), target].mean()


def accuracy(out, yb):
    preds = torch.argmax(out, dim=1)
    return (preds == yb).float().mean()


class Mnist_Logistic(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(784, 10)

    def forward(self, xb):
        return self.lin(xb)


class Lambda(nn.Module):
    def __init__(self, func):
        super().__init__()
        self.func = func

    def forward(self, x):
        return self.func(x)


def preprocess(x, y):
    return x.view(-1, 1, 28, 28).to(dev), y.to(dev)


class WrappedDataLoader:
    def __init__(self, dl, func):
        self.dl = dl
        self.func = func

    def __len__(self):
        return len(self.dl)

    def __iter__(self):
        for b in self.dl:
            yield (self.func(*b))


def get_data(train_ds, valid_ds, bs):
    return (
        DataLoader(train_ds, batch_size=bs, shuffle=True),
        DataLoader(valid_ds, batch_size=bs * 2),
    )


def loss_batch(model, loss_func, xb, yb, opt=None):
    loss = loss_func(model(xb), yb)
    if opt is not None:
        loss.backward()
        opt.step()
        opt.zero_grad()
    return loss.item(), len(xb)


def fit(epochs, model, loss_func, opt, train_dl, valid_dl):
    for epoch in range(epochs):
        model.train()
        for xb, yb in train_dl:
            loss_batch(model, loss_func, xb, yb, opt)
        model.eval()
        with torch.no_grad():
            losses, nums = zip(*[loss_batch(model, loss_func, xb, yb) for xb, yb in valid_dl])
        val_loss = np.sum(np.multiply(losses, nums)) / np.sum(nums)
        print(epoch, val_loss)
    return val_loss


if __name__ == "__main__":
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    x_train, y_train = make_digits(2000, rng)
    x_valid, y_valid = make_digits(500, rng)
    x_train, y_train, x_valid, y_valid = map(torch.tensor, (x_train, y_train, x_valid, y_valid))
    n, c = x_train.shape
    print(x_train.shape, y_train.min(), y_train.max())

    # from scratch
    weights = torch.randn(784, 10) / math.sqrt(784)
    weights.requires_grad_()
    bias = torch.zeros(10, requires_grad=True)
    loss_func = nll
    xb = x_train[0:bs]
    preds = model(xb)
    print(preds[0], preds.shape)
    print(loss_func(preds, y_train[0:bs]), accuracy(preds, y_train[0:bs]))
    for epoch in range(epochs):
        for i in range((n - 1) // bs + 1):
            start_i = i * bs
            end_i = start_i + bs
            xb = x_train[start_i:end_i]
            yb = y_train[start_i:end_i]
            pred = model(xb)
            loss = loss_func(pred, yb)
            loss.backward()
            with torch.no_grad():
                weights -= weights.grad * lr
                bias -= bias.grad * lr
                weights.grad.zero_()
                bias.grad.zero_()
    print("scratch", loss_func(model(x_valid), y_valid).item(),
          accuracy(model(x_valid), y_valid).item())

    # F.cross_entropy, nn.Module, optim
    loss_func = F.cross_entropy
    train_ds = TensorDataset(x_train, y_train)
    valid_ds = TensorDataset(x_valid, y_valid)
    train_dl, valid_dl = get_data(train_ds, valid_ds, bs)
    m = Mnist_Logistic()
    opt = optim.SGD(m.parameters(), lr=lr)
    logistic_loss = fit(epochs, m, loss_func, opt, train_dl, valid_dl)

    # CNN with nn.Sequential, Lambda and a WrappedDataLoader
    train_dl = WrappedDataLoader(train_dl, preprocess)
    valid_dl = WrappedDataLoader(valid_dl, preprocess)
    cnn = nn.Sequential(
        nn.Conv2d(1, 16, kernel_size=3, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 16, kernel_size=3, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 10, kernel_size=3, stride=2, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        Lambda(lambda x: x.view(x.size(0), -1)),
    )
    cnn.to(dev)
    opt = optim.SGD(cnn.parameters(), lr=0.1, momentum=0.9)
    val_loss = fit(6, cnn, loss_func, opt, train_dl, valid_dl)
    with torch.no_grad():
        acc = np.mean([accuracy(cnn(xb), yb).item() for xb, yb in valid_dl])
    print(f"cnn valid acc {acc:.4f}")
    print(f"cnn valid loss {val_loss:.5f}")
    print(f"final_loss {logistic_loss:.5f}")
