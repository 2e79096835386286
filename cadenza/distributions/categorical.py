"""torch.distributions.categorical: Categorical, defined in ``cadenza.distributions.discrete``."""
from .discrete import Categorical

__all__ = ["Categorical"]
