"""``OneHotCategorical`` (defined with the categorical families) and
``OneHotCategoricalStraightThrough``: one-hot samples whose ``rsample`` carries the
straight-through gradient of the probabilities (sample + probs - probs.detach())."""
from __future__ import annotations

from .discrete import OneHotCategorical

__all__ = ["OneHotCategorical", "OneHotCategoricalStraightThrough"]


class OneHotCategoricalStraightThrough(OneHotCategorical):
    has_rsample = True

    def rsample(self, sample_shape=()):
        samples = self._sample(tuple(sample_shape))
        probs = self.probs
        return samples + (probs - probs.detach())
