"""torchvision.ops.ps_roi_pool: the module path scripts import these from."""
from .._roi import (ps_roi_pool, PSRoIPool)

__all__ = ["ps_roi_pool", "PSRoIPool"]
