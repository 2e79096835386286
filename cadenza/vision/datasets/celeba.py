"""torchvision.datasets.celeba: the module path scripts import these from."""
from .annotated import (CelebA)

__all__ = ["CelebA"]
