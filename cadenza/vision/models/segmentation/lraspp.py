"""torchvision.models.segmentation.lraspp: the module path scripts import these from."""
from .models import (LRASPP, LRASPPHead, LRASPP_MobileNet_V3_Large_Weights,
    lraspp_mobilenet_v3_large)

__all__ = ["LRASPP", "LRASPPHead", "LRASPP_MobileNet_V3_Large_Weights",
           "lraspp_mobilenet_v3_large"]
