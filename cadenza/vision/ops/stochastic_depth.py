"""torchvision.ops.stochastic_depth: the module path scripts import these from."""
from .._layers import (stochastic_depth, StochasticDepth)

__all__ = ["stochastic_depth", "StochasticDepth"]
