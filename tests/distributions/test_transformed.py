"""TransformedDistribution and the families torch builds on it (HalfCauchy, Pareto, Weibull,
Kumaraswamy, LogisticNormal, InverseGamma) vs torch.distributions in float64: log_prob,
entropy, moments, cdf / icdf and their parameter gradients; shapes, expand, support,
rsample gradients; sampling checked by moments and KS statistics under a fixed seed."""
import numpy as np
import pytest
import torch

import cadenza
import cadenza.distributions as cd
import torch.distributions as td
from cadenza.distributions import transforms as ct
from torch.distributions import transforms as tt

from _family_check import KS_CRIT, check_family, check_moments, close, ks_stat, pair

FAMILIES = {
    "HalfCauchy": ({"scale": np.array([0.5, 1.5, 3.0])}, [0.3, 1.2, 2.5], [0.1, 0.5, 0.9]),
    "Pareto": ({"scale": np.array([0.5, 1.0, 2.0]), "alpha": np.array([0.8, 2.5, 5.0])},
               [0.7, 1.5, 3.0], [0.1, 0.5, 0.9]),
    "Weibull": ({"scale": np.array([0.5, 1.0, 2.0]),
                 "concentration": np.array([0.8, 2.5, 5.0])}, [0.7, 1.5, 3.0],
                [0.1, 0.5, 0.9]),
    "Kumaraswamy": ({"concentration1": np.array([0.7, 2.0, 5.0]),
                     "concentration0": np.array([1.5, 0.8, 3.0])}, [0.3, 0.6, 0.9],
                    [0.1, 0.5, 0.9]),
    "LogisticNormal": ({"loc": np.array([[0.1, -1.0, 0.4], [0.5, 0.2, -0.3]]),
                        "scale": np.array([[0.5, 0.7, 1.3], [1.0, 0.4, 2.0]])},
                       [[0.2, 0.3, 0.1, 0.4], [0.1, 0.6, 0.2, 0.1]], None),
    "InverseGamma": ({"concentration": np.array([0.7, 2.5, 5.0]),
                      "rate": np.array([0.5, 1.5, 3.0])}, [0.3, 1.2, 2.0], None),
}


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_family_matches_torch(name):
    kwargs, value, probs = FAMILIES[name]
    # the gamma family's rsample goes through torch's trigamma-accurate implicit gradient
    check_family(name, kwargs, value, icdf_probs=probs)


@pytest.mark.parametrize("name", ["HalfCauchy", "Pareto", "Weibull", "Kumaraswamy",
                                  "InverseGamma"])
def test_family_samples_follow_the_cdf(name):
    kwargs, _, _ = FAMILIES[name]
    c, _, _, _ = (getattr(cd, name)(**{k: cadenza.tensor(v[:1]) for k, v in kwargs.items()}),
                  None, None, None)
    t = getattr(td, name)(**{k: torch.tensor(v[:1]) for k, v in kwargs.items()})
    cadenza.manual_seed(3)
    n = 4000
    s = c.sample((n,)).numpy()[:, 0]
    d = ks_stat(s, lambda x: t.cdf(torch.tensor(x).unsqueeze(-1).clamp(min=1e-300))
                .numpy()[:, 0] if name != "InverseGamma" else
                torch.special.gammaincc(t.concentration, t.rate / torch.tensor(x)
                                        .unsqueeze(-1)).numpy()[:, 0])
    assert d < KS_CRIT(n), d


def test_sampling_is_reproducible_under_manual_seed():
    d = cd.Weibull(cadenza.tensor([1.0, 2.0]), cadenza.tensor([1.5, 0.7]))
    cadenza.manual_seed(11)
    a = d.sample((4,))
    cadenza.manual_seed(11)
    b = d.sample((4,))
    np.testing.assert_array_equal(a.numpy(), b.numpy())


@pytest.mark.parametrize("name", ["Weibull", "Kumaraswamy", "LogisticNormal"])
def test_moments(name):
    kwargs, _, _ = FAMILIES[name]
    d = getattr(cd, name)(**{k: cadenza.tensor(v) for k, v in kwargs.items()})
    if name == "LogisticNormal":
        cadenza.manual_seed(0)
        s = d.sample((20000,)).numpy()
        assert np.allclose(s.sum(-1), 1.0) and (s > 0).all()
        return
    check_moments(d)


