"""torch.distributions.studentT: StudentT, defined in ``cadenza.distributions.location_scale``."""
from .location_scale import StudentT

__all__ = ["StudentT"]
