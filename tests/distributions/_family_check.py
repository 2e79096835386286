"""Shared checks of a cadenza distribution against torch's on the same float64 parameters:
shapes, every deterministic method torch has (forward and parameter gradients), expand,
has_rsample, and sample shapes / support / reparameterised gradients."""
import math

import numpy as np
import torch

import cadenza
import cadenza.distributions as cd
import torch.distributions as td


def pair(a, grad=True, dtype=np.float64):
    a = np.asarray(a, dtype=dtype)
    return cadenza.tensor(a, requires_grad=grad), torch.tensor(a, requires_grad=grad)


def close(c, t, rtol=1e-9, atol=1e-11):
    c = c.detach().numpy() if isinstance(c, cadenza.Tensor) else np.asarray(c)
    t = t.detach().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)
    np.testing.assert_allclose(np.broadcast_to(c, t.shape), t, rtol=rtol, atol=atol)


def build(name, kwargs, dtype=np.float64):
    ck, tk, cparams, tparams = {}, {}, [], []
    for k, v in kwargs.items():
        if isinstance(v, np.ndarray):
            c, t = pair(v, dtype=dtype)
            cparams.append(c)
            tparams.append(t)
        else:
            c = t = v
        ck[k], tk[k] = c, t
    return getattr(cd, name)(**ck), getattr(td, name)(**tk), cparams, tparams


def _grads(co, to, cps, tps, rtol):
    if not to.requires_grad:
        return
    try:
        gt = torch.autograd.grad(to.sum(), tps, allow_unused=True, retain_graph=True)
    except NotImplementedError:  # torch has no derivative here (igamma in a)
        return
    gc = cadenza.autograd.grad(co.sum(), cps, allow_unused=True, retain_graph=True)
    for a, b, x in zip(gc, gt, tps):
        a = np.zeros(x.shape) if a is None else a.numpy()
        b = np.zeros(x.shape) if b is None else b.numpy()
        np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-10)


def _torch_value(fn):
    try:
        return fn()
    except NotImplementedError:
        return None


def check_family(name, kwargs, value, rtol=1e-9, grad_rtol=1e-7, icdf_probs=None,
                 dtype=np.float64):
    c, t, cps, tps = build(name, kwargs, dtype)
    assert tuple(c.batch_shape) == tuple(t.batch_shape)
    assert tuple(c.event_shape) == tuple(t.event_shape)
    assert c.has_rsample == t.has_rsample
    v = np.asarray(value, dtype=dtype)
    vc, vt = cadenza.tensor(v), torch.tensor(v)
    lc, lt = c.log_prob(vc), t.log_prob(vt)
    assert tuple(lc.shape) == tuple(lt.shape)
    close(lc, lt, rtol)
    _grads(lc, lt, cps, tps, grad_rtol)
    for attr in ("mean", "variance", "stddev", "mode"):
        tv = _torch_value(lambda: getattr(t, attr))
        if tv is not None:
            close(getattr(c, attr), tv, rtol)
    te = _torch_value(t.entropy)
    if te is not None:
        ce = c.entropy()
        close(ce, te, rtol)
        _grads(ce, te, cps, tps, grad_rtol)
    tcdf = _torch_value(lambda: t.cdf(vt))
    if tcdf is not None:
        ccdf = c.cdf(vc)
        close(ccdf, tcdf, rtol)
        _grads(ccdf, tcdf, cps, tps, grad_rtol)
    if icdf_probs is not None:
        p = np.asarray(icdf_probs, dtype=dtype)
        ti = _torch_value(lambda: t.icdf(torch.tensor(p)))
        if ti is not None:
            ci = c.icdf(cadenza.tensor(p))
            close(ci, ti, rtol)
            _grads(ci, ti, cps, tps, grad_rtol)
    # expand keeps the values, broadcast over a new leading batch dim
    ec, et = c.expand((2,) + tuple(c.batch_shape)), t.expand((2,) + tuple(t.batch_shape))
    assert tuple(ec.batch_shape) == tuple(et.batch_shape)
    close(ec.log_prob(vc), et.log_prob(vt), rtol)
    # samples: shape, support, and gradient flow when reparameterised
    cadenza.manual_seed(0)
    s = c.sample((5,))
    assert tuple(s.shape) == (5,) + tuple(t.batch_shape) + tuple(t.event_shape)
    assert not s.requires_grad
    if not isinstance(t.support, type(td.constraints.dependent)) or \
            not td.constraints.is_dependent(t.support):
        assert bool(c.support.check(s).all()), name
    if c.has_rsample:
        r = c.rsample((3,))
        assert r.requires_grad
        g = cadenza.autograd.grad(r.sum(), cps, allow_unused=True)
        assert any(x is not None and np.isfinite(x.numpy()).all() for x in g)
    return c, t


def check_moments(dist, n=20000, rtol=0.05, atol=0.03, seed=0):
    """Sample mean (and variance, where finite) against the distribution's own moments."""
    cadenza.manual_seed(seed)
    s = dist.sample((n,)).numpy()
    mean = np.asarray(dist.mean.detach().numpy())
    var = np.asarray(dist.variance.detach().numpy())
    ok = np.isfinite(mean)
    np.testing.assert_allclose(s.mean(0)[ok], mean[ok], rtol=rtol, atol=atol)
    ok = np.isfinite(var)
    np.testing.assert_allclose(s.var(0)[ok], var[ok], rtol=3 * rtol, atol=3 * atol)


def ks_stat(samples, cdf):
    """The Kolmogorov-Smirnov statistic of 1-D samples against a cdf (a callable on arrays)."""
    x = np.sort(np.asarray(samples))
    n = len(x)
    f = cdf(x)
    return max(np.max(np.arange(1, n + 1) / n - f), np.max(f - np.arange(n) / n))


KS_CRIT = lambda n: 1.63 / math.sqrt(n)  # noqa: E731  (1% level)
