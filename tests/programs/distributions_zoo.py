"""torch.distributions beyond Normal/Categorical, the way probabilistic-modelling blog posts use
them: maximum-likelihood fits with Adam of Gamma (positive parameters through
`constraints.positive` and `biject_to`), StudentT (robust regression against outliers),
Dirichlet (topic proportions), LowRankMultivariateNormal (factor analysis), a
`TransformedDistribution` (LogNormal built from Normal + ExpTransform, checked against
`LogNormal`; a logit-normal via SigmoidTransform; a ComposeTransform with AffineTransform),
`Independent`, a user-registered KL (`register_kl`) beside the library's `kl_divergence`
pairs, `cdf`/`icdf`, `entropy`, `enumerate_support`, `expand`, Binomial / Poisson /
OneHotCategorical / Uniform / Laplace / Beta / HalfNormal log-probs, and a Monte-Carlo check of
`rsample` means. The data come from NumPy's RandomState, so the fitted objective is
deterministic: the metric is the sum of the fitted negative log-likelihoods."""
import math

import numpy as np
import torch
import torch.distributions as D
from torch.distributions import constraints, transform_to
from torch.distributions.kl import kl_divergence, register_kl
from torch.testing import assert_close


class Pareto2(D.Distribution):
    """A user distribution (Lomax) with a registered KL to Exponential by quadrature."""
    arg_constraints = {"scale": constraints.positive, "alpha": constraints.positive}
    support = constraints.positive

    def __init__(self, scale, alpha, validate_args=None):
        self.scale, self.alpha = torch.as_tensor(scale), torch.as_tensor(alpha)
        super().__init__(self.scale.shape, validate_args=validate_args)

    def log_prob(self, x):
        return (self.alpha.log() - self.scale.log()
                - (self.alpha + 1) * torch.log1p(x / self.scale))


@register_kl(Pareto2, D.Exponential)
def _kl_pareto2_exponential(p, q):
    x = torch.linspace(1e-4, 60.0, 6001, dtype=torch.float64)
    px = p.log_prob(x).exp()
    integrand = px * (p.log_prob(x) - q.log_prob(x))
    return torch.trapezoid(integrand, x)


