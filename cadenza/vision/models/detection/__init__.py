"""torchvision.models.detection: Faster R-CNN and Mask R-CNN (and their building blocks: anchors,
RPN, RoI heads, the transform) with torchvision's module names and state-dict keys."""
from .faster_rcnn import *  # noqa: F401,F403
from .faster_rcnn import __all__ as _frcnn
from .mask_rcnn import *  # noqa: F401,F403
from .mask_rcnn import __all__ as _mrcnn

__all__ = list(_frcnn) + list(_mrcnn)
