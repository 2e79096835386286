"""Logistic regression the classic way: nn.Linear + BCEWithLogitsLoss + SGD with weight decay,
NumPy-generated data, accuracy with torch.sigmoid > 0.5, and the closed-form check of the learnt
direction."""
import argparse

import numpy as np
import torch
import torch.nn as nn


class LogisticRegression(torch.nn.Module):
    def __init__(self, input_dim, output_dim):
        super(LogisticRegression, self).__init__()
        self.linear = torch.nn.Linear(input_dim, output_dim)

    def forward(self, x):
        return self.linear(x)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--lr", type=float, default=0.1)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    n, d = 600, 10
    w_true = rng.normal(size=d)
    X = rng.normal(size=(n, d)).astype(np.float32)
    p = 1 / (1 + np.exp(-(X @ w_true)))
    y = (rng.random(n) < p).astype(np.float32)
    X_train, X_test = torch.from_numpy(X[:450]), torch.from_numpy(X[450:])
    y_train, y_test = torch.from_numpy(y[:450]).view(-1, 1), torch.from_numpy(y[450:]).view(-1, 1)

    torch.manual_seed(0)
    model = LogisticRegression(d, 1)
    criterion = nn.BCEWithLogitsLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, weight_decay=1e-4)
    for epoch in range(args.epochs):
        optimizer.zero_grad()
        outputs = model(X_train)
        loss = criterion(outputs, y_train)
        loss.backward()
        optimizer.step()
        if (epoch + 1) % 50 == 0:
            print(f"Epoch [{epoch + 1}/{args.epochs}], Loss: {loss.item():.4f}")
    with torch.no_grad():
        predicted = (torch.sigmoid(model(X_test)) > 0.5).float()
        acc = (predicted == y_test).sum().item() / y_test.size(0)
        w = model.linear.weight.squeeze().numpy()
    cos = float(np.dot(w, w_true) / np.linalg.norm(w) / np.linalg.norm(w_true))
    print(f"accuracy {acc:.3f}, cosine to true weights {cos:.3f}")
    print(f"final_loss {loss.item():.5f}")
