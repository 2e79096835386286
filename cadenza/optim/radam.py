"""``torch.optim.radam``: RAdam (implemented in ``cadenza.optim.nadam``)."""
from .nadam import RAdam

__all__ = ["RAdam"]