def _tanh_normal(mod, tmod, loc, scale):
    return mod.TransformedDistribution(mod.Normal(loc, scale), [tmod.TanhTransform()])


def test_tanh_normal_policy_like_sac():
    """The RL policy head: Normal pushed through tanh, log_prob with the change of variables,
    rsample gradients to loc and scale."""
    loc, scale = pair([[0.2, -0.5], [1.0, 0.1]]), pair([[0.5, 1.2], [0.3, 0.8]])
    c = _tanh_normal(cd, ct, loc[0], scale[0])
    t = _tanh_normal(td, tt, loc[1], scale[1])
    assert tuple(c.batch_shape) == (2, 2) and tuple(c.event_shape) == ()
    assert repr(c.support) == repr(t.support) and c.has_rsample
    v = np.array([[0.3, -0.9], [0.95, 0.0]])
    lc, lt = c.log_prob(cadenza.tensor(v)), t.log_prob(torch.tensor(v))
    close(lc, lt)
    gc = cadenza.autograd.grad(lc.sum(), [loc[0], scale[0]])
    gt = torch.autograd.grad(lt.sum(), [loc[1], scale[1]])
    for a, b in zip(gc, gt):
        close(a, b)
    close(c.cdf(cadenza.tensor(v)), t.cdf(torch.tensor(v)), rtol=1e-7)
    close(c.icdf(cadenza.tensor(v) * 0.5 + 0.5), t.icdf(torch.tensor(v) * 0.5 + 0.5), rtol=1e-7)
    cadenza.manual_seed(0)
    a = c.rsample((7,))
    assert tuple(a.shape) == (7, 2, 2) and bool((a.abs() < 1).all())
    g = cadenza.autograd.grad(c.log_prob(a).sum() + a.sum(), [loc[0], scale[0]])
    assert all(np.isfinite(x.numpy()).all() for x in g)


def test_decreasing_transform_flips_the_cdf():
    c = cd.TransformedDistribution(cd.Exponential(cadenza.tensor(2.0, dtype=cadenza.float64)),
                                   [ct.AffineTransform(1.0, -3.0)])
    t = td.TransformedDistribution(td.Exponential(torch.tensor(2.0, dtype=torch.float64)),
                                   [tt.AffineTransform(1.0, -3.0)])
    v = np.array([-2.0, 0.0, 0.5])
    close(c.cdf(cadenza.tensor(v)), t.cdf(torch.tensor(v)))
    close(c.icdf(cadenza.tensor([0.2, 0.7])), t.icdf(torch.tensor([0.2, 0.7])))
    close(c.log_prob(cadenza.tensor(v)), t.log_prob(torch.tensor(v)))


def test_event_dims_from_transforms_and_expand():
    base_c = cd.Normal(cadenza.zeros(4, 3, dtype=cadenza.float64), 1.0)
    base_t = td.Normal(torch.zeros(4, 3, dtype=torch.float64), 1.0)
    c = cd.TransformedDistribution(base_c, [ct.StickBreakingTransform()])
    t = td.TransformedDistribution(base_t, [tt.StickBreakingTransform()])
    assert tuple(c.batch_shape) == tuple(t.batch_shape) == (4,)
    assert tuple(c.event_shape) == tuple(t.event_shape) == (4,)
    assert isinstance(c.base_dist, cd.Independent)
    v = np.full((4, 4), 0.25)
    close(c.log_prob(cadenza.tensor(v)), t.log_prob(torch.tensor(v)))
    e = c.expand((2, 4))
    assert tuple(e.batch_shape) == (2, 4) and tuple(e.sample().shape) == (2, 4, 4)
    close(e.log_prob(cadenza.tensor(v)), t.expand((2, 4)).log_prob(torch.tensor(v)))
    r = cd.TransformedDistribution(cd.Normal(cadenza.zeros(6, dtype=cadenza.float64), 1.0),
                                   [ct.ReshapeTransform((6,), (2, 3))])
    assert tuple(r.batch_shape) == () and tuple(r.event_shape) == (2, 3)
    assert tuple(r.sample((5,)).shape) == (5, 2, 3)


