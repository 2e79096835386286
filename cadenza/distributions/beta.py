"""torch.distributions.beta: Beta, defined in ``cadenza.distributions.gamma``."""
from .gamma import Beta

__all__ = ["Beta"]
