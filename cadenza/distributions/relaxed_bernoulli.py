"""torch.distributions.relaxed_bernoulli: LogitRelaxedBernoulli, RelaxedBernoulli,
defined in ``cadenza.distributions.relaxed``."""
from .relaxed import LogitRelaxedBernoulli, RelaxedBernoulli

__all__ = ["LogitRelaxedBernoulli", "RelaxedBernoulli"]
