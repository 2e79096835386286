"""torch.distributions.geometric: Geometric, defined in ``cadenza.distributions.discrete``."""
from .discrete import Geometric

__all__ = ["Geometric"]
