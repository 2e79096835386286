"""torch.distributions.log_normal: LogNormal,
defined in ``cadenza.distributions.location_scale``."""
from .location_scale import LogNormal

__all__ = ["LogNormal"]
