"""kl_divergence for every (p, q) class pair torch registers, vs torch on the same float64
parameters (values, infinities where p's support leaves q's, and gradients)."""
import numpy as np
import pytest
import torch

import cadenza
import cadenza.distributions as cd
import torch.distributions as td
from torch.distributions.kl import _KL_REGISTRY


def _t(mod, a):
    a = np.asarray(a, dtype=np.float64)
    if mod is td:
        return torch.tensor(a, requires_grad=True)
    return cadenza.tensor(a, requires_grad=True)


def _make(mod, name, which, leaves):
    """A batch-of-3 instance of ``name`` from module ``mod`` (two parameter sets: 0 and 1);
    its parameter tensors are appended to ``leaves``."""
    s = [1.0, 0.6][which]

    def T(a):
        leaves.append(_t(mod, a))
        return leaves[-1]
    tr = cd.transforms if mod is cd else td.transforms
    table = {
        "Bernoulli": lambda: mod.Bernoulli(probs=T([0.2, 0.5, 0.9][::1 - 2 * which])),
        "Beta": lambda: mod.Beta(T([0.7 * s, 2.0, 5.0]), T([1.5, 0.8 * s, 3.0])),
        "Binomial": lambda: mod.Binomial(T([5.0, 5.0, 7.0]), probs=T([0.2 * s, 0.5, 0.9])),
        "Categorical": lambda: mod.Categorical(probs=T([[0.2, 0.3, 0.5], [0.6, 0.1, 0.3],
                                                        [0.3 * s, 0.3, 0.4]])),
        "Cauchy": lambda: mod.Cauchy(T([0.1, -1.0 * s, 2.0]), T([0.5, 1.5, 3.0 * s])),
        "ContinuousBernoulli": lambda: mod.ContinuousBernoulli(T([0.2 * s, 0.7, 0.4])),
        "Dirichlet": lambda: mod.Dirichlet(T([[0.7, 2.0, 5.0], [1.5, 0.8 * s, 3.0],
                                              [1.0, 1.0, 1.0]])),
        "Exponential": lambda: mod.Exponential(T([0.5 * s, 1.0, 2.5])),
        "Gamma": lambda: mod.Gamma(T([0.7 * s, 2.0, 5.0]), T([0.5, 1.5, 3.0 * s])),
        "Geometric": lambda: mod.Geometric(T([0.2 * s, 0.5, 0.9])),
        "Gumbel": lambda: mod.Gumbel(T([0.1, -1.0 * s, 2.0]), T([0.5, 1.5, 3.0 * s])),
        "HalfNormal": lambda: mod.HalfNormal(T([0.5 * s, 1.5, 3.0])),
        "Independent": lambda: mod.Independent(mod.Normal(T([[0.1, -1.0], [2.0 * s, 0.3],
                                                             [0.0, 1.0]]),
                                                          T([[0.5, 1.5], [3.0, 1.0 * s],
                                                             [1.0, 2.0]])), 1),
        "Laplace": lambda: mod.Laplace(T([0.1, -1.0 * s, 2.0]), T([0.5, 1.5, 3.0 * s])),
        "LowRankMultivariateNormal": lambda: mod.LowRankMultivariateNormal(
            T([0.1, -1.0 * s, 0.4]), T([[0.5, 0.1], [0.3, -0.7 * s], [1.0, 0.2]]),
            T([0.5, 1.2 * s, 0.8])),
        "MultivariateNormal": lambda: mod.MultivariateNormal(
            T([0.3, -0.2 * s, 0.1]), scale_tril=T([[1.0, 0.0, 0.0], [0.3 * s, 0.8, 0.0],
                                                   [-0.2, 0.1, 1.5]])),
        "Normal": lambda: mod.Normal(T([0.1, -1.0 * s, 0.4]), T([0.5, 1.5, 3.0 * s])),
        "OneHotCategorical": lambda: mod.OneHotCategorical(
            probs=T([[0.2, 0.3, 0.5], [0.6, 0.1, 0.3], [0.3 * s, 0.3, 0.4]])),
        "Pareto": lambda: mod.Pareto(T([0.5, 1.0 * s, 2.0]), T([0.8, 2.5 * s, 5.0])),
        "Poisson": lambda: mod.Poisson(T([0.5 * s, 1.0, 2.5])),
        "TransformedDistribution": lambda: mod.TransformedDistribution(
            mod.Normal(T([0.1, -1.0 * s, 0.4]), T([0.5, 1.5, 3.0])), [tr.ExpTransform()]),
        "Uniform": lambda: mod.Uniform(T([0.1, -1.0 * s, 0.2]), T([0.5, 1.5, 0.9 * s])),
    }
    return table[name]()


