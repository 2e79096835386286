"""``LKJCholesky(dim, concentration=1.0)``: the LKJ distribution over Cholesky factors of
dim x dim correlation matrices, sampled by the onion method (a Beta radius per row times a
uniform direction), log_prob as torch."""
from __future__ import annotations

import math

from .. import _creation as C
from ..autograd.grad_mode import no_grad
from ..ops.join import cat
from . import constraints
from .distribution import Distribution, finfo_tiny
from .gamma import Beta
from .utils import broadcast_all

__all__ = ["LKJCholesky"]


class LKJCholesky(Distribution):
    arg_constraints = {"concentration": constraints.positive}
    support = constraints.corr_cholesky

    def __init__(self, dim, concentration=1.0, validate_args=None):
        if dim < 2:
            raise ValueError("Expected dim to be an integer greater than or equal to 2. "
                             f"Found dim={dim}.")
        self.dim = dim
        (self.concentration,) = broadcast_all(concentration)
        marginal_conc = self.concentration + 0.5 * (dim - 2)
        offset = C.arange(dim - 1, dtype=self.concentration.dtype)
        offset = cat([offset.new_zeros((1,)), offset])
        self._beta = Beta(offset + 0.5, marginal_conc.unsqueeze(-1) - 0.5 * offset)
        super().__init__(tuple(self.concentration.shape), (dim, dim), validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(LKJCholesky, _instance)
        batch_shape = tuple(batch_shape)
        new.dim = self.dim
        new.concentration = self.concentration.expand(batch_shape)
        new._beta = self._beta.expand(batch_shape + (self.dim,))
        Distribution.__init__(new, batch_shape, self._event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def sample(self, sample_shape=()):
        with no_grad():
            y = self._beta.sample(sample_shape).unsqueeze(-1)
            u = C.randn(self._extended_shape(sample_shape), dtype=y.dtype).tril(-1)
            norm = u.pow(2).sum(-1, keepdim=True).sqrt()
            row0 = C.arange(self.dim).reshape(-1, 1) == 0
            u = (u / norm).masked_fill(row0, 0.0)
            w = y.sqrt() * u
            diag = (1 - w.pow(2).sum(-1)).clamp(min=finfo_tiny(w.dtype)).sqrt()
            return w + diag.diag_embed()

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        diag_elems = value.diagonal(dim1=-1, dim2=-2)[..., 1:]
        order = C.arange(2, self.dim + 1, dtype=self.concentration.dtype)
        order = 2 * (self.concentration - 1).unsqueeze(-1) + self.dim - order
        unnormalized = (order * diag_elems.log()).sum(-1)
        dm1 = self.dim - 1
        alpha = self.concentration + 0.5 * dm1
        denominator = alpha.lgamma() * dm1
        numerator = (alpha - 0.5).mvlgamma(dm1)
        return unnormalized - (0.5 * dm1 * math.log(math.pi) + numerator - denominator)