def fit(params, nll_fn, steps, lr):
    opt = torch.optim.Adam(params, lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        loss = nll_fn()
        loss.backward()
        opt.step()
    return nll_fn().item()


def main():
    torch.set_default_dtype(torch.float64)
    rs = np.random.RandomState(0)
    total = 0.0

    # Gamma: unconstrained parameters mapped through biject_to(constraints.positive)
    g_data = torch.tensor(rs.gamma(3.0, 1 / 2.0, size=400))
    raw = torch.zeros(2, requires_grad=True)
    to_pos = transform_to(constraints.positive)
    nll = fit([raw], lambda: -D.Gamma(*to_pos(raw)).log_prob(g_data).mean(), 200, 0.05)
    conc, rate = to_pos(raw).tolist()
    print(f"Gamma: concentration {conc:.3f} rate {rate:.3f} nll {nll:.5f}")
    total += nll

    # StudentT regression vs outliers
    x = torch.tensor(rs.uniform(-2, 2, size=200))
    y = 1.5 * x - 0.5 + torch.tensor(rs.standard_t(2.0, size=200)) * 0.3
    w = torch.zeros(2, requires_grad=True)
    log_scale = torch.zeros((), requires_grad=True)
    log_df = torch.zeros((), requires_grad=True)

    def t_nll():
        dist = D.StudentT(log_df.exp() + 1, w[0] * x + w[1], log_scale.exp())
        return -dist.log_prob(y).mean()
    nll = fit([w, log_scale, log_df], t_nll, 200, 0.05)
    print(f"StudentT: slope {w[0].item():.3f} intercept {w[1].item():.3f} "
          f"df {log_df.exp().item() + 1:.3f} nll {nll:.5f}")
    total += nll

    # Dirichlet
    props = torch.tensor(rs.dirichlet([2.0, 5.0, 1.0], size=300))
    log_alpha = torch.zeros(3, requires_grad=True)
    nll = fit([log_alpha], lambda: -D.Dirichlet(log_alpha.exp()).log_prob(props).mean(),
              200, 0.05)
    print(f"Dirichlet: alpha {[round(a, 3) for a in log_alpha.exp().tolist()]} nll {nll:.5f}")
    total += nll

    # factor analysis with LowRankMultivariateNormal
    W_true = rs.randn(6, 2)
    z = rs.randn(300, 2)
    obs = torch.tensor(z @ W_true.T + rs.randn(300, 6) * 0.3 + 1.0)
    loc = torch.zeros(6, requires_grad=True)
    W = torch.tensor(rs.randn(6, 2) * 0.1, requires_grad=True)
    log_d = torch.zeros(6, requires_grad=True)

    def fa_nll():
        return -D.LowRankMultivariateNormal(loc, W, log_d.exp()).log_prob(obs).mean()
    nll = fit([loc, W, log_d], fa_nll, 150, 0.05)
    lr_mvn = D.LowRankMultivariateNormal(loc, W, log_d.exp())
    full = D.MultivariateNormal(loc, covariance_matrix=lr_mvn.covariance_matrix)
    assert_close(lr_mvn.log_prob(obs[:5]), full.log_prob(obs[:5]))
    assert_close(lr_mvn.entropy(), full.entropy())
    print(f"LowRankMVN: nll {nll:.5f} noise {[round(v, 3) for v in log_d.exp().tolist()]}")
    total += nll

    # transformed distributions
    base = D.Normal(torch.tensor(0.3), torch.tensor(0.7))
    lognormal = D.TransformedDistribution(base, [D.transforms.ExpTransform()])
    pts = torch.tensor([0.2, 1.0, 3.5])
    assert_close(lognormal.log_prob(pts), D.LogNormal(0.3, 0.7).log_prob(pts))
    logit_normal = D.TransformedDistribution(base, D.transforms.SigmoidTransform())
    affine_exp = D.TransformedDistribution(base, D.transforms.ComposeTransform(
        [D.transforms.AffineTransform(1.0, 2.0), D.transforms.ExpTransform()]))
    tr = (logit_normal.log_prob(torch.tensor([0.1, 0.5, 0.9])).sum()
          + affine_exp.log_prob(torch.tensor([2.0, 5.0])).sum())
    print(f"transformed log-probs {tr.item():.6f}")
    total += tr.item()

    # cdf / icdf / entropy / support / expand / Independent
    n = D.Normal(torch.tensor([0.0, 1.0]), torch.tensor([1.0, 2.0]))
    q = torch.tensor([0.1, 0.975])
    assert_close(n.cdf(n.icdf(q)), q)
    lap = D.Laplace(0.5, 2.0)
    assert_close(lap.cdf(lap.icdf(q)), q)
    cat = D.Categorical(probs=torch.tensor([0.2, 0.3, 0.5]))
    support = cat.enumerate_support()
    assert_close(cat.log_prob(support).exp().sum(), torch.tensor(1.0))
    ind = D.Independent(D.Normal(torch.zeros(3, 4), torch.ones(3, 4)), 1)
    assert ind.batch_shape == (3,) and ind.event_shape == (4,)
    ex = D.Normal(0.0, 1.0).expand([2, 3])
    assert ex.batch_shape == (2, 3)
    ent = sum(d.entropy().sum().item() for d in (
        n, lap, cat, D.Gamma(2.0, 3.0), D.Beta(2.0, 5.0), D.Dirichlet(torch.ones(4)),
        D.StudentT(3.0), D.HalfNormal(1.5), D.Uniform(-1.0, 3.0), D.Exponential(2.0), ind))
    print(f"entropies {ent:.6f}")
    total += ent

    discrete = (D.Binomial(10, probs=torch.tensor(0.3)).log_prob(torch.tensor(4.0))
                + D.Poisson(3.5).log_prob(torch.tensor([0.0, 2.0, 7.0])).sum()
                + D.OneHotCategorical(logits=torch.tensor([0.1, 1.0, -0.5])).log_prob(
                    torch.tensor([0.0, 1.0, 0.0]))
                + D.Geometric(probs=torch.tensor(0.25)).log_prob(torch.tensor(3.0))
                + D.Bernoulli(logits=torch.tensor(0.3)).log_prob(torch.tensor(1.0)))
    print(f"discrete log-probs {discrete.item():.6f}")
    total += discrete.item()

    kls = (kl_divergence(D.Normal(0.0, 1.0), D.Normal(1.0, 2.0))
           + kl_divergence(D.Gamma(2.0, 1.0), D.Gamma(3.0, 2.0))
           + kl_divergence(D.Beta(2.0, 3.0), D.Beta(1.0, 1.0))
           + kl_divergence(D.Dirichlet(torch.tensor([1.0, 2.0, 3.0])),
                           D.Dirichlet(torch.ones(3)))
           + kl_divergence(D.Categorical(logits=torch.tensor([0.0, 1.0])),
                           D.Categorical(logits=torch.tensor([1.0, 0.0])))
           + kl_divergence(D.Laplace(0.0, 1.0), D.Laplace(1.0, 2.0))
           + kl_divergence(D.Exponential(1.0), D.Exponential(3.0)))
    user_kl = kl_divergence(Pareto2(2.0, 3.0), D.Exponential(1.0))
    print(f"kl sum {kls.item():.6f} user kl {user_kl.item():.5f}")
    total += kls.item() + user_kl.item()

    # Monte Carlo: rsample is differentiable and unbiased
    torch.manual_seed(0)
    mu = torch.tensor(1.0, requires_grad=True)
    samples = D.Normal(mu, 0.5).rsample((20000,))
    samples.mean().backward()
    assert abs(mu.grad.item() - 1.0) < 1e-9
    assert abs(samples.mean().item() - 1.0) < 0.02
    gs = D.Gamma(torch.tensor(3.0), torch.tensor(2.0)).rsample((20000,))
    assert abs(gs.mean().item() - 1.5) < 0.05, gs.mean()
    assert math.isfinite(total)
    print(f"final_loss {total:.8f}")


if __name__ == "__main__":
    main()
