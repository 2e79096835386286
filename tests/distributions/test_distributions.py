import numpy as np
import torch

import cadenza


def _c(a):
    return cadenza.tensor(np.asarray(a))


def test_categorical_log_prob_entropy_match_torch():
    logits = np.random.default_rng(0).standard_normal((3, 5))
    v = np.array([0, 4, 2])
    c = cadenza.distributions.Categorical(logits=_c(logits))
    t = torch.distributions.Categorical(logits=torch.tensor(logits))
    np.testing.assert_allclose(c.log_prob(_c(v)).numpy(), t.log_prob(torch.tensor(v)).numpy(),
                               rtol=1e-10)
    np.testing.assert_allclose(c.entropy().numpy(), t.entropy().numpy(), rtol=1e-10)
    cp = cadenza.distributions.Categorical(probs=_c(np.array([0.2, 0.3, 0.5])))
    tp = torch.distributions.Categorical(probs=torch.tensor([0.2, 0.3, 0.5],
                                                            dtype=torch.float64))
    np.testing.assert_allclose(cp.entropy().item(), tp.entropy().item(), rtol=1e-10)


def test_categorical_sampling_frequencies_and_seed():
    cadenza.manual_seed(0)
    d = cadenza.distributions.Categorical(probs=cadenza.tensor([0.1, 0.6, 0.3]))
    s = d.sample((20000,))
    assert tuple(s.shape) == (20000,)
    freq = np.bincount(s.numpy(), minlength=3) / 20000
    np.testing.assert_allclose(freq, [0.1, 0.6, 0.3], atol=0.02)
    cadenza.manual_seed(0)
    assert d.sample((20000,)).tolist() == s.tolist()


def test_categorical_policy_gradient_flows():
    logits = cadenza.zeros(4, requires_grad=True)
    d = cadenza.distributions.Categorical(logits=logits)
    (-d.log_prob(cadenza.tensor(2))).backward()
    tl = torch.zeros(4, requires_grad=True)
    (-torch.distributions.Categorical(logits=tl).log_prob(torch.tensor(2))).backward()
    np.testing.assert_allclose(logits.grad.numpy(), tl.grad.numpy(), rtol=1e-6)


def test_normal_and_bernoulli_match_torch():
    loc, scale, v = np.array([0.5, -1.0]), np.array([1.5, 0.3]), np.array([0.1, -0.8])
    c = cadenza.distributions.Normal(_c(loc), _c(scale))
    t = torch.distributions.Normal(torch.tensor(loc), torch.tensor(scale))
    np.testing.assert_allclose(c.log_prob(_c(v)).numpy(), t.log_prob(torch.tensor(v)).numpy())
    np.testing.assert_allclose(c.entropy().numpy(), t.entropy().numpy())
    p = np.array([0.2, 0.9])
    cb = cadenza.distributions.Bernoulli(probs=_c(p))
    tb = torch.distributions.Bernoulli(probs=torch.tensor(p))
    x = np.array([1.0, 0.0])
    np.testing.assert_allclose(cb.log_prob(_c(x)).numpy(), tb.log_prob(torch.tensor(x)).numpy(),
                               rtol=1e-6)
    np.testing.assert_allclose(cb.entropy().numpy(), tb.entropy().numpy(), rtol=1e-6)
    q = cadenza.distributions.Normal(_c(np.zeros(2)), _c(np.ones(2)))
    tq = torch.distributions.Normal(torch.zeros(2, dtype=torch.float64),
                                    torch.ones(2, dtype=torch.float64))
    np.testing.assert_allclose(cadenza.distributions.kl_divergence(c, q).numpy(),
                               torch.distributions.kl_divergence(t, tq).numpy())


def test_normal_rsample_is_reparameterised():
    mu = cadenza.zeros(3, requires_grad=True)
    d = cadenza.distributions.Normal(mu, cadenza.ones(3))
    d.rsample().sum().backward()
    assert mu.grad.tolist() == [1.0, 1.0, 1.0]


def test_namespace_is_torchs():
    """Every name of torch.distributions.__all__ is here; dir() shows only API names and
    submodules (no helpers such as C, E, math or params leak)."""
    import types

    import torch.distributions as td

    import cadenza.distributions as cd
    assert [n for n in td.__all__ if n not in cd.__all__] == []
    leaked = [n for n in dir(cd) if not n.startswith("_") and n not in cd.__all__
              and not isinstance(getattr(cd, n), types.ModuleType)]
    assert leaked == []
