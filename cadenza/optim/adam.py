"""Adam (Kingma & Ba, 2015, https://arxiv.org/abs/1412.6980) and AdamW (Loshchilov & Hutter,
2019, https://arxiv.org/abs/1711.05101: weight decay decoupled from the gradient)."""
from __future__ import annotations

import numpy as np

from .._creation import zeros_like
from .._tensor_base import _make
from .._trace_hooks import host_scalar, hyper
from .optimizer import (Optimizer, _check_betas, _check_nonneg, _fused_update, _step_tensor,
                        _to_float)
from ..backend.cpu import address

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    """Adam, with optional L2 weight decay, AMSGrad and ``maximize`` (``torch.optim.Adam``).

    Per parameter, at step t, with g the gradient (negated when ``maximize``)::

        g = g + weight_decay * p            (Adam)   or   p = p * (1 - lr * weight_decay) (AdamW)
        m = lerp(m, g, 1 - beta1);  v = beta2 * v + (1 - beta2) * g * g
        v_max = max(v_max, v)               (amsgrad; v_max replaces v below)
        p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

    >>> import cadenza as torch
    >>> w = torch.tensor([1.0], requires_grad=True)
    >>> opt = torch.optim.Adam([w], lr=0.1)
    >>> (w * w).sum().backward(); opt.step(); w
    tensor([0.9000], requires_grad=True)
    """

    _param_shaped_state = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")
    _group_option_defaults = (("amsgrad", False), ("maximize", False), ("foreach", None),
                              ("capturable", False), ("differentiable", False),
                              ("fused", None), ("decoupled_weight_decay", False))

    _sparse_error = "Adam does not support sparse gradients, please consider SparseAdam instead"

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 amsgrad=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False, fused=None, decoupled_weight_decay=False):
        _check_nonneg(lr, "learning rate")
        _check_nonneg(eps, "epsilon value")
        betas = _check_betas(betas)
        _check_nonneg(weight_decay, "weight_decay value")
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        amsgrad=amsgrad, maximize=maximize, foreach=foreach,
                        capturable=capturable, differentiable=differentiable, fused=fused,
                        decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def _init_state(self, state, p, group) -> None:
        state["step"] = _step_tensor(0.0)
        state["exp_avg"] = zeros_like(p)
        state["exp_avg_sq"] = zeros_like(p)
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = zeros_like(p)

    def _update(self, p, grad, group) -> None:
        lr = hyper(group, "lr")      # a graph input when compiled: schedulers do not recompile
        beta1, beta2 = (_to_float(b) for b in group["betas"])
        state = self._param_state(p, group)
        exp_avg, exp_avg_sq, step_t = state["exp_avg"], state["exp_avg_sq"], state["step"]
        fused = None if group["amsgrad"] else _fused_update("adam", p, grad, exp_avg, exp_avg_sq)
        if fused is not None:   # float32 in eager: the update below as one C pass, same bits
            fn, (pa, ga, ma, va) = fused
            step = host_scalar(lambda step, lr: -(lr / (1 - beta1 ** step)), step_t, lr)
            bc2 = host_scalar(lambda step: (1 - beta2 ** step) ** 0.5, step_t)
            fn(address(pa), address(ga), address(ma), address(va), pa.size,
               1 - beta1, beta2, 1 - beta2, step, bc2, group["eps"])
            exp_avg._vc[0] += 1      # the versions the in-place ops below would give
            exp_avg_sq._vc[0] += 2
            p._vc[0] += 1
            return
        exp_avg.lerp_(grad, 1 - beta1)
        exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)

        # Bias corrections in Python float maths on the step count: plain floats in eager mode;
        # under cadenza.compile, host nodes evaluating the same maths on each call, so compiled
        # steps stay bit-identical to eager without recompiling for every step value.
        neg_step_size = host_scalar(lambda step, lr: -(lr / (1 - beta1 ** step)), step_t, lr)
        bias_correction2_sqrt = host_scalar(lambda step: (1 - beta2 ** step) ** 0.5, step_t)
        if group["amsgrad"]:
            sq = state["max_exp_avg_sq"].maximum_(exp_avg_sq)
        else:
            sq = exp_avg_sq
        v = sq._data
        if type(bias_correction2_sqrt) is float and type(v) is np.ndarray and v.ndim and \
                v.dtype.itemsize > 2:   # (float16/bfloat16: the ops compute in float32)
            # eager on the host: the same sqrt, division and addition as the ops below, as
            # NumPy passes into one buffer (two fewer dispatched ops per parameter)
            d = np.sqrt(v)
            d /= bias_correction2_sqrt
            d += group["eps"]
            denom = _make(d)
        else:
            denom = (sq.sqrt() / bias_correction2_sqrt).add_(group["eps"])
        p.addcdiv_(exp_avg, denom, value=neg_step_size)


class AdamW(Adam):
    """Adam with decoupled weight decay (``torch.optim.AdamW``): ``p *= 1 - lr * weight_decay``
    before the Adam update, instead of adding ``weight_decay * p`` to the gradient.

    >>> import cadenza as torch
    >>> w = torch.tensor([1.0], requires_grad=True)
    >>> opt = torch.optim.AdamW([w], lr=0.1, weight_decay=0.5)
    >>> (w * w).sum().backward(); opt.step(); w
    tensor([0.8500], requires_grad=True)
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False, foreach=None, capturable=False,
                 differentiable=False, fused=None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach,
                         maximize=maximize, capturable=capturable,
                         differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True
