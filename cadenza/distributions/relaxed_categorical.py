"""torch.distributions.relaxed_categorical: RelaxedOneHotCategorical,
defined in ``cadenza.distributions.relaxed``."""
from .relaxed import RelaxedOneHotCategorical

__all__ = ["RelaxedOneHotCategorical"]
