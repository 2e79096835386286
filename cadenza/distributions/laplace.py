"""torch.distributions.laplace: Laplace, defined in ``cadenza.distributions.exponential``."""
from .exponential import Laplace

__all__ = ["Laplace"]
