"""torch.distributions.half_normal: HalfNormal,
defined in ``cadenza.distributions.location_scale``."""
from .location_scale import HalfNormal

__all__ = ["HalfNormal"]
