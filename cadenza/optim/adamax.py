"""``torch.optim.adamax``: Adamax (implemented in ``cadenza.optim.adadelta``)."""
from .adadelta import Adamax

__all__ = ["Adamax"]
