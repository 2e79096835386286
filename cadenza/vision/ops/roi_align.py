"""torchvision.ops.roi_align: the module path scripts import these from."""
from .._roi import (roi_align, RoIAlign)

__all__ = ["roi_align", "RoIAlign"]
