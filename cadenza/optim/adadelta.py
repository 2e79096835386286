"""Adadelta (Zeiler, 2012, https://arxiv.org/abs/1212.5701) and Adamax (Kingma & Ba, 2015,
section 7.1: Adam with the infinity norm)."""
from __future__ import annotations

from .._trace_hooks import host_scalar, hyper
from .optimizer import Optimizer, _check_betas, _check_nonneg, _to_float, sub_scaled

__all__ = ["Adadelta", "Adamax"]

_FLAGS = (("maximize", False), ("foreach", None), ("capturable", False),
          ("differentiable", False))


class Adadelta(Optimizer):
    """Adadelta with weight decay and ``maximize`` (``torch.optim.Adadelta``).

    Per parameter, with g the gradient::

        v = rho * v + (1 - rho) * g * g
        delta = sqrt(u + eps) / sqrt(v + eps) * g
        u = rho * u + (1 - rho) * delta * delta;  p = p - lr * delta

    >>> import cadenza as torch
    >>> w = torch.tensor([1.0], requires_grad=True)
    >>> opt = torch.optim.Adadelta([w], lr=1.0)
    >>> (w * w).sum().backward(); opt.step(); round(w.item(), 4)
    0.9968
    """

    _param_shaped_state = _zero_state = ("square_avg", "acc_delta")
    _group_option_defaults = _FLAGS

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *,
                 capturable=False, maximize=False, differentiable=False):
        _check_nonneg(lr, "learning rate")
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        _check_nonneg(eps, "epsilon value")
        _check_nonneg(weight_decay, "weight_decay value")
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                        capturable=capturable, foreach=foreach, differentiable=differentiable)
        super().__init__(params, defaults)

    def _update(self, p, grad, group) -> None:
        rho, eps = group["rho"], group["eps"]
        state = self._param_state(p, group)
        square_avg, acc_delta = state["square_avg"], state["acc_delta"]
        square_avg.mul_(rho).addcmul_(grad, grad, value=1 - rho)
        std = square_avg.add(eps).sqrt_()
        delta = acc_delta.add(eps).sqrt_().div_(std).mul_(grad)
        acc_delta.mul_(rho).addcmul_(delta, delta, value=1 - rho)
        sub_scaled(p, delta, hyper(group, "lr"))


class Adamax(Optimizer):
    """Adamax: Adam with the infinity norm of past gradients (``torch.optim.Adamax``).

    Per parameter at step t::

        m = lerp(m, g, 1 - beta1);  u = max(beta2 * u, |g| + eps)
        p = p - lr / (1 - beta1^t) * m / u

    >>> import cadenza as torch
    >>> w = torch.tensor([1.0], requires_grad=True)
    >>> opt = torch.optim.Adamax([w], lr=0.1)
    >>> (w * w).sum().backward(); opt.step(); round(w.item(), 4)
    0.9
    """

    _param_shaped_state = _zero_state = ("exp_avg", "exp_inf")
    _group_option_defaults = _FLAGS

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 foreach=None, *, maximize=False, differentiable=False, capturable=False):
        _check_nonneg(lr, "learning rate")
        _check_nonneg(eps, "epsilon value")
        betas = _check_betas(betas)
        _check_nonneg(weight_decay, "weight_decay value")
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    def _update(self, p, grad, group) -> None:
        beta1, beta2 = (_to_float(b) for b in group["betas"])
        state = self._param_state(p, group)
        exp_avg, exp_inf = state["exp_avg"], state["exp_inf"]
        exp_avg.lerp_(grad, 1 - beta1)
        exp_inf.mul_(beta2).maximum_(grad.abs().add_(group["eps"]))
        neg_clr = host_scalar(lambda s, lr: -(lr / (1 - beta1 ** s)), state["step"],
                              hyper(group, "lr"))
        p.addcdiv_(exp_avg, exp_inf, value=neg_clr)
