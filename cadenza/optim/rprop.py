"""``torch.optim.rprop``: Rprop (implemented in ``cadenza.optim.asgd``)."""
from .asgd import Rprop

__all__ = ["Rprop"]
