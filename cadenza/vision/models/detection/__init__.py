"""torchvision.models.detection: Faster R-CNN, Mask R-CNN, Keypoint R-CNN, RetinaNet, SSD and
SSDlite (and their building blocks: anchors, RPN, RoI heads, the transform) with torchvision's
module names and state-dict keys."""
from .faster_rcnn import *  # noqa: F401,F403
from .faster_rcnn import __all__ as _frcnn
from .keypoint_rcnn import *  # noqa: F401,F403
from .keypoint_rcnn import __all__ as _kprcnn
from .mask_rcnn import *  # noqa: F401,F403
from .mask_rcnn import __all__ as _mrcnn
from .retinanet import *  # noqa: F401,F403
from .retinanet import __all__ as _retina
from .ssd import *  # noqa: F401,F403
from .ssd import __all__ as _ssd
from .ssdlite import *  # noqa: F401,F403
from .ssdlite import __all__ as _ssdlite

__all__ = list(_frcnn) + list(_kprcnn) + list(_mrcnn) + list(_retina) + list(_ssd) + list(_ssdlite)
