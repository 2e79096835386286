"""'Learning PyTorch with Examples' (the classic tutorial), all six steps on y = sin(x):
a third-order polynomial fitted with hand-written gradients on tensors, then with autograd and
manual `torch.no_grad()` updates, then with a custom `torch.autograd.Function`
(LegendrePolynomial3 with `once_differentiable`), then `nn.Sequential` with `nn.Flatten(0, 1)`
on `x.unsqueeze(-1).pow(p)`, then `optim.RMSprop`, then a custom `nn.Module` and the
DynamicNet (weight sharing across a random number of layers, SGD momentum). Each fit is checked
against a least-squares fit by `torch.linalg.lstsq` (itself checked with
`torch.testing.assert_close` against the normal equations through `torch.linalg.solve`). The
metric is the loss per point of the Legendre fit, which starts from fixed values
(deterministic); the randomly initialised fits only have to stay finite and near the optimum."""
import argparse
import math
import random

import torch
from torch.autograd.function import once_differentiable


def tensors(x, y, steps, lr):
    a, b, c, d = (torch.randn((), dtype=x.dtype) for _ in range(4))
    for t in range(steps):
        y_pred = a + b * x + c * x ** 2 + d * x ** 3
        loss = (y_pred - y).pow(2).sum().item()
        grad_y_pred = 2.0 * (y_pred - y)
        grad_a = grad_y_pred.sum()
        grad_b = (grad_y_pred * x).sum()
        grad_c = (grad_y_pred * x ** 2).sum()
        grad_d = (grad_y_pred * x ** 3).sum()
        a -= lr * grad_a
        b -= lr * grad_b
        c -= lr * grad_c
        d -= lr * grad_d
    print(f"tensors: y = {a.item():.4f} + {b.item():.4f} x + {c.item():.4f} x^2 "
          f"+ {d.item():.4f} x^3  loss {loss:.2f}")
    return loss


def autograd(x, y, steps, lr):
    a, b, c, d = (torch.randn((), dtype=x.dtype, requires_grad=True) for _ in range(4))
    for t in range(steps):
        y_pred = a + b * x + c * x ** 2 + d * x ** 3
        loss = (y_pred - y).pow(2).sum()
        if t % 500 == 499:
            print("autograd", t, loss.item())
        loss.backward()
        with torch.no_grad():
            for p in (a, b, c, d):
                p -= lr * p.grad
                p.grad = None
    return loss.item()


class LegendrePolynomial3(torch.autograd.Function):
    @staticmethod
    def forward(ctx, input):
        ctx.save_for_backward(input)
        return 0.5 * (5 * input ** 3 - 3 * input)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output):
        input, = ctx.saved_tensors
        return grad_output * 1.5 * (5 * input ** 2 - 1)


def custom_function(x, y, steps, lr):
    a = torch.full((), 0.0, dtype=x.dtype, requires_grad=True)
    b = torch.full((), -1.0, dtype=x.dtype, requires_grad=True)
    c = torch.full((), 0.0, dtype=x.dtype, requires_grad=True)
    d = torch.full((), 0.3, dtype=x.dtype, requires_grad=True)
    P3 = LegendrePolynomial3.apply
    for t in range(steps):
        y_pred = a + b * P3(c + d * x)
        loss = (y_pred - y).pow(2).sum()
        loss.backward()
        with torch.no_grad():
            for p in (a, b, c, d):
                p -= lr * p.grad
                p.grad.zero_()
    print(f"legendre: y = {a.item():.4f} + {b.item():.4f} * P3({c.item():.4f} + "
          f"{d.item():.4f} x)  loss {loss.item():.2f}")
    return loss.item()


