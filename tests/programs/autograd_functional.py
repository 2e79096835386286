"""torch.autograd.functional: jacobian / hessian / vjp / jvp / hvp / vhp on small functions
(vectorize=True and create_graph), checked against closed forms; Newton's method with the
Hessian on the Rosenbrock function; Gauss-Newton fitting of an exponential decay with the
Jacobian of the residuals; torch.autograd.grad with create_graph for a gradient-norm penalty.
Deterministic: the result does not depend on random streams."""
import torch
from torch.autograd.functional import hessian, hvp, jacobian, jvp, vhp, vjp


def rosenbrock(x):
    return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2


def model(params, t):
    a, k, c = params
    return a * torch.exp(-k * t) + c


if __name__ == "__main__":
    torch.set_default_dtype(torch.float64)
    # closed forms
    A = torch.tensor([[2.0, -1.0, 0.0], [-1.0, 3.0, 1.0], [0.0, 1.0, 4.0]])
    x = torch.tensor([0.3, -0.2, 0.5])
    f = lambda v: 0.5 * v @ A @ v + torch.sin(v).sum()
    H = hessian(f, x)
    err = (H - (A - torch.diag(torch.sin(x)))).abs().max().item()
    J = jacobian(lambda v: torch.stack([v.prod(), (v ** 2).sum(), v[0] * torch.exp(v[2])]), x,
                 vectorize=True)
    J_true = torch.tensor([[x[1] * x[2], x[0] * x[2], x[0] * x[1]], (2 * x).tolist(),
                           [torch.exp(x[2]), 0.0, x[0] * torch.exp(x[2])]])
    err = max(err, (J - J_true).abs().max().item())
    v = torch.tensor([1.0, 0.5, -1.0])
    _, hv = hvp(f, x, v)
    _, vh = vhp(f, x, v)
    _, jv = jvp(lambda u: torch.tanh(u) * 2, x, v)
    _, vj = vjp(lambda u: u.exp().cumsum(0), x, v)
    err = max(err, (hv - H @ v).abs().max().item(), (vh - v @ H).abs().max().item(),
              (jv - 2 * (1 - torch.tanh(x) ** 2) * v).abs().max().item(),
              (vj - x.exp() * v.flip(0).cumsum(0).flip(0)).abs().max().item())
    # tuple inputs, create_graph
    Jt = jacobian(lambda a, b: (a * b).sum() + a.pow(3).sum(), (x, v), create_graph=True)
    err = max(err, (Jt[0] - (v + 3 * x ** 2)).abs().max().item(), (Jt[1] - x).abs().max().item())
    print("closed-form max error", err)
    assert err < 1e-10

    # Newton on Rosenbrock
    p = torch.tensor([-1.2, 1.0])
    for it in range(30):
        g = jacobian(rosenbrock, p)
        Hr = hessian(rosenbrock, p)
        p = p - torch.linalg.solve(Hr, g)
    newton_err = (p - 1).abs().max().item()
    print("newton", p.tolist(), newton_err)

    # Gauss-Newton / Levenberg-Marquardt
    t = torch.linspace(0, 4, 40)
    y = model(torch.tensor([2.5, 1.3, 0.4]), t) + 0.01 * torch.sin(17 * t)
    params = torch.tensor([1.0, 0.5, 0.0])
    lam = 1e-3
    for it in range(25):
        r = model(params, t) - y
        Jr = jacobian(lambda q: model(q, t) - y, params)
        step = torch.linalg.solve(Jr.T @ Jr + lam * torch.eye(3), Jr.T @ r)
        params = params - step
    fit_loss = ((model(params, t) - y) ** 2).mean().item()
    print("fit", params.tolist(), fit_loss)

    # gradient penalty through create_graph
    w = torch.tensor([0.5, -0.3, 0.8], requires_grad=True)
    opt = torch.optim.SGD([w], lr=0.05)
    for it in range(100):
        inp = torch.tensor([1.0, 2.0, -1.0], requires_grad=True)
        out = torch.tanh(inp @ w) + (w ** 2).sum()
        (gi,) = torch.autograd.grad(out, inp, create_graph=True)
        loss = (out - 0.5) ** 2 + 0.1 * gi.pow(2).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    print("penalty loss", loss.item())
    print(f"final_loss {fit_loss + newton_err + loss.item():.8f}")
