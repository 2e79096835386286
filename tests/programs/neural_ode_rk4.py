"""A Neural ODE fitted to a spiral trajectory (the torchdiffeq ode_demo, with the solver written
by hand as posts without torchdiffeq do): an ODEFunc nn.Module f(t, y) with a cubic nonlinearity
(`y**3`), a fixed-step classic Runge-Kutta 4 integrator returning the stacked states
(`torch.stack`), mini-batches of random trajectory segments (`np.random.choice` starts,
`torch.stack` of shifted slices), backpropagation through the solver, RunningAverageMeter, and
the true dynamics as a `torch.mm` with a 2x2 matrix integrated under `torch.no_grad()`."""
import argparse

import numpy as np
import torch
import torch.nn as nn

true_A = torch.tensor([[-0.1, 2.0], [-2.0, -0.1]])


class Lambda(nn.Module):
    def forward(self, t, y):
        return torch.mm(y ** 3, true_A)


def rk4_odeint(func, y0, t):
    """y(t_i) for every time in t, one RK4 step per interval (y0: (..., D))."""
    ys = [y0]
    y = y0
    for i in range(len(t) - 1):
        t0, dt = t[i], t[i + 1] - t[i]
        k1 = func(t0, y)
        k2 = func(t0 + dt / 2, y + dt * k1 / 2)
        k3 = func(t0 + dt / 2, y + dt * k2 / 2)
        k4 = func(t0 + dt, y + dt * k3)
        y = y + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        ys.append(y)
    return torch.stack(ys)


class ODEFunc(nn.Module):
    def __init__(self):
        super(ODEFunc, self).__init__()
        self.net = nn.Sequential(nn.Linear(2, 50), nn.Tanh(), nn.Linear(50, 2))
        for m in self.net.modules():
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, mean=0, std=0.1)
                nn.init.constant_(m.bias, val=0)
        self.nfe = 0

    def forward(self, t, y):
        self.nfe += 1
        return self.net(y ** 3)


class RunningAverageMeter(object):
    def __init__(self, momentum=0.99):
        self.momentum = momentum
        self.reset()

    def reset(self):
        self.val = None
        self.avg = 0

    def update(self, val):
        if self.val is None:
            self.avg = val
        else:
            self.avg = self.avg * self.momentum + val * (1 - self.momentum)
        self.val = val


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data_size", type=int, default=200)
    parser.add_argument("--batch_time", type=int, default=10)
    parser.add_argument("--batch_size", type=int, default=20)
    parser.add_argument("--niters", type=int, default=200)
    args = parser.parse_args()
    device = torch.device("cpu")
    true_y0 = torch.tensor([[2., 0.]]).to(device)
    t = torch.linspace(0., 5., args.data_size).to(device)
    with torch.no_grad():
        true_y = rk4_odeint(Lambda(), true_y0, t)          # (T, 1, 2)
    np.random.seed(0)
    torch.manual_seed(0)

    def get_batch():
        s = torch.from_numpy(np.random.choice(np.arange(args.data_size - args.batch_time,
                                                        dtype=np.int64),
                                              args.batch_size, replace=False))
        batch_y0 = true_y[s]                                        # (M, 1, D)
        batch_t = t[:args.batch_time]                               # (T)
        batch_y = torch.stack([true_y[s + i] for i in range(args.batch_time)], dim=0)
        return batch_y0.to(device), batch_t.to(device), batch_y.to(device)

    func = ODEFunc().to(device)
    optimizer = torch.optim.RMSprop(func.parameters(), lr=1e-3)
    loss_meter = RunningAverageMeter(0.97)
    for itr in range(1, args.niters + 1):
        optimizer.zero_grad()
        batch_y0, batch_t, batch_y = get_batch()
        pred_y = rk4_odeint(func, batch_y0, batch_t).to(device)
        loss = torch.mean(torch.abs(pred_y - batch_y))
        loss.backward()
        optimizer.step()
        loss_meter.update(loss.item())
        if itr % 100 == 0:
            with torch.no_grad():
                pred_y = rk4_odeint(func, true_y0, t)
                total = torch.mean(torch.abs(pred_y - true_y))
            print(f"Iter {itr:04d} | Total Loss {total.item():.6f} | "
                  f"running {loss_meter.avg:.4f} | nfe {func.nfe}")
    with torch.no_grad():
        pred_y = rk4_odeint(func, true_y0, t)
        total = torch.mean(torch.abs(pred_y - true_y))
    print(f"final_loss {total.item():.6f}")


if __name__ == "__main__":
    main()
