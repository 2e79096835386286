"""Stochastic gradient descent, optionally with momentum / Nesterov momentum (``torch.optim.SGD``).
"""
from __future__ import annotations

from .._trace_hooks import hyper
from .optimizer import Optimizer, _check_nonneg, _fused_update, sub_scaled
from ..backend.cpu import address

__all__ = ["SGD"]


class SGD(Optimizer):
    """SGD with momentum, dampening, weight decay, Nesterov momentum and ``maximize``.

    The update, per parameter, with g the gradient (negated when ``maximize``)::

        g = g + weight_decay * p
        b = g (first step) or momentum * b + (1 - dampening) * g
        g = g + momentum * b (nesterov) or b
        p = p - lr * g

    >>> import cadenza as torch
    >>> w = torch.tensor([1.0], requires_grad=True)
    >>> opt = torch.optim.SGD([w], lr=0.1, momentum=0.9)
    >>> (w * w).sum().backward(); opt.step(); w
    tensor([0.8000], requires_grad=True)
    """

    _param_shaped_state = ("momentum_buffer",)
    _group_option_defaults = (("nesterov", False), ("maximize", False), ("foreach", None),
                              ("differentiable", False), ("fused", False))

    _sparse_error = None   # a sparse gradient is taken (as its dense form)

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0,
                 nesterov=False, *, maximize=False, foreach=None, differentiable=False,
                 fused=None):
        _check_nonneg(lr, "learning rate")
        _check_nonneg(momentum, "momentum value")
        _check_nonneg(weight_decay, "weight_decay value")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, maximize=maximize,
                        foreach=foreach, differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)

    def _update(self, p, grad, group) -> None:
        momentum = group["momentum"]
        buf = None
        if momentum != 0:
            state = self.state[p]
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = grad.detach().clone()
                grad, buf = buf, None     # the first step: p - lr b, b = g
        if not group["nesterov"] and self._fused(p, grad, buf, momentum, group):
            return
        if momentum != 0:
            if buf is None:
                buf = self.state[p]["momentum_buffer"]
            else:
                buf.mul_(momentum).add_(grad, alpha=1 - group["dampening"])
            grad = grad.add(buf, alpha=momentum) if group["nesterov"] else buf
        # p - lr g: the same bits as p + (-lr) g, and lr may be a traced 0-d tensor (alpha=
        # needs a number)
        sub_scaled(p, grad, hyper(group, "lr"))

    @staticmethod
    def _fused(p, grad, buf, momentum, group) -> bool:
        """The update as one C pass (float32 in eager; the same bits as the ops of _update):
        b = b momentum + (1 - dampening) g, p = p - lr b (without b: p = p - lr g)."""
        fused = _fused_update("sgd", p, grad, buf)
        if fused is None:
            return False
        fn, (pa, ga, ba) = fused
        damp = 1 - group["dampening"]
        fn(address(pa), address(ga), None if ba is None else address(ba), pa.size,
           momentum, damp, int(damp != 1), hyper(group, "lr"))
        if buf is not None:
            buf._vc[0] += 2
        p._vc[0] += 1
        return True
