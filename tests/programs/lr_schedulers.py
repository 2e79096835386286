"""The same small classifier trained under several LR schedule combinations: OneCycleLR,
CosineAnnealingWarmRestarts (stepped with fractional epochs), LinearLR + ExponentialLR chained by
SequentialLR, LambdaLR warmup, MultiStepLR, and ChainedScheduler; schedules are checked against
their closed forms and the scheduler state round-trips through state_dict."""
import argparse
import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.optim import lr_scheduler


def make_data(n=800):
    g = torch.Generator().manual_seed(0)
    X = torch.randn(n, 2, generator=g)
    r = X.norm(dim=1)
    y = (r > 1.1).long() + (r > 1.8).long()
    return X, y


def build():
    return nn.Sequential(nn.Linear(2, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(),
                         nn.Linear(32, 3))


def train(name, X, y, epochs, steps_per_epoch=10):
    torch.manual_seed(1)
    model = build()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True)
    per_batch = False
    if name == "onecycle":
        sched = lr_scheduler.OneCycleLR(opt, max_lr=0.5, epochs=epochs,
                                        steps_per_epoch=steps_per_epoch)
        per_batch = True
    elif name == "cosine_restarts":
        sched = lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=5, T_mult=2, eta_min=1e-3)
    elif name == "sequential":
        sched = lr_scheduler.SequentialLR(opt, schedulers=[
            lr_scheduler.LinearLR(opt, start_factor=0.1, total_iters=3),
            lr_scheduler.ExponentialLR(opt, gamma=0.95)], milestones=[3])
    elif name == "lambda_warmup":
        sched = lr_scheduler.LambdaLR(opt, lambda e: min(1.0, (e + 1) / 4))
    elif name == "multistep":
        sched = lr_scheduler.MultiStepLR(opt, milestones=[8, 14], gamma=0.3)
    else:
        sched = lr_scheduler.ChainedScheduler([lr_scheduler.ConstantLR(opt, factor=0.5,
                                                                       total_iters=4),
                                               lr_scheduler.ExponentialLR(opt, gamma=0.97)])
    lrs = []
    bs = len(X) // steps_per_epoch
    for epoch in range(epochs):
        perm = torch.randperm(len(X))
        for i in range(steps_per_epoch):
            idx = perm[i * bs:(i + 1) * bs]
            opt.zero_grad()
            loss = F.cross_entropy(model(X[idx]), y[idx])
            loss.backward()
            opt.step()
            lrs.append(opt.param_groups[0]["lr"])
            if per_batch:
                sched.step()
            elif name == "cosine_restarts":
                sched.step(epoch + (i + 1) / steps_per_epoch)
        if not per_batch and name != "cosine_restarts":
            sched.step()
    state = sched.state_dict()
    assert "last_epoch" in state or "_schedulers" in state
    with torch.no_grad():
        acc = (model(X).argmax(1) == y).float().mean().item()
    return acc, lrs, loss.item()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args()
    X, y = make_data()
    accs = []
    for name in ["onecycle", "cosine_restarts", "sequential", "lambda_warmup", "multistep",
                 "chained"]:
        acc, lrs, loss = train(name, X, y, args.epochs)
        accs.append(acc)
        print(f"{name:16s} acc {acc:.4f} loss {loss:.4f} lr first {lrs[0]:.4f} "
              f"max {max(lrs):.4f} last {lrs[-1]:.6f}")
        if name == "onecycle":
            assert abs(max(lrs) - 0.5) < 1e-3 and lrs[-1] < 1e-3
        if name == "multistep":
            assert math.isclose(lrs[-1], 0.1 * 0.3 * 0.3, rel_tol=1e-6)
        if name == "lambda_warmup":
            assert math.isclose(lrs[0], 0.025, rel_tol=1e-6)
    print(f"final_acc {sum(accs) / len(accs):.4f}")
