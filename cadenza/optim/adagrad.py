"""Adagrad (Duchi, Hazan & Singer, 2011, https://jmlr.org/papers/v12/duchi11a.html)."""
from __future__ import annotations

from .._creation import full_like
from .._trace_hooks import host_scalar, hyper
from .optimizer import Optimizer, _check_nonneg, _step_tensor

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """Adagrad with learning-rate decay, weight decay and ``maximize`` (``torch.optim.Adagrad``).

    Per parameter, at step t, with g the gradient (negated when ``maximize``)::

        g = g + weight_decay * p;  clr = lr / (1 + (t - 1) * lr_decay)
        s = s + g * g;  p = p - clr * g / (sqrt(s) + eps)

    >>> import cadenza as torch
    >>> w = torch.tensor([1.0], requires_grad=True)
    >>> opt = torch.optim.Adagrad([w], lr=0.1)
    >>> (w * w).sum().backward(); opt.step(); w
    tensor([0.9000], requires_grad=True)
    """

    _param_shaped_state = ("sum",)
    _group_option_defaults = (("foreach", None), ("maximize", False),
                              ("differentiable", False), ("fused", None))

    _sparse_error = None   # a sparse gradient is taken (as its dense form)

    def _dense_of_sparse(self, grad, group):
        if group["weight_decay"] != 0:
            raise RuntimeError("weight_decay option is not compatible with sparse gradients")
        return grad.to_dense()

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
                 eps=1e-10, foreach=None, *, maximize=False, differentiable=False, fused=None):
        _check_nonneg(lr, "learning rate")
        _check_nonneg(lr_decay, "lr_decay value")
        _check_nonneg(weight_decay, "weight_decay value")
        _check_nonneg(initial_accumulator_value, "initial_accumulator_value value")
        _check_nonneg(eps, "epsilon value")
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)
        for group in self.param_groups:  # torch makes Adagrad's state up front
            for p in group["params"]:
                self._init_state(self.state[p], p, group)

    def _init_state(self, state, p, group) -> None:
        state["step"] = _step_tensor(0.0)
        state["sum"] = full_like(p, group["initial_accumulator_value"])

    def _update(self, p, grad, group) -> None:
        state = self._param_state(p, group)
        # a float in eager mode; a host node of the same maths under compile
        neg_clr = host_scalar(lambda step, lr, d=group["lr_decay"]: -(lr / (1 + (step - 1) * d)),
                              state["step"], hyper(group, "lr"))
        state_sum = state["sum"]
        state_sum.addcmul_(grad, grad, value=1)
        std = state_sum.sqrt().add_(group["eps"])
        p.addcdiv_(grad, std, value=neg_clr)
