"""Module and tensor hooks: register_forward_hook for activation statistics / feature
extraction, register_forward_pre_hook input normalization, register_full_backward_hook for
gradient norms, Tensor.register_hook to clip a gradient, handle.remove(), and a state-dict
hook-free checkpoint round trip."""
from collections import defaultdict
from functools import partial

import torch
import torch.nn as nn
import torch.nn.functional as F


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(10, 48)
        self.act1 = nn.ReLU()
        self.fc2 = nn.Linear(48, 48)
        self.act2 = nn.ReLU()
        self.fc3 = nn.Linear(48, 3)

    def forward(self, x):
        return self.fc3(self.act2(self.fc2(self.act1(self.fc1(x)))))


activations = defaultdict(list)
grad_norms = defaultdict(list)


def save_activation(name, mod, inp, out):
    activations[name].append((out > 0).float().mean().item())


def grad_hook(name, module, grad_input, grad_output):
    grad_norms[name].append(grad_output[0].norm().item())


if __name__ == "__main__":
    torch.manual_seed(0)
    X = torch.randn(600, 10) * 3 + 1
    y = torch.bucketize(X[:, 0] - X[:, 1], torch.tensor([-1.5, 1.5]))
    model = MLP()
    handles = []
    for name, m in model.named_modules():
        if isinstance(m, nn.ReLU):
            handles.append(m.register_forward_hook(partial(save_activation, name)))
        if isinstance(m, nn.Linear):
            handles.append(m.register_full_backward_hook(partial(grad_hook, name)))
    mean, std = X.mean(0), X.std(0)
    pre = model.register_forward_pre_hook(lambda mod, args: ((args[0] - mean) / std,))
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for epoch in range(60):
        opt.zero_grad()
        out = model(X[:500])
        out.register_hook(lambda g: g.clamp(-0.01, 0.01))
        loss = F.cross_entropy(out, y[:500])
        loss.backward()
        opt.step()
    for h in handles:
        h.remove()
    n_before = len(activations["act1"])
    with torch.no_grad():
        acc = (model(X[500:]).argmax(1) == y[500:]).float().mean().item()
    assert len(activations["act1"]) == n_before, "removed hook still fired"
    print("alive fraction act1 %.3f act2 %.3f" % (activations["act1"][-1], activations["act2"][-1]))
    print("last grad norms", {k: round(v[-1], 4) for k, v in grad_norms.items()})

    features = {}

    def get_features(name):
        def hook(model, input, output):
            features[name] = output.detach()
        return hook
    h = model.fc2.register_forward_hook(get_features("fc2"))
    model(X[:5])
    h.remove()
    pre.remove()
    print("extracted", tuple(features["fc2"].shape))
    print(f"final_acc {acc:.4f}")
