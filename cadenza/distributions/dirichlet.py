"""torch.distributions.dirichlet: Dirichlet, defined in ``cadenza.distributions.gamma``."""
from .gamma import Dirichlet

__all__ = ["Dirichlet"]
