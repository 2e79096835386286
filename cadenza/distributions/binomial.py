"""torch.distributions.binomial: Binomial, defined in ``cadenza.distributions.discrete``."""
from .discrete import Binomial

__all__ = ["Binomial"]
