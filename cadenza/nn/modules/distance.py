"""PairwiseDistance and CosineSimilarity (``torch.nn.modules.distance``)."""
from __future__ import annotations

from .. import functional as F
from .module import Module

__all__ = ["PairwiseDistance", "CosineSimilarity"]


class PairwiseDistance(Module):
    """p-norm of x1 - x2 + eps along the last dim.

    >>> import cadenza as torch
    >>> torch.nn.PairwiseDistance()(torch.zeros(2, 3), torch.ones(2, 3)).shape
    cadenza.Size([2])
    """

    def __init__(self, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False):
        super().__init__()
        self.norm = p
        self.eps = eps
        self.keepdim = keepdim

    def forward(self, x1, x2):
        return F.pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)


class CosineSimilarity(Module):
    """x1 . x2 / max(|x1| |x2|, eps) along ``dim``.

    >>> import cadenza as torch
    >>> torch.nn.CosineSimilarity(dim=1)(torch.ones(2, 3), torch.ones(2, 3))
    tensor([1., 1.])
    """

    def __init__(self, dim: int = 1, eps: float = 1e-8):
        super().__init__()
        self.dim = dim
        self.eps = eps

    def forward(self, x1, x2):
        return F.cosine_similarity(x1, x2, self.dim, self.eps)
