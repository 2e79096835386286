"""torchvision.models.detection: Faster R-CNN, Mask R-CNN and RetinaNet (and their building
blocks: anchors, RPN, RoI heads, the transform) with torchvision's module names and state-dict
keys."""
from .faster_rcnn import *  # noqa: F401,F403
from .faster_rcnn import __all__ as _frcnn
from .mask_rcnn import *  # noqa: F401,F403
from .mask_rcnn import __all__ as _mrcnn
from .retinanet import *  # noqa: F401,F403
from .retinanet import __all__ as _retina

__all__ = list(_frcnn) + list(_mrcnn) + list(_retina)
