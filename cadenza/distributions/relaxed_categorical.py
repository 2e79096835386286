"""torch.distributions.relaxed_categorical: ExpRelaxedCategorical, RelaxedOneHotCategorical,
defined in ``cadenza.distributions.relaxed``."""
from .relaxed import ExpRelaxedCategorical, RelaxedOneHotCategorical

__all__ = ["ExpRelaxedCategorical", "RelaxedOneHotCategorical"]