PAIRS = sorted((p.__name__, q.__name__) for p, q in _KL_REGISTRY
               if "ExponentialFamily" not in (p.__name__, q.__name__))


@pytest.mark.parametrize("p_name, q_name", PAIRS, ids=[f"{p}-{q}" for p, q in PAIRS])
def test_kl_pair_matches_torch(p_name, q_name):
    leaves_t, leaves_c = [], []
    pt, qt = _make(td, p_name, 0, leaves_t), _make(td, q_name, 1, leaves_t)
    pc, qc = _make(cd, p_name, 0, leaves_c), _make(cd, q_name, 1, leaves_c)
    try:
        kt = td.kl_divergence(pt, qt)
    except NotImplementedError:
        with pytest.raises(NotImplementedError):
            cd.kl_divergence(pc, qc)
        return
    kc = cd.kl_divergence(pc, qc)
    assert tuple(kc.shape) == tuple(kt.shape)
    kt_np, kc_np = kt.detach().numpy(), kc.detach().numpy()
    np.testing.assert_array_equal(np.isinf(kc_np), np.isinf(kt_np))
    np.testing.assert_allclose(kc_np, kt_np, rtol=1e-7, atol=1e-10)
    finite = np.isfinite(kt_np)
    if kt.requires_grad and finite.any():
        w = np.where(finite, 1.0, 0.0)
        ot = (kt.nan_to_num(posinf=0.0) * torch.tensor(w)).sum()
        oc = (E_where(kc, finite) * cadenza.tensor(w)).sum()
        gt = torch.autograd.grad(ot, leaves_t, allow_unused=True)
        gc = cadenza.autograd.grad(oc, leaves_c, allow_unused=True)
        for a, b in zip(gc, gt):
            if b is None:
                continue
            a = np.zeros(b.shape) if a is None else a.numpy()
            np.testing.assert_allclose(a, b.numpy(), rtol=1e-6, atol=1e-9)


def E_where(k, finite):
    return cadenza.where(cadenza.tensor(finite), k, cadenza.zeros_like(k))


def test_kl_lookup_errors():
    with pytest.raises(NotImplementedError):
        cd.kl_divergence(cd.Poisson(cadenza.tensor([1.0])), cd.Normal(0.0, 1.0))
    with pytest.raises(NotImplementedError):
        cd.kl_divergence(cd.Binomial(3, probs=cadenza.tensor([0.5])),
                         cd.Binomial(5, probs=cadenza.tensor([0.5])))


def test_kl_of_families_torch_builds_as_transformed_distributions():
    for name, args in (("LogNormal", ([0.1, -1.0], [0.5, 2.0])),
                       ("HalfNormal", ([0.5, 2.0],)), ("Gumbel", ([0.1, -1.0], [0.5, 2.0]))):
        pt = getattr(td, name)(*[torch.tensor(a, dtype=torch.float64) for a in args])
        qt = getattr(td, name)(*[torch.tensor(a[::-1], dtype=torch.float64)
                                 for a in args])
        pc = getattr(cd, name)(*[cadenza.tensor(a, dtype=cadenza.float64) for a in args])
        qc = getattr(cd, name)(*[cadenza.tensor(a[::-1], dtype=cadenza.float64)
                                 for a in args])
        np.testing.assert_allclose(cd.kl_divergence(pc, qc).numpy(),
                                   td.kl_divergence(pt, qt).numpy(), rtol=1e-10)
