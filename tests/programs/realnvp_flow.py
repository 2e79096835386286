"""A RealNVP normalizing flow on the two-moons distribution (the "normalizing flows in
PyTorch" tutorials): affine coupling layers with alternating binary masks registered as
buffers, scale nets with Tanh, log-det-Jacobian bookkeeping, a
torch.distributions.MultivariateNormal base (loc / covariance_matrix), log_prob + sample, a
TransformedDistribution sanity check with AffineTransform, Adam + gradient clipping, and
negative log-likelihood on held-out points."""
import numpy as np
import torch
import torch.nn as nn
from torch import distributions
from torch.distributions.transforms import AffineTransform


def two_moons(n, noise=0.06, seed=0):
    rs = np.random.RandomState(seed)
    n1 = n // 2
    t1 = rs.uniform(0, np.pi, n1)
    t2 = rs.uniform(0, np.pi, n - n1)
    a = np.stack([np.cos(t1), np.sin(t1)], 1)
    b = np.stack([1 - np.cos(t2), 0.5 - np.sin(t2)], 1)
    X = np.concatenate([a, b]) + rs.normal(0, noise, (n, 2))
    return torch.tensor(X, dtype=torch.float32)


class RealNVP(nn.Module):
    def __init__(self, nets, nett, mask, prior):
        super().__init__()
        self.prior = prior
        self.register_buffer("mask", mask)
        self.t = nn.ModuleList([nett() for _ in range(len(mask))])
        self.s = nn.ModuleList([nets() for _ in range(len(mask))])

    def g(self, z):
        x = z
        for i in range(len(self.t)):
            x_ = x * self.mask[i]
            s = self.s[i](x_) * (1 - self.mask[i])
            t = self.t[i](x_) * (1 - self.mask[i])
            x = x_ + (1 - self.mask[i]) * (x * torch.exp(s) + t)
        return x

    def f(self, x):
        log_det_J, z = x.new_zeros(x.shape[0]), x
        for i in reversed(range(len(self.t))):
            z_ = self.mask[i] * z
            s = self.s[i](z_) * (1 - self.mask[i])
            t = self.t[i](z_) * (1 - self.mask[i])
            z = (1 - self.mask[i]) * (z - t) * torch.exp(-s) + z_
            log_det_J -= s.sum(dim=1)
        return z, log_det_J

    def log_prob(self, x):
        z, logp = self.f(x)
        return self.prior.log_prob(z) + logp

    def sample(self, batch_size):
        z = self.prior.sample((batch_size,))
        return self.g(z)


def main():
    torch.manual_seed(0)
    nets = lambda: nn.Sequential(nn.Linear(2, 64), nn.LeakyReLU(), nn.Linear(64, 64),
                                 nn.LeakyReLU(), nn.Linear(64, 2), nn.Tanh())
    nett = lambda: nn.Sequential(nn.Linear(2, 64), nn.LeakyReLU(), nn.Linear(64, 64),
                                 nn.LeakyReLU(), nn.Linear(64, 2))
    masks = torch.from_numpy(np.array([[0, 1], [1, 0]] * 3).astype(np.float32))
    prior = distributions.MultivariateNormal(torch.zeros(2), torch.eye(2))
    flow = RealNVP(nets, nett, masks, prior)
    print("prior", prior, "event shape", prior.event_shape, "batch shape", prior.batch_shape)

    # the base distribution pushed through an affine map is a Gaussian with known density
    td = distributions.TransformedDistribution(
        distributions.Normal(torch.zeros(2), torch.ones(2)),
        [AffineTransform(loc=torch.tensor([1.0, -1.0]), scale=torch.tensor([2.0, 0.5]))])
    pts = torch.tensor([[0.0, 0.0], [1.0, -1.0]])
    direct = distributions.Normal(torch.tensor([1.0, -1.0]), torch.tensor([2.0, 0.5]))
    print("transformed log_prob matches:",
          torch.allclose(td.log_prob(pts), direct.log_prob(pts), atol=1e-6))

    train, test = two_moons(2000, seed=0), two_moons(500, seed=1)
    optimizer = torch.optim.Adam([p for p in flow.parameters() if p.requires_grad], lr=2e-3)
    for t in range(601):
        idx = torch.randint(0, len(train), (128,))
        loss = -flow.log_prob(train[idx]).mean()
        optimizer.zero_grad()
        loss.backward(retain_graph=False)
        torch.nn.utils.clip_grad_norm_(flow.parameters(), 5.0)
        optimizer.step()
        if t % 200 == 0:
            print(f"iter {t}: loss = {loss.item():.3f}")
    flow.eval()
    with torch.no_grad():
        nll = -flow.log_prob(test).mean().item()
        samples = flow.sample(1000)
        z, _ = flow.f(test)
        recon = flow.g(z)
    print(f"invertible: {torch.allclose(recon, test, atol=1e-4)}; samples mean "
          f"{samples.mean(0)} std {samples.std(0)}")
    print(f"final_loss {nll:.4f}")


if __name__ == "__main__":
    main()
