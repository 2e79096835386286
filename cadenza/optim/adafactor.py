"""Adafactor (Shazeer & Stern, 2018, https://arxiv.org/abs/1804.04235) as torch.optim.Adafactor
computes it: factored second moments (row and column averages) for parameters of 2 or more
dims, relative step sizes and update clipping."""
from __future__ import annotations

import numpy as np

from .._creation import zeros, zeros_like
from .._trace_hooks import untraceable
from .optimizer import Optimizer, _step_tensor, _to_float

__all__ = ["Adafactor"]


class Adafactor(Optimizer):
    """Adafactor (``torch.optim.Adafactor``): memory-light adaptive steps.

    Per parameter at step t, with ``rho = min(lr, 1 / sqrt(t))`` and
    ``alpha = max(eps2, RMS(p)) * rho``: the second moment is kept as ``row_var``/``col_var``
    (means over the last / second-to-last dim, decayed by ``1 - beta2_t = t ** beta2_decay``)
    for matrices, ``variance`` for vectors; ``update = g / sqrt(v_hat)`` is clipped to RMS ``d``
    and ``p -= alpha * update``. Weight decay is decoupled (``p *= 1 - lr * weight_decay``).
    Eager only: its step reads norms as numbers.

    >>> import cadenza as torch
    >>> w = torch.tensor([[1.0, 2.0]], requires_grad=True)
    >>> opt = torch.optim.Adafactor([w], lr=0.1)
    >>> (w * w).sum().backward(); opt.step(); [round(v, 4) for v in w.tolist()[0]]
    [0.8419, 1.8419]
    """

    _group_option_defaults = (("foreach", None), ("maximize", False))

    def __init__(self, params, lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0,
                 weight_decay=0.0, *, foreach=None, maximize=False):
        if hasattr(lr, "numel") and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= _to_float(lr):
            raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
        if not 0.0 >= beta2_decay:
            raise ValueError(f"beta2_decay should be <= 0 but is: {beta2_decay}")
        if eps[0] is not None and not 0.0 <= eps[0]:
            raise ValueError(f"epsilon1 should be >= 0 but is: {eps[0]}")
        if not 0.0 <= eps[1]:
            raise ValueError(f"epsilon2 should be >= 0 but is: {eps[1]}")
        if not 1.0 <= d:
            raise ValueError(f"Clipping threshold d should be >= 1 but is: {d}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"weight_decay should be >= 0 but is: {weight_decay}")
        defaults = dict(lr=lr, beta2_decay=beta2_decay, eps=eps, d=d,
                        weight_decay=weight_decay, foreach=foreach, maximize=maximize)
        super().__init__(params, defaults)

    def _weight_decay(self, p, grad, wd, group):
        return grad                  # decoupled, applied in _update after alpha is read

    def _init_state(self, state, p, group) -> None:
        state["step"] = _step_tensor(0.0)
        if p.ndim > 1:
            shape = list(p.shape)
            state["row_var"] = zeros(shape[:-1] + [1], dtype=p.dtype)
            state["col_var"] = zeros(shape[:-2] + [1, shape[-1]], dtype=p.dtype)
        else:
            state["variance"] = zeros_like(p)

    def _update(self, p, grad, group) -> None:
        untraceable("Adafactor.step", "run the Adafactor step eagerly (it reads norms as "
                    "numbers)", p)
        lr = _to_float(group["lr"])
        eps1, eps2 = group["eps"]
        if eps1 is None:
            eps1 = float(np.finfo(p._data.dtype).eps)
        state = self._param_state(p, group)
        step = state["step"].item()
        one_minus_beta2_t = step ** group["beta2_decay"]
        rho_t = min(lr, 1 / (step ** 0.5))
        alpha = max(eps2, p.norm(2).item() / (p.numel() ** 0.5)) * rho_t
        if group["weight_decay"] != 0:
            p.mul_(1 - lr * group["weight_decay"])
        if grad.ndim > 1:
            row_var, col_var = state["row_var"], state["col_var"]
            row_var.lerp_(grad.norm(dim=-1, keepdim=True).square_().div_(grad.size(-1)),
                          one_minus_beta2_t)
            col_var.lerp_(grad.norm(dim=-2, keepdim=True).square_().div_(grad.size(-2)),
                          one_minus_beta2_t)
            var_estimate = row_var @ col_var
            var_estimate.div_(row_var.mean(dim=-2, keepdim=True).clamp_(min=eps1))
        else:
            variance = state["variance"]
            variance.lerp_(grad * grad, one_minus_beta2_t)
            var_estimate = variance.clone()
        update = var_estimate.clamp_(min=eps1 * eps1).rsqrt_()
        update.mul_(grad)
        denom = max(1.0, update.norm(2).item() / ((update.numel() ** 0.5) * group["d"]))
        p.add_(update, alpha=-alpha / denom)
