"""torch.distributions.poisson: Poisson, defined in ``cadenza.distributions.discrete``."""
from .discrete import Poisson

__all__ = ["Poisson"]
