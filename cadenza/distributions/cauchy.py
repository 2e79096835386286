"""torch.distributions.cauchy: Cauchy, defined in ``cadenza.distributions.location_scale``."""
from .location_scale import Cauchy

__all__ = ["Cauchy"]
