"""The new families in float32 (what programs use): samples, log_prob and rsample stay
float32, shapes match torch's, and log_prob matches torch's float32 values."""
import warnings

import numpy as np
import pytest
import torch

import cadenza
import cadenza.distributions as cd
import torch.distributions as td


def mk(mod, name):
    if mod is td:
        def T(a):
            return torch.tensor(a, dtype=torch.float32)
    else:
        def T(a):
            return cadenza.tensor(a, dtype=cadenza.float32)
    tr = td.transforms if mod is td else cd.transforms
    table = {
        "HalfCauchy": lambda: mod.HalfCauchy(T([0.5, 2.0])),
        "Pareto": lambda: mod.Pareto(T([0.5, 1.0]), T([1.5, 3.0])),
        "Weibull": lambda: mod.Weibull(T([0.5, 1.0]), T([1.5, 3.0])),
        "Kumaraswamy": lambda: mod.Kumaraswamy(T([0.5, 1.0]), T([1.5, 3.0])),
        "LogisticNormal": lambda: mod.LogisticNormal(T([0.5, 1.0]), T([1.5, 3.0])),
        "InverseGamma": lambda: mod.InverseGamma(T([0.5, 1.0]), T([1.5, 3.0])),
        "FisherSnedecor": lambda: mod.FisherSnedecor(T([2.5, 6.0]), T([4.5, 3.0])),
        "NegativeBinomial": lambda: mod.NegativeBinomial(T([2.5, 6.0]), T([0.3, 0.6])),
        "Multinomial": lambda: mod.Multinomial(4, T([0.3, 0.6, 0.1])),
        "LowRankMultivariateNormal": lambda: mod.LowRankMultivariateNormal(
            T([0.3, 0.6]), T([[0.3], [0.2]]), T([1.0, 0.5])),
        "VonMises": lambda: mod.VonMises(T([0.3, 0.6]), T([1.0, 5.0])),
        "GeneralizedPareto": lambda: mod.GeneralizedPareto(T([0.3, 0.6]), T([1.0, 5.0]),
                                                           T([0.1, -0.1])),
        "ContinuousBernoulli": lambda: mod.ContinuousBernoulli(T([0.3, 0.6])),
        "Wishart": lambda: mod.Wishart(T([3.0]), T([[[1.0, 0.2], [0.2, 1.0]]])),
        "LKJCholesky": lambda: mod.LKJCholesky(3, T([1.0, 2.0])),
        "MixtureSameFamily": lambda: mod.MixtureSameFamily(
            mod.Categorical(T([0.3, 0.7])), mod.Normal(T([0.0, 1.0]), T([1.0, 0.5]))),
        "OneHotCategoricalStraightThrough": lambda: mod.OneHotCategoricalStraightThrough(
            T([0.3, 0.7])),
        "TanhNormal": lambda: mod.TransformedDistribution(
            mod.Normal(T([0.0, 1.0]), T([1.0, 0.5])), [tr.TanhTransform()]),
    }
    return table[name]()


NAMES = ["HalfCauchy", "Pareto", "Weibull", "Kumaraswamy", "LogisticNormal", "InverseGamma",
         "FisherSnedecor", "NegativeBinomial", "Multinomial", "LowRankMultivariateNormal",
         "VonMises", "GeneralizedPareto", "ContinuousBernoulli", "Wishart", "LKJCholesky",
         "MixtureSameFamily", "OneHotCategoricalStraightThrough", "TanhNormal"]


@pytest.mark.parametrize("name", NAMES)
def test_float32_family(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        c, t = mk(cd, name), mk(td, name)
    cadenza.manual_seed(0)
    s = c.sample((3,))
    assert s.dtype == cadenza.float32
    assert tuple(s.shape) == tuple(t.sample((3,)).shape)
    lp = c.log_prob(s)
    assert lp.dtype == cadenza.float32
    np.testing.assert_allclose(lp.numpy(), t.log_prob(torch.tensor(s.numpy())).numpy(),
                               rtol=1e-4, atol=1e-4)
    if c.has_rsample:
        assert c.rsample((2,)).dtype == cadenza.float32
