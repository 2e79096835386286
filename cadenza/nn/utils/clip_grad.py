"""Gradient clipping: ``clip_grad_norm_`` and ``clip_grad_value_`` (PyTorch's semantics).

The total norm is combined on the host in Python floats (double precision) from one reduction
per gradient (``(g * g).sum()`` for the 2-norm, in the gradient's dtype), and the clipping
coefficient ``min(1, max_norm / (total + 1e-6))`` is a Python float too. Under
``cadenza.compile`` both are ``host`` nodes of the very same maths (``_trace_hooks.host_scalar``)
and the coefficient is cast to the gradient's dtype as eager mode casts a Python scalar, so a
compiled training step clips bit for bit as the eager one does: ``cadenza train`` clips with
this code in both modes.
"""
from __future__ import annotations

import math

from ..._creation import tensor as _tensor
from ..._tensor import Tensor
from ..._trace_hooks import host_scalar
from ...autograd.grad_mode import no_grad


def _grads(parameters):
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def _part(g: Tensor, p: float) -> Tensor:
    """The reduction of one tensor whose host combination (``_combine``) is the total norm."""
    if p == 2:
        return (g * g).sum()
    a = g.abs()
    if p == math.inf:
        return a.max()
    if p == -math.inf:
        return a.min()
    if p == 0:
        return (g != 0).sum()
    return (a ** p).sum()


def _combine(p: float):
    """Python float maths from the parts to the total norm (a host node when compiled)."""
    if p == 2:
        return lambda *s: math.sqrt(sum(s))
    if p == math.inf:
        return lambda *s: float(max(s))
    if p == -math.inf:
        return lambda *s: float(min(s))
    if p == 0:  # torch takes the 0-"norm" of the per-tensor counts: tensors with a nonzero
        return lambda *s: float(sum(1 for x in s if x))
    return lambda *s: sum(s) ** (1.0 / p)


def _total_norm(grads, norm_type: float, error_if_nonfinite: bool):
    """The total norm of ``grads``: a Python float in eager mode, a 0-d float64 Tensor while
    compiling."""
    norm_type = float(norm_type)
    with no_grad():
        parts = [_part(g.detach(), norm_type) for g in grads]
    total = host_scalar(_combine(norm_type), *parts)
    if error_if_nonfinite and not math.isfinite(float(total)):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from "
                           "`parameters` is non-finite, so it cannot be clipped. To disable "
                           "this error and scale the gradients by the non-finite norm anyway, "
                           "set `error_if_nonfinite=False`")
    return total


def _as_tensor(total, like: Tensor) -> Tensor:
    """The total norm as torch returns it: a 0-d tensor of the gradients' dtype and device."""
    if isinstance(total, Tensor):
        return total.to(like.dtype)
    return _tensor(total, dtype=like.dtype, device=like.device)


def _scale(grads, max_norm: float, total) -> None:
    """``g *= min(1, max_norm / (total + 1e-6))`` for every gradient."""
    max_norm = float(max_norm)
    coef = host_scalar(lambda t: min(1.0, max_norm / (t + 1e-6)), total)
    if isinstance(coef, float) and coef == 1.0:  # eager and nothing to clip: x * 1 == x
        return
    with no_grad():
        for g in grads:
            # a Python float meets g's dtype inside mul_; a traced float64 coefficient is cast
            # to it first, which gives the same bits
            g.mul_(coef.to(g.dtype) if isinstance(coef, Tensor) else coef)


def get_total_norm(tensors, norm_type: float = 2.0, error_if_nonfinite: bool = False,
                   foreach=None) -> Tensor:
    """The ``norm_type``-norm of all ``tensors`` viewed as one vector."""
    if isinstance(tensors, Tensor):
        tensors = [tensors]
    tensors = list(tensors)
    if not tensors:
        return _tensor(0.0)
    return _as_tensor(_total_norm(tensors, norm_type, error_if_nonfinite), tensors[0])


def clip_grads_with_norm_(parameters, max_norm: float, total_norm, foreach=None) -> None:
    """Scale gradients by ``max_norm / (total_norm + 1e-6)`` when that is below 1."""
    grads = _grads(parameters)
    if grads:
        _scale(grads, max_norm, total_norm)


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False, foreach=None) -> Tensor:
    """Rescale gradients in place so their total norm is at most ``max_norm``; returns the
    total norm before clipping.

    >>> import cadenza as torch
    >>> w = torch.nn.Parameter(torch.ones(4)); w.grad = torch.full((4,), 3.0)
    >>> torch.nn.utils.clip_grad_norm_([w], 1.0)
    tensor(6.)
    """
    grads = _grads(parameters)
    if not grads:
        return _tensor(0.0)
    total = _total_norm(grads, norm_type, error_if_nonfinite)
    # the coefficient comes from the unrounded total (what the trainer always computed)
    _scale(grads, max_norm, total)
    return _as_tensor(total, grads[0])


def clip_grad_norm(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False,
                   foreach=None):
    """Deprecated alias of clip_grad_norm_."""
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)


def clip_grad_value_(parameters, clip_value: float, foreach=None) -> None:
    """Clamp every gradient element into [-clip_value, clip_value] in place."""
    clip_value = float(clip_value)
    with no_grad():
        for g in _grads(parameters):
            g.clamp_(-clip_value, clip_value)
