"""Model compression and reparametrisation utilities a user strings together: train a small CNN
with nn.utils.parametrizations.weight_norm on the convs and spectral_norm on the classifier,
a custom parametrisation (symmetric matrix via nn.utils.parametrize.register_parametrization),
parametrizations.orthogonal on a square layer, parametrize.cached(); then magnitude pruning with
nn.utils.prune (l1_unstructured, ln_structured, global_unstructured, remove) and fine-tuning with
the masks in place, sparsity counts from the weight_mask buffers, state_dict round trip of
a pruned model; the metric is test accuracy after pruning + fine-tuning."""
import argparse
import io

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.nn.utils.parametrize as parametrize
import torch.nn.utils.prune as prune
from torch.nn.utils.parametrizations import orthogonal, spectral_norm, weight_norm


class Symmetric(nn.Module):
    def forward(self, X):
        return X.triu() + X.triu(1).transpose(-1, -2)


def make_data(n, g):
    # 3 classes of 12x12 images: horizontal bar, vertical bar, diagonal
    y = torch.randint(0, 3, (n,), generator=g)
    x = 0.4 * torch.randn(n, 1, 12, 12, generator=g)
    pos = torch.randint(2, 10, (n,), generator=g)
    for k in range(n):
        if y[k] == 0:
            x[k, 0, pos[k], :] += 1.5
        elif y[k] == 1:
            x[k, 0, :, pos[k]] += 1.5
        else:
            x[k, 0] += 1.5 * torch.eye(12).roll(int(pos[k]) - 6, dims=1)
    return x, y


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = weight_norm(nn.Conv2d(1, 8, 3, padding=1))
        self.conv2 = weight_norm(nn.Conv2d(8, 16, 3, padding=1), dim=0)
        self.square = nn.Linear(16, 16)
        self.mix = nn.Linear(16, 16, bias=False)
        self.fc = spectral_norm(nn.Linear(16, 3))
        orthogonal(self.square)
        parametrize.register_parametrization(self.mix, "weight", Symmetric())

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.relu(self.conv2(x))
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        x = F.relu(self.square(x))
        return self.fc(self.mix(x))


def accuracy(model, x, y):
    model.eval()
    with torch.no_grad(), parametrize.cached():
        return (model(x).argmax(1) == y).float().mean().item()


def train(model, x, y, epochs, lr):
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(len(y))
        for i in range(0, len(y), 32):
            idx = perm[i:i + 32]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return loss.item()


def sparsity(model):
    zeros = total = 0
    for name, buf in model.named_buffers():
        if name.endswith("weight_mask"):
            zeros += (buf == 0).sum().item()
            total += buf.numel()
    return zeros / max(total, 1)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=6)
    args = p.parse_args()
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    x, y = make_data(384, g)
    xt, yt = make_data(192, g)
    model = Net()
    print("parametrized:", [n for n, m in model.named_modules()
                            if parametrize.is_parametrized(m)])
    W = model.mix.weight
    assert torch.allclose(W, W.T)
    Q = model.square.weight
    assert torch.allclose(Q @ Q.T, torch.eye(16), atol=1e-5)
    train(model, x, y, args.epochs, 1e-2)
    acc_dense = accuracy(model, xt, yt)
    sigma = torch.linalg.matrix_norm(model.fc.weight, ord=2).item()
    print(f"dense acc {acc_dense:.4f} fc spectral norm {sigma:.3f}")
    Q = model.square.weight
    print("orthogonal after training:", torch.allclose(Q @ Q.T, torch.eye(16), atol=1e-4))

    # pruning: parametrized weights are removed to plain ones first (leave_parametrized)
    for mod in (model.conv1, model.conv2, model.square, model.mix, model.fc):
        parametrize.remove_parametrizations(mod, "weight", leave_parametrized=True)
    prune.l1_unstructured(model.fc, name="weight", amount=0.3)
    prune.ln_structured(model.conv2, name="weight", amount=0.25, n=2, dim=0)
    prune.global_unstructured([(model.conv1, "weight"), (model.square, "weight"),
                               (model.mix, "weight")],
                              pruning_method=prune.L1Unstructured, amount=0.5)
    print(f"sparsity {sparsity(model):.4f} pruned acc {accuracy(model, xt, yt):.4f}")
    train(model, x, y, 3, 3e-3)
    assert (model.fc.weight[model.fc.weight_mask == 0] == 0).all()
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    keys = [k for k in model.state_dict() if k.endswith("_orig") or k.endswith("_mask")]
    print("pruning keys:", sorted(keys))
    for mod in (model.conv1, model.conv2, model.square, model.mix, model.fc):
        prune.remove(mod, "weight")
    assert not any(k.endswith("_mask") for k in model.state_dict())
    acc = accuracy(model, xt, yt)
    zero_frac = (model.conv1.weight == 0).float().mean().item()
    print(f"conv1 zero fraction {zero_frac:.3f}")
    print(f"final_acc {acc:.4f}")


if __name__ == "__main__":
    main()