def test_validation_errors_like_torch():
    c = cd.HalfCauchy(cadenza.tensor([1.0]))
    with pytest.raises(ValueError, match="support"):
        c.log_prob(cadenza.tensor([-1.0]))
    with pytest.raises(ValueError, match="scale"):
        cd.HalfCauchy(cadenza.tensor([-1.0]))
    with pytest.raises(ValueError, match="Transform"):
        cd.TransformedDistribution(cd.Normal(0.0, 1.0), [1, 2])
    with pytest.raises(ValueError, match="Transform or list"):
        cd.TransformedDistribution(cd.Normal(0.0, 1.0), "exp")
    with pytest.raises(ValueError):
        cd.Pareto(cadenza.tensor([1.0]), cadenza.tensor([0.0]))
    with pytest.raises(ValueError):
        cd.Weibull(cadenza.tensor([1.0]), cadenza.tensor([-1.0]))
    with pytest.raises(ValueError):
        cd.Kumaraswamy(cadenza.tensor([1.0]), cadenza.tensor([0.0]))
    with pytest.raises(ValueError):
        cd.InverseGamma(cadenza.tensor([-1.0]), cadenza.tensor([1.0]))
    with pytest.raises(ValueError, match="support"):
        cd.Pareto(cadenza.tensor([1.0]), cadenza.tensor([2.0])).log_prob(cadenza.tensor([0.5]))
    assert cd.Pareto(cadenza.tensor([1.0]), cadenza.tensor([2.0]),
                     validate_args=False).log_prob(cadenza.tensor([0.5])).shape == (1,)


def _flow_nll(mod, tmod, params, data):
    """A small normalizing flow (elementwise affine -> tanh -> affine on a 2-vector, as an
    Independent event) and the mean negative log-likelihood of ``data``."""
    loc1, log_s1, loc2, log_s2 = params
    base = mod.Independent(mod.Normal(data.new_zeros(2), data.new_ones(2)), 1)
    flow = mod.TransformedDistribution(base, [
        tmod.AffineTransform(loc1, log_s1.exp(), event_dim=1), tmod.TanhTransform(),
        tmod.AffineTransform(loc2, log_s2.exp(), event_dim=1)])
    return -flow.log_prob(data).mean()


def test_normalizing_flow_training_matches_torch():
    rng = np.random.default_rng(0)
    data = np.tanh(rng.normal(size=(64, 2)) * 0.7 + 0.2) * 0.8 - 0.1
    init = [np.array([0.1, -0.2]), np.array([0.0, 0.1]), np.array([-0.1, 0.0]),
            np.array([1.0, 1.0])]
    pc = [cadenza.tensor(a, requires_grad=True) for a in init]
    pt = [torch.tensor(a, requires_grad=True) for a in init]
    oc = cadenza.optim.Adam(pc, lr=0.02)
    ot = torch.optim.Adam(pt, lr=0.02)
    dc, dt = cadenza.tensor(data), torch.tensor(data)
    losses = []
    for _ in range(8):
        oc.zero_grad()
        ot.zero_grad()
        lc, lt = _flow_nll(cd, ct, pc, dc), _flow_nll(td, tt, pt, dt)
        lc.backward()
        lt.backward()
        oc.step()
        ot.step()
        np.testing.assert_allclose(lc.item(), lt.item(), rtol=1e-9)
        losses.append(lc.item())
    assert losses[-1] < losses[0]
    for a, b in zip(pc, pt):
        close(a, b, rtol=1e-8)


def test_class_hierarchy_matches_torch():
    """Each family derives from TransformedDistribution / ExponentialFamily exactly where
    torch's does (isinstance checks and the KL lookup depend on it)."""
    for name in td.__all__:
        t = getattr(td, name)
        if not isinstance(t, type) or not issubclass(t, td.Distribution):
            continue
        c = getattr(cd, name)
        for tb, cb in ((td.TransformedDistribution, cd.TransformedDistribution),
                       (td.ExponentialFamily, cd.ExponentialFamily),
                       (td.Distribution, cd.Distribution)):
            assert issubclass(t, tb) == issubclass(c, cb), (name, tb.__name__)


