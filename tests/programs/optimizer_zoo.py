"""Optimizer comparison on a fixed float64 problem (deterministic: no RNG after the data).

Every torch.optim optimizer a user reaches for, with the options people turn on (nesterov,
amsgrad, centered, decoupled weight decay, maximize, foreach / fused off), trains the same
softmax-regression + small MLP from the same initial weights; the summed final losses are the
metric, and a state_dict round trip of each optimizer must continue to the same weights
(NAdam's float32 mu_product, cast to the float64 parameters' dtype on load, moves the last
bit)."""
import argparse
import copy
import io

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def make_data(n=256, d=10, k=4, seed=0):
    rs = np.random.RandomState(seed)
    centers = rs.normal(0, 1.5, (k, d))
    y = rs.randint(0, k, n)
    x = centers[y] + rs.normal(0, 1.0, (n, d))
    return torch.from_numpy(x), torch.from_numpy(y)


class Net(nn.Module):
    def __init__(self, d=10, h=16, k=4):
        super().__init__()
        self.fc1 = nn.Linear(d, h)
        self.fc2 = nn.Linear(h, k)

    def forward(self, x):
        return self.fc2(torch.tanh(self.fc1(x)))


def init_weights(model):
    # deterministic init that does not depend on the RNG stream
    with torch.no_grad():
        for i, p in enumerate(model.parameters()):
            n = p.numel()
            vals = torch.sin(torch.arange(n, dtype=torch.float64) * (1.3 + i)) * 0.3
            p.copy_(vals.reshape(p.shape))


OPTIMIZERS = {
    "sgd": lambda p: torch.optim.SGD(p, lr=0.1),
    "sgd_nesterov": lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True,
                                              weight_decay=1e-3),
    "sgd_dampening": lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.8, dampening=0.1),
    "adam": lambda p: torch.optim.Adam(p, lr=0.01),
    "adam_amsgrad": lambda p: torch.optim.Adam(p, lr=0.01, amsgrad=True, weight_decay=1e-2),
    "adamw": lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.1, foreach=False),
    "nadam": lambda p: torch.optim.NAdam(p, lr=0.01),
    "nadam_decoupled": lambda p: torch.optim.NAdam(p, lr=0.01, weight_decay=0.05,
                                                   decoupled_weight_decay=True),
    "radam": lambda p: torch.optim.RAdam(p, lr=0.01),
    "radam_decoupled": lambda p: torch.optim.RAdam(p, lr=0.01, weight_decay=0.05,
                                                   decoupled_weight_decay=True),
    "adamax": lambda p: torch.optim.Adamax(p, lr=0.02),
    "adagrad": lambda p: torch.optim.Adagrad(p, lr=0.1, lr_decay=1e-3,
                                             initial_accumulator_value=0.1),
    "adadelta": lambda p: torch.optim.Adadelta(p, lr=1.0, rho=0.9),
    "rmsprop": lambda p: torch.optim.RMSprop(p, lr=0.005),
    "rmsprop_centered": lambda p: torch.optim.RMSprop(p, lr=0.005, momentum=0.5,
                                                      centered=True),
    "rprop": lambda p: torch.optim.Rprop(p, lr=0.01, etas=(0.4, 1.3), step_sizes=(1e-5, 1)),
    "asgd": lambda p: torch.optim.ASGD(p, lr=0.05, t0=20),
    "adam_maximize": lambda p: torch.optim.Adam(p, lr=0.01, maximize=True),
}


def train(name, x, y, steps, resume_at=None):
    model = Net().double()
    init_weights(model)
    opt = OPTIMIZERS[name](model.parameters())
    sign = -1.0 if name.endswith("maximize") else 1.0
    for step in range(steps):
        if resume_at is not None and step == resume_at:
            buf = io.BytesIO()
            torch.save({"model": model.state_dict(), "opt": opt.state_dict()}, buf)
            buf.seek(0)
            ckpt = torch.load(buf)
            model = Net().double()
            model.load_state_dict(ckpt["model"])
            opt = OPTIMIZERS[name](model.parameters())
            opt.load_state_dict(ckpt["opt"])
        opt.zero_grad()
        loss = sign * F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    with torch.no_grad():
        return F.cross_entropy(model(x), y).item(), copy.deepcopy(model.state_dict())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=40)
    args = parser.parse_args()
    x, y = make_data()
    total = 0.0
    for name in OPTIMIZERS:
        loss, sd = train(name, x, y, args.steps)
        loss2, sd2 = train(name, x, y, args.steps, resume_at=args.steps // 2)
        same = all(torch.allclose(sd[k], sd2[k], rtol=0, atol=1e-12) for k in sd)
        print(f"{name:18s} loss {loss:.6f} resume_identical {same}")
        assert same, name
        if not name.endswith("maximize"):
            total += loss
    print(f"final_loss {total:.8f}")


if __name__ == "__main__":
    main()
