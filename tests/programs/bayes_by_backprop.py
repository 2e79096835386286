"""Bayesian neural network regression by variational inference ("Bayes by Backprop",
Blundell et al.), written with torch.distributions as blog posts do: a BayesianLinear layer
with weight mean / rho parameters, sigma = softplus(rho) (`F.softplus`), weights drawn with
`Normal(mu, sigma).rsample()`, the KL to a Normal prior by `torch.distributions.kl_divergence`
(summed), the ELBO with a learnt observation noise (`Normal(pred, noise).log_prob(y)`), several
Monte-Carlo samples, and predictive mean / std from repeated stochastic forward passes."""
import argparse

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.distributions import Normal, kl_divergence


class BayesianLinear(nn.Module):
    def __init__(self, in_features, out_features, prior_sigma=1.0):
        super().__init__()
        self.weight_mu = nn.Parameter(torch.Tensor(out_features, in_features).uniform_(-0.2, 0.2))
        self.weight_rho = nn.Parameter(torch.Tensor(out_features, in_features).fill_(-5.0))
        self.bias_mu = nn.Parameter(torch.Tensor(out_features).uniform_(-0.2, 0.2))
        self.bias_rho = nn.Parameter(torch.Tensor(out_features).fill_(-5.0))
        self.prior = Normal(torch.tensor(0.0), torch.tensor(prior_sigma))
        self.kl = 0

    def forward(self, x):
        weight_q = Normal(self.weight_mu, F.softplus(self.weight_rho))
        bias_q = Normal(self.bias_mu, F.softplus(self.bias_rho))
        weight = weight_q.rsample()
        bias = bias_q.rsample()
        self.kl = kl_divergence(weight_q, self.prior).sum() + \
            kl_divergence(bias_q, self.prior).sum()
        return F.linear(x, weight, bias)


class BNN(nn.Module):
    def __init__(self, hidden=32):
        super().__init__()
        self.l1 = BayesianLinear(1, hidden)
        self.l2 = BayesianLinear(hidden, hidden)
        self.l3 = BayesianLinear(hidden, 1)
        self.log_noise = nn.Parameter(torch.tensor(-1.0))

    def forward(self, x):
        x = torch.tanh(self.l1(x))
        x = torch.tanh(self.l2(x))
        return self.l3(x)

    def kl_loss(self):
        return sum(m.kl for m in self.modules() if isinstance(m, BayesianLinear))


def elbo_loss(model, x, y, n_data, samples=3):
    nll = 0.0
    for _ in range(samples):
        pred = model(x)
        nll = nll - Normal(pred, model.log_noise.exp()).log_prob(y).sum()
    nll = nll / samples
    # the KL of the last sample's posteriors (closed form, the same for every sample)
    return nll * (n_data / x.shape[0]) + model.kl_loss(), nll / x.shape[0]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=60)
    args = parser.parse_args()
    rng = np.random.RandomState(0)
    x = np.concatenate([rng.uniform(-3, -0.7, 150), rng.uniform(0.7, 3, 150)])
    y = np.sin(x) + 0.1 * x + rng.randn(300) * 0.1
    X = torch.tensor(x, dtype=torch.float32).unsqueeze(1)
    Y = torch.tensor(y, dtype=torch.float32).unsqueeze(1)
    dataset = torch.utils.data.TensorDataset(X, Y)
    torch.manual_seed(0)
    loader = torch.utils.data.DataLoader(dataset, batch_size=100, shuffle=True)
    model = BNN()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for epoch in range(args.epochs):
        for xb, yb in loader:
            optimizer.zero_grad()
            loss, nll = elbo_loss(model, xb, yb, len(dataset))
            loss.backward()
            optimizer.step()
        if epoch % 20 == 0:
            print(f"epoch {epoch} elbo {loss.item():.2f} nll {nll.item():.3f} "
                  f"noise {model.log_noise.exp().item():.3f}")
    model.eval()
    with torch.no_grad():
        x_test = torch.linspace(-3, 3, 61).unsqueeze(1)
        preds = torch.stack([model(x_test) for _ in range(100)])
        mean, std = preds.mean(0), preds.std(0)
        gap = (x_test.abs() < 0.5).squeeze(1)
        print(f"predictive std in the gap {std[gap].mean().item():.3f}, "
              f"outside {std[~gap].mean().item():.3f}")
        truth = torch.sin(x_test) + 0.1 * x_test
        outside = ~gap
        noise = model.log_noise.exp()
        total_sd = (std ** 2 + noise ** 2).sqrt()
        test_nll = -Normal(mean[outside], total_sd[outside]).log_prob(truth[outside]).mean()
    print(f"rmse outside the gap {F.mse_loss(mean[outside], truth[outside]).sqrt().item():.4f}")
    print(f"final_loss {test_nll.item():.4f}")


if __name__ == "__main__":
    main()
