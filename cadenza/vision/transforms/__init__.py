"""torchvision.transforms: ``from torchvision import transforms`` under cadenza.compat."""
from .transforms import *  # noqa: F401,F403
from .transforms import __all__ as _classic
from ._random import *  # noqa: F401,F403
from ._random import __all__ as _random
from .autoaugment import *  # noqa: F401,F403
from .autoaugment import __all__ as _autoaugment
from . import functional

__all__ = _classic + _random + _autoaugment
