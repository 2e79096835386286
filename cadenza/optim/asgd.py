"""Averaged SGD (Polyak & Juditsky, 1992, https://doi.org/10.1137/0330046) and Rprop (Riedmiller
& Braun, 1993, resilient backpropagation)."""
from __future__ import annotations

from .. import dtypes as _dt
from .._creation import full_like, tensor as _tensor
from .._tensor import Tensor
from .._trace_hooks import host_scalar, hyper
from .optimizer import Optimizer, _check_nonneg, _step_tensor, _to_float, sub_scaled

__all__ = ["ASGD", "Rprop"]

_FLAGS = (("maximize", False), ("foreach", None), ("capturable", False),
          ("differentiable", False))


def _assign(t: Tensor, value) -> None:
    """``t.copy_(torch.as_tensor(value))`` as torch's ASGD does: the host scalar (a float
    eagerly, a 0-d float64 Tensor when compiled) passes through the default dtype first."""
    if not isinstance(value, Tensor):
        value = _tensor(value)
    t.copy_(value.to(_dt.get_default_dtype()))


class ASGD(Optimizer):
    """Averaged SGD (``torch.optim.ASGD``): SGD with a decaying step size ``eta`` whose
    parameters' running average is kept in ``state[p]['ax']``.

    Per parameter at step t::

        p = p * (1 - lambd * eta) - eta * g
        ax = p (mu == 1) or ax + (p - ax) * mu
        eta = lr / (1 + lambd * lr * t) ** alpha;  mu = 1 / max(1, t - t0)

    >>> import cadenza as torch
    >>> w = torch.tensor([1.0], requires_grad=True)
    >>> opt = torch.optim.ASGD([w], lr=0.1)
    >>> (w * w).sum().backward(); opt.step(); round(w.item(), 4)
    0.8
    """

    _param_shaped_state = _zero_state = ("ax",)
    _group_option_defaults = _FLAGS

    def __init__(self, params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0,
                 foreach=None, maximize=False, differentiable=False, capturable=False):
        _check_nonneg(lr, "learning rate")
        _check_nonneg(weight_decay, "weight_decay value")
        defaults = dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay,
                        foreach=foreach, maximize=maximize, differentiable=differentiable,
                        capturable=capturable)
        super().__init__(params, defaults)

    def _init_state(self, state, p, group) -> None:
        super()._init_state(state, p, group)
        state["eta"] = _step_tensor(_to_float(group["lr"]))
        state["mu"] = _step_tensor(1.0)

    def _update(self, p, grad, group) -> None:
        lambd, alpha, t0 = group["lambd"], group["alpha"], group["t0"]
        state = self._param_state(p, group)
        eta, mu, ax, step = state["eta"], state["mu"], state["ax"], state["step"]
        eta_value = host_scalar(lambda e: e, eta)    # a float eagerly, 0-d when compiled
        p.mul_(host_scalar(lambda e: 1 - lambd * e, eta))
        sub_scaled(p, grad, eta_value)
        averaged = ax + p.sub(ax).mul_(mu)
        if isinstance(eta_value, Tensor):            # compiled: chosen on each call
            ax.copy_(p.where(mu == 1, averaged))
        else:
            ax.copy_(averaged if mu.item() != 1 else p)
        _assign(eta, host_scalar(lambda s, lr: lr / ((1 + lambd * lr * s) ** alpha), step,
                                 hyper(group, "lr")))
        _assign(mu, host_scalar(lambda s: 1 / max(1, s - t0), step))


class Rprop(Optimizer):
    """Rprop: per-element step sizes grown by ``etas[1]`` while the gradient keeps its sign and
    shrunk by ``etas[0]`` when it flips (``torch.optim.Rprop``); only the gradient's sign moves
    the parameter.

    >>> import cadenza as torch
    >>> w = torch.tensor([1.0], requires_grad=True)
    >>> opt = torch.optim.Rprop([w], lr=0.1)
    >>> (w * w).sum().backward(); opt.step(); round(w.item(), 4)
    0.9
    """

    _param_shaped_state = ("prev", "step_size")
    _zero_state = ("prev",)
    _group_option_defaults = _FLAGS

    def __init__(self, params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *,
                 capturable=False, foreach=None, maximize=False, differentiable=False):
        _check_nonneg(lr, "learning rate")
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")
        defaults = dict(lr=lr, etas=etas, step_sizes=step_sizes, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    def _init_state(self, state, p, group) -> None:
        super()._init_state(state, p, group)
        lr = _to_float(group["lr"])
        # complex: lr for both parts (the update runs on view_as_real pairs), as torch
        state["step_size"] = full_like(p, complex(lr, lr) if p.is_complex() else lr)

    def _update(self, p, grad, group) -> None:
        etaminus, etaplus = group["etas"]
        step_size_min, step_size_max = group["step_sizes"]
        state = self._param_state(p, group)
        prev, step_size = state["prev"], state["step_size"]
        sign = grad.mul(prev).sign()
        factor = sign.where(~sign.gt(0), etaplus).where(~sign.lt(0), etaminus)
        factor = factor.where(~sign.eq(0), 1.0)
        step_size.mul_(factor).clamp_(step_size_min, step_size_max)
        grad = grad.where(factor != etaminus, 0.0)
        p.addcmul_(grad.sign(), step_size, value=-1)
        prev.copy_(grad)
