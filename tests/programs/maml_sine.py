"""MAML (Finn et al. 2017) on sinusoid regression, written the way the popular from-scratch
MAML notebooks do it: a functional MLP whose weights are an `OrderedDict` of parameters passed
to `F.linear`, tasks sampled as (amplitude, phase), an inner loop of SGD steps on the support
set with `torch.autograd.grad(loss, params.values(), create_graph=True)` (second-order MAML),
the query loss of the adapted weights summed over a meta-batch, and a meta-update with Adam;
evaluation compares the adapted model with the un-adapted one on new tasks."""
import argparse
from collections import OrderedDict

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class SineTask:
    def __init__(self, rng):
        self.amplitude = rng.uniform(0.1, 5.0)
        self.phase = rng.uniform(0, np.pi)
        self.rng = rng

    def sample(self, k):
        x = self.rng.uniform(-5, 5, (k, 1)).astype(np.float32)
        y = self.amplitude * np.sin(x + self.phase)
        return torch.from_numpy(x), torch.from_numpy(y.astype(np.float32))


class MetaNet(nn.Module):
    def __init__(self, hidden=40):
        super().__init__()
        self.net = nn.Sequential(OrderedDict([
            ("l1", nn.Linear(1, hidden)), ("relu1", nn.ReLU()),
            ("l2", nn.Linear(hidden, hidden)), ("relu2", nn.ReLU()),
            ("l3", nn.Linear(hidden, 1))]))

    def forward(self, x, params=None):
        if params is None:
            return self.net(x)
        x = F.relu(F.linear(x, params["net.l1.weight"], params["net.l1.bias"]))
        x = F.relu(F.linear(x, params["net.l2.weight"], params["net.l2.bias"]))
        return F.linear(x, params["net.l3.weight"], params["net.l3.bias"])


def adapt(model, x, y, inner_lr, steps, first_order=False):
    params = OrderedDict(model.named_parameters())
    for _ in range(steps):
        loss = F.mse_loss(model(x, params), y)
        grads = torch.autograd.grad(loss, params.values(), create_graph=not first_order)
        params = OrderedDict((name, p - inner_lr * g)
                             for (name, p), g in zip(params.items(), grads))
    return params


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--meta_iters", type=int, default=250)
    parser.add_argument("--meta_batch", type=int, default=5)
    parser.add_argument("--k_shot", type=int, default=10)
    parser.add_argument("--inner_lr", type=float, default=0.01)
    parser.add_argument("--inner_steps", type=int, default=1)
    args = parser.parse_args()
    rng = np.random.RandomState(0)
    torch.manual_seed(0)
    model = MetaNet()
    meta_opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for it in range(args.meta_iters):
        meta_opt.zero_grad()
        meta_loss = 0.0
        for _ in range(args.meta_batch):
            task = SineTask(rng)
            x_s, y_s = task.sample(args.k_shot)
            x_q, y_q = task.sample(args.k_shot)
            fast = adapt(model, x_s, y_s, args.inner_lr, args.inner_steps)
            meta_loss = meta_loss + F.mse_loss(model(x_q, fast), y_q)
        meta_loss = meta_loss / args.meta_batch
        meta_loss.backward()
        meta_opt.step()
        if it % 50 == 0:
            print(f"meta iter {it} query loss {meta_loss.item():.4f}")
    eval_rng = np.random.RandomState(123)
    before, after = [], []
    for _ in range(100):
        task = SineTask(eval_rng)
        x_s, y_s = task.sample(args.k_shot)
        x_q, y_q = task.sample(50)
        fast = adapt(model, x_s, y_s, args.inner_lr, 5, first_order=True)
        with torch.no_grad():
            before.append(F.mse_loss(model(x_q), y_q).item())
            after.append(F.mse_loss(model(x_q, fast), y_q).item())
    print(f"query mse before adaptation {np.mean(before):.4f}, after 5 steps {np.mean(after):.4f}")
    print(f"final_loss {np.mean(after):.4f}")


if __name__ == "__main__":
    main()
