"""torchvision.transforms: ``from torchvision import transforms`` under cadenza.compat."""
from .transforms import *  # noqa: F401,F403
from .transforms import __all__
from . import functional
