"""torch.distributions.gumbel: Gumbel, defined in ``cadenza.distributions.location_scale``."""
from .location_scale import Gumbel

__all__ = ["Gumbel"]
