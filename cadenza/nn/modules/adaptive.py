"""AdaptiveLogSoftmaxWithLoss (Grave et al., 2016; ``torch.nn.modules.adaptive``): frequent
classes in a head softmax, rarer ones in tail clusters reached through the head's cluster
logits, with smaller projections; same parameters and results as torch's."""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from ... import _creation as C
from ...ops import cat
from .. import functional as F
from .container import ModuleList, Sequential
from .linear import Linear
from .module import Module

__all__ = ["AdaptiveLogSoftmaxWithLoss"]

_ASMoutput = namedtuple("_ASMoutput", ["output", "loss"])


class AdaptiveLogSoftmaxWithLoss(Module):
    """Efficient softmax approximation for large vocabularies: ``forward(input, target)``
    gives ``(output, loss)``, the target log-probabilities and their negative mean.

    >>> import cadenza as torch
    >>> asm = torch.nn.AdaptiveLogSoftmaxWithLoss(8, 20, cutoffs=[5, 10])
    >>> out = asm(torch.randn(4, 8), torch.tensor([0, 7, 12, 19]))
    >>> out.output.shape, out.loss.shape
    (cadenza.Size([4]), cadenza.Size([]))
    """

    def __init__(self, in_features: int, n_classes: int, cutoffs, div_value: float = 4.0,
                 head_bias: bool = False, device=None, dtype=None):
        super().__init__()
        kw = {"device": device, "dtype": dtype}
        cutoffs = list(cutoffs)
        if len(cutoffs) == 0:
            raise ValueError("cutoffs should be a sequence of length larger than 0")
        if cutoffs != sorted(cutoffs) or min(cutoffs) <= 0 or max(cutoffs) > n_classes - 1 \
                or len(set(cutoffs)) != len(cutoffs) or any(int(c) != c for c in cutoffs):
            raise ValueError("cutoffs should be a sequence of unique, positive integers sorted "
                             "in an increasing order, where each value is between 1 and "
                             "n_classes-1")
        self.in_features = in_features
        self.n_classes = n_classes
        self.cutoffs = cutoffs + [n_classes]
        self.div_value = div_value
        self.head_bias = head_bias
        self.shortlist_size = self.cutoffs[0]
        self.n_clusters = len(self.cutoffs) - 1
        self.head_size = self.shortlist_size + self.n_clusters
        self.head = Linear(in_features, self.head_size, bias=head_bias, **kw)
        self.tail = ModuleList()
        for i in range(self.n_clusters):
            hsz = int(in_features // (div_value ** (i + 1)))
            osz = self.cutoffs[i + 1] - self.cutoffs[i]
            self.tail.append(Sequential(Linear(in_features, hsz, bias=False, **kw),
                                        Linear(hsz, osz, bias=False, **kw)))

    def reset_parameters(self) -> None:
        self.head.reset_parameters()
        for i2h, h2o in self.tail:
            i2h.reset_parameters()
            h2o.reset_parameters()

    def forward(self, input_, target_):
        if target_.ndim == 1:
            if input_.shape[0] != target_.shape[0]:
                raise RuntimeError("Input and target should have the same size in the batch "
                                   "dimension.")
            if input_.ndim != 2:
                raise RuntimeError(f"1D target tensor expects 2D input tensors, but found "
                                   f"inputs with size {tuple(input_.shape)}")
        elif target_.ndim == 0:
            if input_.ndim != 1:
                raise RuntimeError(f"0D target tensor expects 1D input tensors, but found "
                                   f"inputs with size {tuple(input_.shape)}")
        else:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
        batched = target_.ndim > 0
        input = input_ if batched else input_.unsqueeze(0)
        target = target_ if batched else target_.unsqueeze(0)
        t = np.asarray(target.detach().cpu().numpy()).astype(np.int64)
        if t.size and (t.min() < 0 or t.max() >= self.n_classes):
            raise RuntimeError(f"Target values should be in [0, {self.n_classes - 1}], but "
                               f"values in range [{t.min()}, {t.max()}] were found. ")
        gather = t.copy()
        output = C.zeros(t.shape[0], dtype=input.dtype, device=input.device)
        for i in range(1, len(self.cutoffs)):
            lo, hi = self.cutoffs[i - 1], self.cutoffs[i]
            rows = np.nonzero((t >= lo) & (t < hi))[0]
            if rows.size == 0:
                continue
            rows_t = C.tensor(rows, device=input.device)
            lp = F.log_softmax(self.tail[i - 1](input.index_select(0, rows_t)), dim=1)
            local = lp.gather(1, C.tensor((t[rows] - lo).reshape(-1, 1), device=input.device))
            output = output.index_add(0, rows_t, local.squeeze(1))
            gather[rows] = self.shortlist_size + i - 1
        head_lp = F.log_softmax(self.head(input), dim=1)
        output = output + head_lp.gather(
            1, C.tensor(gather.reshape(-1, 1), device=input.device)).squeeze(1)
        loss = (-output).mean()
        if not batched:
            output = output.squeeze(0)
        return _ASMoutput(output, loss)

    def _get_full_log_prob(self, input, head_output):
        head_lp = F.log_softmax(head_output, dim=1)
        parts = [head_lp[:, :self.shortlist_size]]
        for i in range(self.n_clusters):
            lp = F.log_softmax(self.tail[i](input), dim=1)
            s = self.shortlist_size + i
            parts.append(lp + head_lp[:, s:s + 1])
        return cat(parts, 1)

    def log_prob(self, input):
        """Log-probabilities of all n_classes, (N, n_classes)."""
        return self._get_full_log_prob(input, self.head(input))

    def predict(self, input):
        """The most probable class of each row (``log_prob(input).argmax(1)``)."""
        return self.log_prob(input).argmax(1)
