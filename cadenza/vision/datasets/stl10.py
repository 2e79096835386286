"""torchvision.datasets.stl10: the module path scripts import these from."""
from .usps import (STL10)

__all__ = ["STL10"]