def nn_module(x, y, steps, lr, use_optim):
    p = torch.tensor([1, 2, 3])
    xx = x.unsqueeze(-1).pow(p)
    model = torch.nn.Sequential(torch.nn.Linear(3, 1), torch.nn.Flatten(0, 1))
    loss_fn = torch.nn.MSELoss(reduction="sum")
    optimizer = torch.optim.RMSprop(model.parameters(), lr=1e-2) if use_optim else None
    for t in range(steps):
        y_pred = model(xx)
        loss = loss_fn(y_pred, y)
        if optimizer is None:
            model.zero_grad()
            loss.backward()
            with torch.no_grad():
                for param in model.parameters():
                    param -= lr * param.grad
        else:
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    linear_layer = model[0]
    print(f"nn{'+optim' if use_optim else ''}: y = {linear_layer.bias.item():.4f} + "
          f"{linear_layer.weight[:, 0].item():.4f} x + {linear_layer.weight[:, 1].item():.4f} "
          f"x^2 + {linear_layer.weight[:, 2].item():.4f} x^3")
    return loss.item(), torch.cat([linear_layer.bias.detach(), linear_layer.weight.detach()[0]])


class Polynomial3(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a = torch.nn.Parameter(torch.randn(()))
        self.b = torch.nn.Parameter(torch.randn(()))
        self.c = torch.nn.Parameter(torch.randn(()))
        self.d = torch.nn.Parameter(torch.randn(()))

    def forward(self, x):
        return self.a + self.b * x + self.c * x ** 2 + self.d * x ** 3

    def string(self):
        return (f"y = {self.a.item()} + {self.b.item()} x + {self.c.item()} x^2 "
                f"+ {self.d.item()} x^3")


class DynamicNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a = torch.nn.Parameter(torch.randn(()))
        self.b = torch.nn.Parameter(torch.randn(()))
        self.c = torch.nn.Parameter(torch.randn(()))
        self.d = torch.nn.Parameter(torch.randn(()))
        self.e = torch.nn.Parameter(torch.randn(()))

    def forward(self, x):
        y = self.a + self.b * x + self.c * x ** 2 + self.d * x ** 3
        for exp in range(4, random.randint(4, 6)):
            y = y + self.e * x ** exp
        return y


def module_fit(model, x, y, steps, lr, momentum):
    criterion = torch.nn.MSELoss(reduction="sum")
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    for t in range(steps):
        loss = criterion(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return loss.item()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=2000)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    random.seed(args.seed)

    dtype = torch.float
    x = torch.linspace(-math.pi, math.pi, args.points, dtype=dtype)
    y = torch.sin(x)
    # the least-squares optimum, for reference
    A = torch.stack([torch.ones_like(x), x, x ** 2, x ** 3], dim=1)
    best = torch.linalg.lstsq(A.double(), y.double().unsqueeze(1)).solution.squeeze(1)
    best_loss = ((A.double() @ best - y.double()) ** 2).sum().item()
    print("least squares:", [round(v, 4) for v in best.tolist()], f"loss {best_loss:.3f}")

    losses = []
    losses.append(tensors(x, y, args.steps, 1e-6))
    losses.append(autograd(x, y, args.steps, 1e-6))
    losses.append(custom_function(x, y, args.steps, 5e-6))
    loss, coef = nn_module(x, y, args.steps, 1e-6, use_optim=False)
    losses.append(loss)
    loss, coef = nn_module(x, y, args.steps, 1e-6, use_optim=True)
    losses.append(loss)
    # the normal equations give the same optimum as lstsq
    normal = torch.linalg.solve(A.double().T @ A.double(), A.double().T @ y.double())
    torch.testing.assert_close(normal, best, rtol=1e-6, atol=1e-8)
    assert torch.allclose(coef.double(), best, atol=0.5), (coef, best)
    model = Polynomial3()
    losses.append(module_fit(model, x, y, args.steps, 1e-6, 0.0))
    print("Polynomial3:", model.string())
    dyn = DynamicNet()
    dyn_loss = module_fit(dyn, x, y, 100, 1e-8, 0.9)
    print(f"DynamicNet loss {dyn_loss:.2f}")
    assert math.isfinite(dyn_loss) and max(losses) < 5000, losses
    print("losses:", [round(v, 3) for v in losses])
    # the Legendre fit starts from fixed values: its loss is seed-independent
    print(f"mean loss per point {sum(losses) / len(losses) / args.points:.6f}")
    print(f"final_loss {losses[2] / args.points:.8f}")


if __name__ == "__main__":
    main()
