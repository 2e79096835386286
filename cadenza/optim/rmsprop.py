"""RMSprop (Hinton, Lecture 6e of "Neural Networks for Machine Learning"), centered variant after
Graves, 2013 (https://arxiv.org/abs/1308.0850)."""
from __future__ import annotations

from .._creation import zeros_like
from .._trace_hooks import hyper
from .optimizer import Optimizer, _check_nonneg, _step_tensor, sub_scaled

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """RMSprop with optional momentum, centering, weight decay and ``maximize``.

    Per parameter, with g the gradient (negated when ``maximize``)::

        g = g + weight_decay * p
        v = alpha * v + (1 - alpha) * g * g
        avg = sqrt(v - ga * ga) with ga = lerp(ga, g, 1 - alpha) (centered) or sqrt(v); avg += eps
        b = momentum * b + g / avg;  p = p - lr * b      (momentum > 0)
        p = p - lr * g / avg                              (otherwise)

    >>> import cadenza as torch
    >>> w = torch.tensor([1.0], requires_grad=True)
    >>> opt = torch.optim.RMSprop([w], lr=0.01)
    >>> (w * w).sum().backward(); opt.step(); round(w.item(), 4)
    0.9
    """

    _param_shaped_state = ("square_avg", "momentum_buffer", "grad_avg")
    _group_option_defaults = (("momentum", 0), ("centered", False), ("foreach", None),
                              ("maximize", False), ("differentiable", False),
                              ("capturable", False))

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                 centered=False, capturable=False, foreach=None, maximize=False,
                 differentiable=False):
        _check_nonneg(lr, "learning rate")
        _check_nonneg(eps, "epsilon value")
        _check_nonneg(momentum, "momentum value")
        _check_nonneg(weight_decay, "weight_decay value")
        _check_nonneg(alpha, "alpha value")
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, capturable=capturable, foreach=foreach,
                        maximize=maximize, differentiable=differentiable)
        super().__init__(params, defaults)

    def _init_state(self, state, p, group) -> None:
        state["step"] = _step_tensor(0.0)
        state["square_avg"] = zeros_like(p)
        if group["momentum"] > 0:
            state["momentum_buffer"] = zeros_like(p)
        if group["centered"]:
            state["grad_avg"] = zeros_like(p)

    def _update(self, p, grad, group) -> None:
        alpha, eps, momentum = group["alpha"], group["eps"], group["momentum"]
        state = self._param_state(p, group)
        square_avg = state["square_avg"]
        square_avg.mul_(alpha).addcmul_(grad, grad, value=1 - alpha)
        if group["centered"]:
            grad_avg = state["grad_avg"]
            grad_avg.lerp_(grad, 1 - alpha)
            avg = square_avg.addcmul(grad_avg, grad_avg, value=-1).sqrt_()
        else:
            avg = square_avg.sqrt()
        avg = avg.add_(eps)
        lr = hyper(group, "lr")
        if momentum > 0:
            buf = state["momentum_buffer"]
            buf.mul_(momentum).addcdiv_(grad, avg)
            sub_scaled(p, buf, lr)
        else:
            p.addcdiv_(grad, avg, value=-lr)
