"""Shared oracle helpers for tests/functional: run a Cadenza function and its torch twin on the
same NumPy data, compare outputs and (for float inputs) gradients of a random projection."""
from __future__ import annotations

import numpy as np
import torch

import cadenza


def rng(seed=0):
    return np.random.default_rng(seed)


def c_t(a, grad=None):
    """NumPy array -> (cadenza tensor, torch tensor), leaves requiring grad for float arrays."""
    a = np.asarray(a)
    if grad is None:
        grad = a.dtype.kind == "f"
    c = cadenza.tensor(a.copy())
    t = torch.from_numpy(a.copy())
    if grad:
        c.requires_grad_()
        t.requires_grad_()
    return c, t


def to_np(x):
    if isinstance(x, torch.Tensor):
        return x.detach().numpy()
    return x.detach().numpy()


def check(cfn, tfn, *arrays, grad=True, atol=1e-8, rtol=1e-6, gatol=None, grtol=None,
          seed=1, nograd=()):
    """Compare cfn(*cadenza inputs) with tfn(*torch inputs); outputs may be tuples.

    Float arrays are leaves requiring grad; the gradients of sum(out * r) for a fixed random r
    are compared too (when ``grad``)."""
    cs, ts = zip(*(c_t(a, grad and np.asarray(a).dtype.kind == "f" and i not in nograd)
                   for i, a in enumerate(arrays)))
    co, to = cfn(*cs), tfn(*ts)
    co_l = co if isinstance(co, (tuple, list)) else (co,)
    to_l = to if isinstance(to, (tuple, list)) else (to,)
    assert len(co_l) == len(to_l)
    for a, b in zip(co_l, to_l):
        assert tuple(a.shape) == tuple(b.shape), (tuple(a.shape), tuple(b.shape))
        np.testing.assert_allclose(to_np(a), to_np(b), atol=atol, rtol=rtol)
    if not grad:
        return co
    r = np.random.default_rng(seed)
    closs, tloss = 0, 0
    for a, b in zip(co_l, to_l):
        if not b.is_floating_point() or not b.requires_grad:
            continue
        w = r.standard_normal(tuple(b.shape)).astype(to_np(b).dtype)
        closs = closs + (a * cadenza.tensor(w)).sum()
        tloss = tloss + (b * torch.from_numpy(w)).sum()
    if not isinstance(tloss, torch.Tensor):
        return co
    tleaves = [t for t in ts if t.requires_grad]
    cleaves = [c for c in cs if c.requires_grad]
    tg = torch.autograd.grad(tloss, tleaves, allow_unused=True)
    cg = cadenza.autograd.grad(closs, cleaves, allow_unused=True)
    for i, (g1, g2) in enumerate(zip(cg, tg)):
        if g2 is None:
            assert g1 is None or np.allclose(to_np(g1), 0), f"input {i}: expected no gradient"
            continue
        assert g1 is not None, f"input {i}: missing gradient"
        np.testing.assert_allclose(to_np(g1), to_np(g2), atol=gatol or atol * 10,
                                   rtol=grtol or rtol * 10, err_msg=f"grad of input {i}")
    return co
