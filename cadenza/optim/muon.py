"""Muon (``torch.optim.Muon``): momentum SGD whose update for each 2-d parameter is the
momentum orthogonalised by a Newton-Schulz iteration (Keller Jordan's Muon, torch's version)."""
from __future__ import annotations

import math

import numpy as np

from .._creation import zeros_like
from .. import dtypes as _dt
from .optimizer import Optimizer, _to_float

__all__ = ["Muon"]

EPS = 1e-7
DEFAULT_A, DEFAULT_B, DEFAULT_C = 3.4445, -4.7750, 2.0315
DEFAULT_NS_STEPS = 5


def _bf16_round():
    """x -> x rounded to bfloat16 and back to float32, as torch's iteration computes in
    bfloat16 (products accumulate in float32, each result is rounded); identity without the
    ml_dtypes extra."""
    bf16 = _dt._load_bfloat16()
    if bf16 is None:
        return lambda x: x
    return lambda x: np.asarray(x, np.float32).astype(bf16.np).astype(np.float32)


def zeropower_via_newtonschulz(grad, ns_coefficients, ns_steps, eps):
    """The quintic Newton-Schulz iteration that maps a matrix G = U S V^T to about U S' V^T
    (S' near 1), as torch's ``_zeropower_via_newtonschulz``: a float32 array."""
    if ns_steps >= 100:
        raise ValueError("Number of steps must be less than 100 for computational efficiency")
    if grad.ndim != 2:
        raise ValueError("Input tensor gradient must be a 2D matrix")
    if len(ns_coefficients) != 3:
        raise ValueError("Coefficients must be a tuple of exactly 3 values")
    a, b, c = ns_coefficients
    r = _bf16_round()
    x = r(grad)
    tall = x.shape[0] > x.shape[1]
    if tall:
        x = x.T
    x = r(x / r(max(float(np.sqrt(np.sum(x.astype(np.float64) ** 2))), eps)))
    for _ in range(ns_steps):
        gram = r(x @ x.T)
        upd = r(b * gram + c * (gram @ gram))
        x = r(a * x + upd @ x)
    return x.T if tall else x


def _adjust_lr(lr, adjust_lr_fn, shape):
    A, B = shape[:2]
    if adjust_lr_fn is None or adjust_lr_fn == "original":
        ratio = math.sqrt(max(1, A / B))
    elif adjust_lr_fn == "match_rms_adamw":
        ratio = 0.2 * math.sqrt(max(A, B))
    else:
        ratio = 1.0
    return lr * ratio


class Muon(Optimizer):
    """Muon for 2-d parameters (hidden layers' weight matrices; biases and embeddings belong
    to another optimizer). Per parameter, with g its gradient::

        B = mu B + (1 - mu) g    (torch: B.lerp_(g, 1 - mu))
        U = NS(g.lerp(B, mu) if nesterov else B)   (Newton-Schulz, ns_steps, bfloat16)
        p = p (1 - lr wd);  p = p - adjust(lr, shape) U

    >>> import cadenza as torch
    >>> w = torch.nn.Parameter(torch.ones(3, 2))
    >>> opt = torch.optim.Muon([w], lr=0.02)
    >>> (w * w).sum().backward(); opt.step()
    """

    def __init__(self, params, lr=1e-3, weight_decay=0.1, momentum=0.95, nesterov=True,
                 ns_coefficients=(DEFAULT_A, DEFAULT_B, DEFAULT_C), eps=EPS,
                 ns_steps=DEFAULT_NS_STEPS, adjust_lr_fn=None):
        if not 0.0 <= _to_float(lr):
            raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
        if not 0.0 <= momentum:
            raise ValueError(f"momentum should be >= 0 but is: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"weight decay should be >= 0 but is: {weight_decay}")
        if adjust_lr_fn is not None and adjust_lr_fn not in ("original", "match_rms_adamw"):
            raise ValueError(f"Adjust learning rate function {adjust_lr_fn} is not supported")
        defaults = dict(lr=lr, weight_decay=weight_decay, momentum=momentum, nesterov=nesterov,
                        ns_coefficients=ns_coefficients, eps=eps, ns_steps=ns_steps,
                        adjust_lr_fn=adjust_lr_fn)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                if p.ndim != 2:
                    raise ValueError("Muon only supports 2D parameters whereas we found a "
                                     f"parameter with size: {p.size()}")

    _sparse_error = "Muon does not support sparse gradients"

    def _weight_decay(self, p, grad, wd, group):
        return grad   # decoupled: applied to the parameter in _update

    def _update(self, p, grad, group) -> None:
        if p.is_complex():
            raise RuntimeError("Muon does not support complex parameters")
        state = self.state[p]
        if "momentum_buffer" not in state:
            state["momentum_buffer"] = zeros_like(grad)
        buf = state["momentum_buffer"]
        mu = group["momentum"]
        buf.lerp_(grad, 1 - mu)
        update = grad.lerp(buf, mu) if group["nesterov"] else buf
        o = zeropower_via_newtonschulz(np.asarray(update._host()), group["ns_coefficients"],
                                       group["ns_steps"], group["eps"])
        lr = _to_float(group["lr"])
        p.mul_(1 - lr * group["weight_decay"])
        p.sub_(p.new_tensor(o.astype(p._data.dtype)) * _adjust_lr(lr, group["adjust_lr_fn"],
                                                                   tuple(p.shape)))