def test_relaxed_bases_match_torch():
    from cadenza.distributions.relaxed_bernoulli import LogitRelaxedBernoulli
    from cadenza.distributions.relaxed_categorical import ExpRelaxedCategorical
    temp = (cadenza.tensor(0.7, dtype=cadenza.float64), torch.tensor(0.7, dtype=torch.float64))
    logits = pair([[0.2, -1.0, 0.5], [1.0, 0.1, -0.3]])
    v = np.array([[0.3, -2.0, 1.0], [0.0, 0.4, -1.0]])
    c = LogitRelaxedBernoulli(temp[0], logits=logits[0])
    t = td.relaxed_bernoulli.LogitRelaxedBernoulli(temp[1], logits=logits[1])
    close(c.log_prob(cadenza.tensor(v)), t.log_prob(torch.tensor(v)))
    e = ExpRelaxedCategorical(temp[0], logits=logits[0])
    et = td.relaxed_categorical.ExpRelaxedCategorical(temp[1], logits=logits[1])
    lv = np.log(np.array([[0.2, 0.3, 0.5], [0.6, 0.1, 0.3]]))
    close(e.log_prob(cadenza.tensor(lv)), et.log_prob(torch.tensor(lv)))
    cadenza.manual_seed(0)
    s = e.rsample((4,))
    assert tuple(s.shape) == (4, 2, 3)
    np.testing.assert_allclose(np.exp(s.detach().numpy()).sum(-1), 1.0, rtol=1e-12)
    assert tuple(c.sample((5,)).shape) == (5, 2, 3)
    r = cd.RelaxedBernoulli(temp[0], logits=logits[0])
    assert isinstance(r.base_dist, LogitRelaxedBernoulli) and r.temperature is temp[0]


def test_missing_moments_raise_not_implemented_like_torch():
    c = cd.TransformedDistribution(cd.Normal(0.0, 1.0), [ct.TanhTransform()])
    t = td.TransformedDistribution(td.Normal(0.0, 1.0), [tt.TanhTransform()])
    for attr in ("mean", "mode", "variance", "stddev"):
        with pytest.raises(NotImplementedError):
            getattr(t, attr)
        with pytest.raises(NotImplementedError):
            getattr(c, attr)
    with pytest.raises(NotImplementedError):
        c.entropy()


def test_a_torch_program_runs_under_compat(tmp_path):
    """An RL-policy / flow snippet written for torch, run by ``python -m cadenza.compat``:
    the submodule imports resolve to cadenza.distributions.*."""
    import os
    import subprocess
    import sys
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    script = tmp_path / "prog.py"
    script.write_text(
        "import torch\n"
        "from torch.distributions import Normal, Independent, TransformedDistribution\n"
        "from torch.distributions.transforms import TanhTransform, AffineTransform\n"
        "from torch.distributions.constraint_registry import biject_to\n"
        "from torch.distributions.utils import broadcast_all\n"
        "from torch.distributions import constraints, kl_divergence\n"
        "torch.manual_seed(0)\n"
        "mu = torch.zeros(4, 2, requires_grad=True)\n"
        "pi = TransformedDistribution(Independent(Normal(mu, torch.ones(4, 2)), 1),\n"
        "                             [TanhTransform(cache_size=1), AffineTransform(0., 2.)])\n"
        "a = pi.rsample()\n"
        "loss = -pi.log_prob(a).mean() + a.pow(2).mean()\n"
        "loss.backward()\n"
        "u = biject_to(constraints.interval(-1., 3.))(torch.zeros(3))\n"
        "kl = kl_divergence(Normal(0., 1.), Normal(*broadcast_all(1., 2.)))\n"
        "print(tuple(a.shape), tuple(mu.grad.shape), [round(float(x), 3) for x in u],\n"
        "      round(float(kl), 4))\n")
    env = dict(os.environ, PYTHONPATH=root)
    r = subprocess.run([sys.executable, "-W", "ignore::FutureWarning", "-m", "cadenza.compat",
                        str(script)], capture_output=True, text=True, env=env, timeout=300,
                       cwd=root)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == "(4, 2) (4, 2) [1.0, 1.0, 1.0] 0.4431"
