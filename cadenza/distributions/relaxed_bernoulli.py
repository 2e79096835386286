"""torch.distributions.relaxed_bernoulli: RelaxedBernoulli,
defined in ``cadenza.distributions.relaxed``."""
from .relaxed import RelaxedBernoulli

__all__ = ["RelaxedBernoulli"]
