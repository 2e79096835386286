"""torch.distributions in three common uses: a VAE whose encoder returns Independent(Normal)
posteriors (rsample, kl_divergence against a standard Normal prior, Bernoulli(logits=)
likelihood); a Gaussian mixture fitted by maximum likelihood with
MixtureSameFamily(Categorical, Independent(Normal)); REINFORCE on a contextual bandit with
Categorical(logits=) sample/log_prob/entropy and a moving-average baseline."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import distributions as D
from torch.distributions import Normal, kl_divergence


class VAE(nn.Module):
    def __init__(self, x_dim=16, z_dim=3, h=64):
        super().__init__()
        self.enc = nn.Sequential(nn.Linear(x_dim, h), nn.ReLU(), nn.Linear(h, 2 * z_dim))
        self.dec = nn.Sequential(nn.Linear(z_dim, h), nn.ReLU(), nn.Linear(h, x_dim))
        self.register_buffer("prior_loc", torch.zeros(z_dim))
        self.register_buffer("prior_scale", torch.ones(z_dim))

    def posterior(self, x):
        loc, raw = self.enc(x).chunk(2, dim=-1)
        return D.Independent(Normal(loc, F.softplus(raw) + 1e-4), 1)

    def prior(self):
        return D.Independent(Normal(self.prior_loc, self.prior_scale), 1)

    def forward(self, x):
        q = self.posterior(x)
        z = q.rsample()
        px = D.Independent(D.Bernoulli(logits=self.dec(z)), 1)
        elbo = px.log_prob(x) - kl_divergence(q, self.prior())
        return -elbo.mean()


def binary_data(n, g):
    z = torch.randn(n, 3, generator=g)
    W = torch.linspace(-2, 2, 48).reshape(3, 16)
    return torch.bernoulli(torch.sigmoid(z @ W), generator=g)


class GMM(nn.Module):
    def __init__(self, k=3, d=2):
        super().__init__()
        self.logits = nn.Parameter(torch.zeros(k))
        self.locs = nn.Parameter(torch.randn(k, d))
        self.log_scales = nn.Parameter(torch.zeros(k, d))

    def dist(self):
        mix = D.Categorical(logits=self.logits)
        comp = D.Independent(D.Normal(self.locs, self.log_scales.exp()), 1)
        return D.MixtureSameFamily(mix, comp)


class Policy(nn.Module):
    def __init__(self, n_ctx=4, n_arms=5):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(n_ctx, 32), nn.Tanh(), nn.Linear(32, n_arms))

    def forward(self, ctx):
        return D.Categorical(logits=self.net(ctx))


if __name__ == "__main__":
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    # 1. VAE
    x = binary_data(1024, g)
    vae = VAE()
    opt = torch.optim.Adam(vae.parameters(), lr=3e-3)
    for step in range(400):
        idx = torch.randint(0, len(x), (128,))
        loss = vae(x[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        vae_loss = vae(x).item()
        q = vae.posterior(x[:4])
        print("posterior", q.batch_shape, q.event_shape, q.mean.shape, q.stddev.mean().item())
        print("analytic kl == mc kl?", kl_divergence(q, vae.prior()).mean().item(),
              (q.log_prob(z := q.sample((2000,))) - vae.prior().log_prob(z)).mean().item())
    print("vae neg elbo", vae_loss)
    # 2. GMM by maximum likelihood
    true = D.MixtureSameFamily(
        D.Categorical(torch.tensor([0.5, 0.3, 0.2])),
        D.Independent(D.Normal(torch.tensor([[-3., 0.], [2., 2.], [2., -3.]]),
                               torch.tensor([[0.5, 0.5], [0.7, 0.3], [0.4, 0.6]])), 1))
    data = true.sample((2000,))
    gmm = GMM()
    with torch.no_grad():
        gmm.locs.copy_(data[torch.randperm(len(data))[:3]])
    opt = torch.optim.Adam(gmm.parameters(), lr=0.05)
    for step in range(300):
        nll = -gmm.dist().log_prob(data).mean()
        opt.zero_grad()
        nll.backward()
        opt.step()
    gmm_nll = -gmm.dist().log_prob(data).mean().item()
    print("gmm nll", gmm_nll, "true nll", -true.log_prob(data).mean().item())
    print("mixture weights", torch.softmax(gmm.logits, 0).detach().sort().values)
    # 3. REINFORCE on a contextual bandit
    W = torch.tensor([[1.0, 0.0, -1.0, 0.5, 0.0], [0.0, 1.0, 0.5, -1.0, 0.2],
                      [-0.5, 0.3, 1.0, 0.0, 0.1], [0.2, -0.4, 0.0, 1.0, -0.3]])
    policy = Policy()
    opt = torch.optim.Adam(policy.parameters(), lr=1e-2)
    baseline = 0.0
    for it in range(300):
        ctx = torch.randn(64, 4)
        pi = policy(ctx)
        a = pi.sample()
        r = (ctx @ W).gather(1, a[:, None]).squeeze(1) + 0.1 * torch.randn(64)
        baseline = 0.9 * baseline + 0.1 * r.mean().item()
        loss = -((r - baseline) * pi.log_prob(a)).mean() - 0.01 * pi.entropy().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        ctx = torch.randn(2000, 4)
        greedy = policy(ctx).probs.argmax(1)
        bandit_acc = (greedy == (ctx @ W).argmax(1)).float().mean().item()
    print("bandit acc", bandit_acc)
    print(f"final_loss {vae_loss / 10 + gmm_nll + (1 - bandit_acc):.4f}")
