"""A Mixture Density Network (Bishop 1994) on the inverted sine problem, as in hardmaru's and
many blog posts' PyTorch MDN: one hidden layer to pi (softmax over K), sigma (exp) and mu heads,
the negative log-likelihood written by hand with `torch.logsumexp` over log pi + Normal
log-densities (`math.log(2 * math.pi)`), the same loss through
`torch.distributions.MixtureSameFamily(Categorical(logits), Normal)` as a check, and sampling
by `torch.multinomial` on pi then `torch.normal(mu, sigma)`."""
import argparse
import math

import numpy as np
import torch
import torch.nn as nn
from torch.distributions import Categorical, MixtureSameFamily, Normal


class MDN(nn.Module):
    def __init__(self, n_hidden=24, n_gaussians=5):
        super(MDN, self).__init__()
        self.z_h = nn.Sequential(nn.Linear(1, n_hidden), nn.Tanh())
        self.z_pi = nn.Linear(n_hidden, n_gaussians)
        self.z_sigma = nn.Linear(n_hidden, n_gaussians)
        self.z_mu = nn.Linear(n_hidden, n_gaussians)

    def forward(self, x):
        z_h = self.z_h(x)
        pi = nn.functional.softmax(self.z_pi(z_h), -1)
        sigma = torch.exp(self.z_sigma(z_h))
        mu = self.z_mu(z_h)
        return pi, sigma, mu


def mdn_loss_fn(pi, sigma, mu, y):
    log_prob = -0.5 * ((y - mu) / sigma) ** 2 - torch.log(sigma) - 0.5 * math.log(2 * math.pi)
    return -torch.logsumexp(torch.log(pi) + log_prob, dim=1).mean()


def sample(pi, sigma, mu):
    k = torch.multinomial(pi, 1)
    return torch.normal(mu.gather(1, k), sigma.gather(1, k))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=800)
    args = parser.parse_args()
    n_samples = 1000
    rng = np.random.RandomState(0)
    y_data = np.float32(rng.uniform(-10.5, 10.5, (n_samples, 1)))
    r_data = np.float32(rng.normal(size=(n_samples, 1)))
    x_data = np.float32(np.sin(0.75 * y_data) * 7.0 + y_data * 0.5 + r_data * 1.0)
    x_tensor = torch.from_numpy(x_data / 10.0)
    y_tensor = torch.from_numpy(y_data / 10.0)
    torch.manual_seed(0)
    network = MDN()
    optimizer = torch.optim.Adam(network.parameters(), lr=0.02)
    for epoch in range(args.epochs):
        pi, sigma, mu = network(x_tensor)
        loss = mdn_loss_fn(pi, sigma, mu, y_tensor)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if epoch % 200 == 0:
            print(f"epoch {epoch} nll {loss.item():.4f}")
    with torch.no_grad():
        pi, sigma, mu = network(x_tensor)
        mixture = MixtureSameFamily(Categorical(probs=pi), Normal(mu, sigma))
        nll_dist = -mixture.log_prob(y_tensor.squeeze(1)).mean()
        nll = mdn_loss_fn(pi, sigma, mu, y_tensor)
        assert abs(nll.item() - nll_dist.item()) < 1e-4, (nll.item(), nll_dist.item())
        x_test = torch.linspace(-1.5, 1.5, 200).unsqueeze(1)
        samples = sample(*network(x_test))
        print(f"samples in range {samples.min().item():.2f}..{samples.max().item():.2f}, "
              f"mixture mean of x=0: {mixture.mean[:3].tolist()}")
    print(f"final_loss {nll.item():.4f}")


if __name__ == "__main__":
    main()
