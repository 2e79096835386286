"""torch.distributions.chi2: Chi2, defined in ``cadenza.distributions.gamma``."""
from .gamma import Chi2

__all__ = ["Chi2"]
