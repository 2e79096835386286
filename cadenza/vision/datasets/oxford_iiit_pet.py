"""torchvision.datasets.oxford_iiit_pet: the module path scripts import these from."""
from .annotated import (OxfordIIITPet)

__all__ = ["OxfordIIITPet"]
