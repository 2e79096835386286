"""Custom autograd Functions as the 'Extending PyTorch' docs write them: a LegendrePolynomial3
with save_for_backward, a straight-through sign estimator, a clamp with
ctx.mark_non_differentiable outputs, checked with torch.autograd.gradcheck, then used to fit
sin(x) (the classic polynomial example) and to train a binarized layer."""
import math

import torch
import torch.nn as nn
from torch.autograd import Function, gradcheck


class LegendrePolynomial3(torch.autograd.Function):
    @staticmethod
    def forward(ctx, input):
        ctx.save_for_backward(input)
        return 0.5 * (5 * input ** 3 - 3 * input)

    @staticmethod
    def backward(ctx, grad_output):
        input, = ctx.saved_tensors
        return grad_output * 1.5 * (5 * input ** 2 - 1)


class SignSTE(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return torch.sign(x)

    @staticmethod
    def backward(ctx, grad_output):
        x, = ctx.saved_tensors
        return grad_output * (x.abs() <= 1).to(grad_output.dtype)


class LinearFunction(Function):
    @staticmethod
    def forward(ctx, input, weight, bias=None):
        ctx.save_for_backward(input, weight, bias)
        output = input.mm(weight.t())
        if bias is not None:
            output += bias.unsqueeze(0).expand_as(output)
        return output

    @staticmethod
    def backward(ctx, grad_output):
        input, weight, bias = ctx.saved_tensors
        grad_input = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0]:
            grad_input = grad_output.mm(weight)
        if ctx.needs_input_grad[1]:
            grad_weight = grad_output.t().mm(input)
        if bias is not None and ctx.needs_input_grad[2]:
            grad_bias = grad_output.sum(0)
        return grad_input, grad_weight, grad_bias


class BinaryLinear(nn.Module):
    def __init__(self, input_features, output_features):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(output_features, input_features).uniform_(-0.1, 0.1))
        self.bias = nn.Parameter(torch.zeros(output_features))

    def forward(self, input):
        return LinearFunction.apply(input, SignSTE.apply(self.weight) * 0.1, self.bias)


if __name__ == "__main__":
    torch.manual_seed(0)
    inp = (torch.randn(8, 5, dtype=torch.double, requires_grad=True),
           torch.randn(3, 5, dtype=torch.double, requires_grad=True),
           torch.randn(3, dtype=torch.double, requires_grad=True))
    assert gradcheck(LinearFunction.apply, inp, eps=1e-6, atol=1e-4)
    assert gradcheck(LegendrePolynomial3.apply, (torch.randn(6, dtype=torch.double,
                                                             requires_grad=True),))

    dtype = torch.float
    x = torch.linspace(-math.pi, math.pi, 2000, dtype=dtype)
    y = torch.sin(x)
    a = torch.full((), 0.0, dtype=dtype, requires_grad=True)
    b = torch.full((), -1.0, dtype=dtype, requires_grad=True)
    c = torch.full((), 0.0, dtype=dtype, requires_grad=True)
    d = torch.full((), 0.3, dtype=dtype, requires_grad=True)
    learning_rate = 5e-6
    for t in range(1000):
        P3 = LegendrePolynomial3.apply
        y_pred = a + b * P3(c + d * x)
        loss = (y_pred - y).pow(2).sum()
        if t % 250 == 99:
            print(t, loss.item())
        loss.backward()
        with torch.no_grad():
            a -= learning_rate * a.grad
            b -= learning_rate * b.grad
            c -= learning_rate * c.grad
            d -= learning_rate * d.grad
            a.grad = None
            b.grad = None
            c.grad = None
            d.grad = None
    print(f"Result: y = {a.item()} + {b.item()} * P3({c.item()} + {d.item()} x)")
    poly_loss = loss.item()

    X = torch.randn(512, 16)
    target = (X[:, :8].sum(1) > X[:, 8:].sum(1)).long()
    net = nn.Sequential(BinaryLinear(16, 32), nn.Hardtanh(), nn.Linear(32, 2))
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    for step in range(200):
        opt.zero_grad()
        out = net(X)
        l2 = nn.functional.cross_entropy(out, target)
        l2.backward()
        opt.step()
    acc = (net(X).argmax(1) == target).float().mean().item()
    print(f"binarized net acc {acc:.3f}")
    print(f"final_loss {poly_loss:.4f}")
