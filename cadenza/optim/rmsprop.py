"""RMSprop (Hinton, Lecture 6e of "Neural Networks for Machine Learning"), centered variant after
Graves, 2013 (https://arxiv.org/abs/1308.0850)."""
from __future__ import annotations

from .._creation import zeros_like
from ..autograd.grad_mode import no_grad
from .._trace_hooks import hyper
from .optimizer import Optimizer, _check_nonneg, _step_tensor, _to_float

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

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:
            for key, default in (("momentum", 0), ("centered", False), ("foreach", None),
                                 ("maximize", False), ("differentiable", False),
                                 ("capturable", False)):
                group.setdefault(key, default)

    def step(self, closure=None):
        """One RMSprop step over every parameter that has a gradient; returns the closure's loss.
        """
        loss = self._eval_closure(closure)
        with no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is not None:
                        self._update(p, group)
        return loss

    def _update(self, p, group) -> None:
        lr, alpha, eps = hyper(group, "lr"), group["alpha"], group["eps"]
        wd, momentum = _to_float(group["weight_decay"]), group["momentum"]
        state = self.state[p]
        if len(state) == 0:
            state["step"] = _step_tensor(0.0)
            state["square_avg"] = zeros_like(p)
            if momentum > 0:
                state["momentum_buffer"] = zeros_like(p)
            if group["centered"]:
                state["grad_avg"] = zeros_like(p)
        square_avg = state["square_avg"]

        grad = -p.grad if group["maximize"] else p.grad
        state["step"] += 1
        if wd != 0:
            grad = grad.add(p, alpha=wd)
        square_avg.mul_(alpha).addcmul_(grad, grad, value=1 - alpha)
        if group["centered"]:
            grad_avg = state["grad_avg"]
            grad_avg.lerp_(grad, 1 - alpha)
            avg = square_avg.addcmul(grad_avg, grad_avg, value=-1).sqrt_()
        else:
            avg = square_avg.sqrt()
        avg = avg.add_(eps)
        if momentum > 0:
            buf = state["momentum_buffer"]
            buf.mul_(momentum).addcdiv_(grad, avg)
            p.sub_(buf * lr)             # = p + (-lr) buf, bit for bit; lr may be traced
        else:
            p.addcdiv_(grad, avg, value=-lr)
