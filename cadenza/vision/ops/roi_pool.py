"""torchvision.ops.roi_pool: the module path scripts import these from."""
from .._roi import (roi_pool, RoIPool)

__all__ = ["roi_pool", "RoIPool"]
