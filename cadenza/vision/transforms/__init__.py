"""torchvision.transforms: ``from torchvision import transforms`` under cadenza.compat."""
from .transforms import *  # noqa: F401,F403
from .transforms import __all__ as _classic_names
from ._random import *  # noqa: F401,F403
from ._random import __all__ as _random_names
from .autoaugment import *  # noqa: F401,F403
from .autoaugment import __all__ as _autoaugment_names
from . import functional

__all__ = _classic_names + _random_names + _autoaugment_names
