"""A physics-informed neural network (Raissi et al.) for the viscous Burgers equation
u_t + u u_x = nu u_xx on x in [-1, 1], t in [0, 1], u(0, x) = -sin(pi x), u(t, +-1) = 0, in
the style of the PINN tutorials: collocation points with `requires_grad_(True)`, derivatives by
`torch.autograd.grad(u, x, grad_outputs=torch.ones_like(u), create_graph=True)` (second order
for u_xx), a residual + initial + boundary MSE loss, Adam then `optim.LBFGS(line_search_fn=
"strong_wolfe")` with a closure, Xavier init, and the model in float64
(`torch.set_default_dtype(torch.float64)`)."""
import argparse
import math

import numpy as np
import torch
import torch.nn as nn


class PINN(nn.Module):
    def __init__(self, layers):
        super().__init__()
        self.activation = nn.Tanh()
        self.linears = nn.ModuleList([nn.Linear(layers[i], layers[i + 1])
                                      for i in range(len(layers) - 1)])
        for lin in self.linears:
            nn.init.xavier_normal_(lin.weight.data, gain=1.0)
            nn.init.zeros_(lin.bias.data)

    def forward(self, x, t):
        a = torch.cat([x, t], dim=1)
        for lin in self.linears[:-1]:
            a = self.activation(lin(a))
        return self.linears[-1](a)


def pde_residual(model, x, t, nu):
    u = model(x, t)
    u_t = torch.autograd.grad(u, t, grad_outputs=torch.ones_like(u), create_graph=True)[0]
    u_x = torch.autograd.grad(u, x, grad_outputs=torch.ones_like(u), create_graph=True)[0]
    u_xx = torch.autograd.grad(u_x, x, grad_outputs=torch.ones_like(u_x), create_graph=True)[0]
    return u_t + u * u_x - nu * u_xx


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--adam_iters", type=int, default=150)
    parser.add_argument("--lbfgs_iters", type=int, default=60)
    args = parser.parse_args()
    torch.set_default_dtype(torch.float64)
    nu = 0.01 / math.pi
    rng = np.random.RandomState(0)
    n_f, n_b = 600, 100
    x_f = torch.tensor(rng.uniform(-1, 1, (n_f, 1))).requires_grad_(True)
    t_f = torch.tensor(rng.uniform(0, 1, (n_f, 1))).requires_grad_(True)
    x_0 = torch.tensor(rng.uniform(-1, 1, (n_b, 1)))
    t_0 = torch.zeros_like(x_0)
    u_0 = -torch.sin(math.pi * x_0)
    t_b = torch.tensor(rng.uniform(0, 1, (n_b, 1)))
    x_b = torch.where(torch.arange(n_b).unsqueeze(1) % 2 == 0, torch.tensor(-1.0),
                      torch.tensor(1.0))
    torch.manual_seed(0)
    model = PINN([2, 20, 20, 20, 1])
    mse = nn.MSELoss()

    def loss_fn():
        f = pde_residual(model, x_f, t_f, nu)
        return (mse(f, torch.zeros_like(f)) + mse(model(x_0, t_0), u_0) +
                mse(model(x_b, t_b), torch.zeros_like(t_b)))

    optimizer = torch.optim.Adam(model.parameters(), lr=5e-3)
    for it in range(args.adam_iters):
        optimizer.zero_grad()
        loss = loss_fn()
        loss.backward()
        optimizer.step()
        if it % 50 == 0:
            print(f"adam {it} loss {loss.item():.5f}")
    lbfgs = torch.optim.LBFGS(model.parameters(), lr=1.0, max_iter=args.lbfgs_iters,
                              history_size=20, tolerance_grad=1e-9, tolerance_change=1e-12,
                              line_search_fn="strong_wolfe")

    def closure():
        lbfgs.zero_grad()
        loss = loss_fn()
        loss.backward()
        return loss

    lbfgs.step(closure)
    loss = loss_fn()
    print(f"after LBFGS loss {loss.item():.6f}")
    with torch.no_grad():
        x = torch.linspace(-1, 1, 41).unsqueeze(1)
        u_init = model(x, torch.zeros_like(x))
        err = (u_init + torch.sin(math.pi * x)).abs().max().item()
    print(f"max initial-condition error {err:.4f}")
    print(f"final_loss {loss.item():.6f}")


if __name__ == "__main__":
    main()
