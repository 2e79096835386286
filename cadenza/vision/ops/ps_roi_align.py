"""torchvision.ops.ps_roi_align: the module path scripts import these from."""
from .._roi import (ps_roi_align, PSRoIAlign)

__all__ = ["ps_roi_align", "PSRoIAlign"]
