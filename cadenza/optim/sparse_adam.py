"""SparseAdam (``torch.optim.SparseAdam``): Adam for sparse gradients (an ``nn.Embedding`` with
``sparse=True``), which updates the moments and the parameter only at the gradient's entries."""
from __future__ import annotations

import math

import numpy as np

from .._creation import zeros_like
from ..autograd.grad_mode import no_grad
from .optimizer import Optimizer, _check_betas, _check_nonneg, _to_float, _with_step_hooks

__all__ = ["SparseAdam"]


class SparseAdam(Optimizer):
    """Lazy Adam: at step t, for the entries (rows) i that the sparse gradient g has::

        m_i = b1 m_i + (1 - b1) g_i;  v_i = b2 v_i + (1 - b2) g_i^2
        p_i = p_i - lr sqrt(1 - b2^t) / (1 - b1^t) * m_i / (sqrt(v_i) + eps)

    and no change elsewhere (torch's algorithm, duplicate entries summed first).

    >>> import cadenza as torch
    >>> emb = torch.nn.Embedding(4, 2, sparse=True)
    >>> opt = torch.optim.SparseAdam(emb.parameters(), lr=0.1)
    >>> emb(torch.tensor([1])).sum().backward(); opt.step()
    """

    _param_shaped_state = ("exp_avg", "exp_avg_sq")
    _group_option_defaults = (("maximize", False),)

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, maximize=False):
        _check_nonneg(lr, "learning rate")
        _check_nonneg(eps, "epsilon value")
        betas = _check_betas(betas)
        defaults = dict(lr=lr, betas=betas, eps=eps, maximize=maximize)
        super().__init__(params, defaults)
        sparse = [[i, j] for i, g in enumerate(self.param_groups)
                  for j, p in enumerate(g["params"]) if p.is_sparse]
        if sparse:
            raise ValueError(f"Sparse params at indices {sparse}: SparseAdam requires dense "
                             "parameter tensors")

    @_with_step_hooks
    def step(self, closure=None):
        """One update of every parameter with a (sparse) gradient."""
        loss = self._eval_closure(closure)
        with no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is not None:
                        self._sparse_update(p, p.grad, group)
        return loss

    def _sparse_update(self, p, grad, group):
        if not grad.is_sparse:
            raise RuntimeError("SparseAdam does not support dense gradients, please consider "
                               "Adam instead")
        state = self.state[p]
        if len(state) == 0:
            state["step"] = 0   # a Python int, as torch's SparseAdam
            state["exp_avg"] = zeros_like(p)
            state["exp_avg_sq"] = zeros_like(p)
        state["step"] += 1
        grad = grad.coalesce()
        idx = tuple(np.asarray(grad._indices()._data))
        g = np.asarray(grad._values()._data)
        if g.size == 0:
            return
        if group["maximize"]:
            g = -g
        beta1, beta2 = group["betas"]
        m, v, x = state["exp_avg"]._data, state["exp_avg_sq"]._data, p._data
        m_new = m[idx] + (g - m[idx]) * (1 - beta1)
        v_new = v[idx] + (g * g - v[idx]) * (1 - beta2)
        m[idx], v[idx] = m_new, v_new
        for t in (state["exp_avg"], state["exp_avg_sq"], p):
            t._vc[0] += 1
        step = state["step"]
        step_size = _to_float(group["lr"]) * math.sqrt(1 - beta2 ** step) / (1 - beta1 ** step)
        x[idx] = x[idx] + (-step_size * (m_new / (np.sqrt(v_new) + group["eps"]))).astype(
            x.dtype)
