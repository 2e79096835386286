"""NAdam (Dozat, 2016, "Incorporating Nesterov Momentum into Adam") and RAdam (Liu et al., 2020,
https://arxiv.org/abs/1908.03265): Adam variants with ``torch.optim``'s exact update rules."""
from __future__ import annotations

from .._tensor import Tensor
from .._trace_hooks import host_scalar, hyper
from .optimizer import Optimizer, _check_betas, _check_nonneg, _step_tensor, _to_float

__all__ = ["NAdam", "RAdam"]


class _AdamFamily(Optimizer):
    """What NAdam and RAdam share with Adam: moments ``exp_avg``/``exp_avg_sq``, betas,
    eps, L2 or decoupled weight decay and the flags torch accepts."""

    _param_shaped_state = _zero_state = ("exp_avg", "exp_avg_sq")
    _group_option_defaults = (("maximize", False), ("foreach", None), ("capturable", False),
                              ("differentiable", False), ("decoupled_weight_decay", False))

    def __init__(self, params, lr, betas, eps, weight_decay, decoupled_weight_decay, extra,
                 foreach, maximize, capturable, differentiable):
        _check_nonneg(lr, "learning rate")
        _check_nonneg(eps, "epsilon value")
        betas = _check_betas(betas)
        _check_nonneg(weight_decay, "weight_decay value")
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, **extra,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize,
                        foreach=foreach, capturable=capturable, differentiable=differentiable)
        super().__init__(params, defaults)

    def _moments(self, p, grad, group):
        """Advance the step and both moments; return (state, beta1, beta2)."""
        beta1, beta2 = (_to_float(b) for b in group["betas"])
        state = self._param_state(p, group)
        state["exp_avg"].lerp_(grad, 1 - beta1)
        state["exp_avg_sq"].mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        return state, beta1, beta2


class NAdam(_AdamFamily):
    """NAdam: Adam with Nesterov momentum and a momentum schedule (``torch.optim.NAdam``).

    Per parameter at step t, with ``mu_t = beta1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))``
    and ``prod`` the running product of the ``mu``::

        m = lerp(m, g, 1 - beta1);  v = beta2 * v + (1 - beta2) * g * g
        denom = sqrt(v / (1 - beta2^t)) + eps
        p -= lr * (1 - mu_t) / (1 - prod_t) * g / denom
        p -= lr * mu_{t+1} / (1 - prod_t * mu_{t+1}) * m / denom

    >>> import cadenza as torch
    >>> w = torch.tensor([1.0], requires_grad=True)
    >>> opt = torch.optim.NAdam([w], lr=0.1)
    >>> (w * w).sum().backward(); opt.step(); round(w.item(), 4)
    0.8944
    """

    _group_option_defaults = _AdamFamily._group_option_defaults + (("momentum_decay", 4e-3),)

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 momentum_decay=4e-3, decoupled_weight_decay=False, *, foreach=None,
                 maximize=False, capturable=False, differentiable=False):
        _check_nonneg(momentum_decay, "momentum_decay value")
        super().__init__(params, lr, betas, eps, weight_decay, decoupled_weight_decay,
                         dict(momentum_decay=momentum_decay), foreach, maximize, capturable,
                         differentiable)

    def _init_state(self, state, p, group) -> None:
        super()._init_state(state, p, group)
        state["mu_product"] = _step_tensor(1.0)

    def _update(self, p, grad, group) -> None:
        lr = hyper(group, "lr")
        state, beta1, beta2 = self._moments(p, grad, group)
        md = group["momentum_decay"]
        step = state["step"]
        mu = host_scalar(lambda s: beta1 * (1.0 - 0.5 * (0.96 ** (s * md))), step)
        mu_next = host_scalar(lambda s: beta1 * (1.0 - 0.5 * (0.96 ** ((s + 1) * md))), step)
        mu_product = state["mu_product"]
        # float32 state times a Python float is float32 maths (torch's rule); a traced 0-d
        # float64 host value is cast first so that compiled steps keep those bits
        mu_product.mul_(mu.to(mu_product.dtype) if isinstance(mu, Tensor) else mu)
        bc2 = host_scalar(lambda s: 1 - beta2 ** s, step)
        denom = state["exp_avg_sq"].div(bc2).sqrt().add_(group["eps"])
        p.addcdiv_(grad, denom, value=host_scalar(
            lambda lr, mu, prod: -lr * (1.0 - mu) / (1.0 - prod), lr, mu, mu_product))
        p.addcdiv_(state["exp_avg"], denom, value=host_scalar(
            lambda lr, mu_next, prod: (-lr * mu_next) / (1.0 - prod * mu_next),
            lr, mu_next, mu_product))


def _radam_rho(beta2: float, step: float):
    """(rho_t, rectification term or None when rho_t <= 5) of RAdam at ``step``."""
    rho_inf = 2 / (1 - beta2) - 1
    rho_t = rho_inf - 2 * step * (beta2 ** step) / (1 - beta2 ** step)
    if rho_t <= 5.0:
        return rho_t, None
    return rho_t, ((rho_t - 4) * (rho_t - 2) * rho_inf
                   / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5


class RAdam(_AdamFamily):
    """RAdam: Adam whose adaptive term is switched on once the variance of its estimate is
    tractable (``torch.optim.RAdam``).

    Per parameter at step t, with ``rho_inf = 2 / (1 - beta2) - 1`` and
    ``rho_t = rho_inf - 2 t beta2^t / (1 - beta2^t)``::

        m_hat = m / (1 - beta1^t)
        p -= m_hat * lr * sqrt(1 - beta2^t) / (sqrt(v) + eps) * r_t     (rho_t > 5)
        p -= m_hat * lr                                                   (otherwise)

    >>> import cadenza as torch
    >>> w = torch.tensor([1.0], requires_grad=True)
    >>> opt = torch.optim.RAdam([w], lr=0.1)
    >>> (w * w).sum().backward(); opt.step(); round(w.item(), 4)
    0.8
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False,
                 capturable=False, differentiable=False):
        super().__init__(params, lr, betas, eps, weight_decay, decoupled_weight_decay, {},
                         foreach, maximize, capturable, differentiable)

    def _update(self, p, grad, group) -> None:
        lr = hyper(group, "lr")
        state, beta1, beta2 = self._moments(p, grad, group)
        step = state["step"]
        exp_avg_hat = state["exp_avg"] / host_scalar(lambda s: 1 - beta1 ** s, step)
        plain = exp_avg_hat * lr
        rect = host_scalar(lambda s: _radam_rho(beta2, s)[1] or 0.0, step)
        if not isinstance(rect, Tensor) and not rect:
            p.sub_(plain)
            return
        adaptive = host_scalar(lambda s: (1 - beta2 ** s) ** 0.5, step) / \
            state["exp_avg_sq"].sqrt().add_(group["eps"])
        rectified = plain * adaptive * rect
        if isinstance(rect, Tensor):     # compiled: both branches, chosen on each call
            rectified = rectified.where(rect > 0, plain)
        p.sub_(rectified)
