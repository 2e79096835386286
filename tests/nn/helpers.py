"""Shared helpers for nn tests: copy weights into the torch equivalent and compare forward
outputs and gradients."""
from __future__ import annotations

import numpy as np
import torch

import cadenza


def to_torch(t, requires_grad=False):
    out = torch.from_numpy(np.array(t.detach().numpy(), copy=True))
    return out.requires_grad_(requires_grad) if requires_grad else out


def to_cadenza(t, requires_grad=False):
    return cadenza.tensor(t.detach().numpy().copy(), requires_grad=requires_grad)


def copy_into_torch(cm, tm):
    """Load cadenza module cm's state into torch module tm (same keys, strict)."""
    sd = {k: to_torch(v) for k, v in cm.state_dict().items()}
    tm.load_state_dict(sd, strict=True)


def _flat(out):
    if isinstance(out, (tuple, list)):
        res = []
        for o in out:
            res.extend(_flat(o))
        return res
    return [] if out is None else [out]


def check_module(cm, tm, *inputs, rtol=1e-6, atol=1e-8, grad_inputs=True, kwargs=None,
                 seed=0):
    """Forward cm and tm on the same (float64) inputs; compare outputs, input grads and
    parameter grads. Inputs are numpy arrays (floats get requires_grad when grad_inputs)."""
    kwargs = kwargs or {}
    copy_into_torch(cm, tm)
    cin, tin = [], []
    for x in inputs:
        if isinstance(x, np.ndarray):
            rg = grad_inputs and x.dtype.kind == "f"
            cin.append(cadenza.tensor(x, requires_grad=rg))
            tin.append(torch.tensor(x, requires_grad=rg))
        else:
            cin.append(x)
            tin.append(x)
    ckw = {k: cadenza.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    tkw = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    cout = _flat(cm(*cin, **ckw))
    tout = _flat(tm(*tin, **tkw))
    assert len(cout) == len(tout)
    rng = np.random.default_rng(seed)
    closs, tloss = 0, 0
    for c, t in zip(cout, tout):
        assert tuple(c.shape) == tuple(t.shape), (c.shape, t.shape)
        np.testing.assert_allclose(c.detach().numpy(), t.detach().numpy(), rtol=rtol,
                                   atol=atol)
        if t.requires_grad and t.is_floating_point():
            g = rng.standard_normal(tuple(t.shape))
            closs = closs + (c * cadenza.tensor(g, dtype=c.dtype)).sum()
            tloss = tloss + (t * torch.tensor(g, dtype=t.dtype)).sum()
    if isinstance(tloss, int):
        return cout, tout
    closs.backward()
    tloss.backward()
    for c, t in zip(cin, tin):
        if isinstance(t, torch.Tensor) and t.requires_grad:
            np.testing.assert_allclose(c.grad.numpy(), t.grad.numpy(), rtol=rtol, atol=atol)
    tparams = dict(tm.named_parameters())
    for name, p in cm.named_parameters():
        tp = tparams[name]
        if tp.grad is None:
            assert p.grad is None or np.allclose(p.grad.numpy(), 0), name
            continue
        assert p.grad is not None, name
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=rtol, atol=atol,
                                   err_msg=name)
    return cout, tout


def rand(*shape, seed=0, dtype=np.float64):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)
