"""Exact Gaussian-process regression written by hand (the GPyTorch-free tutorial way), in float64
and deterministic: an RBF + periodic kernel from torch.cdist, positive hyperparameters through
F.softplus of raw parameters, the negative log marginal likelihood via torch.linalg.cholesky,
torch.cholesky_solve and the log-diagonal of L, checked against
distributions.MultivariateNormal(scale_tril=L).log_prob; hyperparameters fitted with Adam then
optim.LBFGS(line_search_fn="strong_wolfe"); the predictive mean/variance through
torch.linalg.solve_triangular; a forward-mode (torch.autograd.forward_ad) directional derivative
of the NLL checked against the reverse-mode gradient. The metric is the test NLL + RMSE."""
import math

import torch
import torch.autograd.forward_ad as fwAD
import torch.nn as nn
import torch.nn.functional as F
from torch.distributions import MultivariateNormal


def make_data():
    x = torch.linspace(0, 6, 48, dtype=torch.float64).unsqueeze(1)
    noise = 0.15 * torch.sin(37.0 * x.squeeze(1)) * torch.cos(11.0 * x.squeeze(1))
    y = torch.sin(2 * x.squeeze(1)) + 0.3 * x.squeeze(1) + noise
    xt = torch.linspace(0.05, 6.05, 31, dtype=torch.float64).unsqueeze(1)
    yt = torch.sin(2 * xt.squeeze(1)) + 0.3 * xt.squeeze(1)
    return x, y, xt, yt


class GP(nn.Module):
    def __init__(self):
        super().__init__()
        self.raw_ls = nn.Parameter(torch.tensor(0.0, dtype=torch.float64))
        self.raw_var = nn.Parameter(torch.tensor(0.5, dtype=torch.float64))
        self.raw_period = nn.Parameter(torch.tensor(1.0, dtype=torch.float64))
        self.raw_pvar = nn.Parameter(torch.tensor(-1.0, dtype=torch.float64))
        self.raw_noise = nn.Parameter(torch.tensor(-2.0, dtype=torch.float64))
        self.mean = nn.Parameter(torch.zeros((), dtype=torch.float64))

    def kernel(self, a, b):
        d = torch.cdist(a, b)
        ls, var = F.softplus(self.raw_ls), F.softplus(self.raw_var)
        period, pvar = F.softplus(self.raw_period) + 0.5, F.softplus(self.raw_pvar)
        rbf = var * torch.exp(-0.5 * (d / ls) ** 2)
        per = pvar * torch.exp(-2 * torch.sin(math.pi * d / period) ** 2)
        return rbf + per

    def noise(self):
        return F.softplus(self.raw_noise) + 1e-4

    def nll(self, x, y):
        K = self.kernel(x, x) + self.noise() * torch.eye(len(x), dtype=x.dtype)
        L = torch.linalg.cholesky(K)
        r = (y - self.mean).unsqueeze(1)
        alpha = torch.cholesky_solve(r, L)
        n = len(x)
        return (0.5 * (r * alpha).sum() + L.diagonal().log().sum()
                + 0.5 * n * math.log(2 * math.pi)) / n, L

    def forward(self, x, y):
        return self.nll(x, y)[0]

    def predict(self, x, y, xs):
        K = self.kernel(x, x) + self.noise() * torch.eye(len(x), dtype=x.dtype)
        L = torch.linalg.cholesky(K)
        Ks = self.kernel(x, xs)
        A = torch.linalg.solve_triangular(L, Ks, upper=False)
        v = torch.linalg.solve_triangular(L, (y - self.mean).unsqueeze(1), upper=False)
        mu = self.mean + (A.T @ v).squeeze(1)
        var = self.kernel(xs, xs).diagonal() - (A * A).sum(0) + self.noise()
        return mu, var


def main():
    x, y, xt, yt = make_data()
    gp = GP()
    nll, L = gp.nll(x, y)
    mvn = MultivariateNormal(gp.mean.expand(len(x)), scale_tril=L)
    ref = -mvn.log_prob(y) / len(x)
    print(f"initial nll {nll.item():.10f} (MultivariateNormal {ref.item():.10f})")
    assert torch.allclose(nll, ref)
    # forward-mode directional derivative vs reverse-mode gradient
    params = dict(gp.named_parameters())
    tangent = {k: torch.full_like(v, 0.1 * (i + 1)) for i, (k, v) in enumerate(params.items())}
    grads = torch.autograd.grad(gp.nll(x, y)[0], list(params.values()))
    reverse = sum((g * tangent[k]).sum() for g, k in zip(grads, params))
    with fwAD.dual_level():
        duals = {k: fwAD.make_dual(v.detach(), tangent[k]) for k, v in params.items()}
        out = torch.func.functional_call(gp, duals, (x, y))
        forward = fwAD.unpack_dual(out).tangent
    print(f"directional derivative forward {forward.item():.10f} reverse {reverse.item():.10f}")
    assert torch.allclose(forward, reverse, rtol=1e-6, atol=1e-9)
    opt = torch.optim.Adam(gp.parameters(), lr=0.05)
    for step in range(60):
        opt.zero_grad()
        loss, _ = gp.nll(x, y)
        loss.backward()
        opt.step()
    print(f"adam nll {loss.item():.10f}")
    lbfgs = torch.optim.LBFGS(gp.parameters(), lr=1, max_iter=40,
                              line_search_fn="strong_wolfe")

    def closure():
        lbfgs.zero_grad()
        loss, _ = gp.nll(x, y)
        loss.backward()
        return loss

    lbfgs.step(closure)
    loss, _ = gp.nll(x, y)
    print(f"lbfgs nll {loss.item():.10f}")
    with torch.no_grad():
        mu, var = gp.predict(x, y, xt)
        test_nll = 0.5 * (torch.log(2 * math.pi * var) + (yt - mu) ** 2 / var).mean()
        rmse = ((mu - yt) ** 2).mean().sqrt()
    print("lengthscale", F.softplus(gp.raw_ls).item(), "noise", gp.noise().item())
    print(f"test nll {test_nll.item():.8f} rmse {rmse.item():.8f}")
    print(f"final_loss {test_nll.item() + rmse.item():.8f}")


if __name__ == "__main__":
    main()
