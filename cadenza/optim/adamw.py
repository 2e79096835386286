"""``torch.optim.adamw``: AdamW (implemented with Adam in ``cadenza.optim.adam``)."""
from .adam import AdamW

__all__ = ["AdamW"]
