"""torchvision.datasets.flowers102: the module path scripts import these from."""
from .svhn import (Flowers102)

__all__ = ["Flowers102"]
