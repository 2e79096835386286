"""torchvision.ops: box functions, nms and batched_nms (in NumPy; torchvision's CPU kernels'
rules: boxes are (x1, y1, x2, y2), areas without +1), roi_align / roi_pool and the
position-sensitive ps_roi_align / ps_roi_pool with gradients, deform_conv2d (DCN / DCNv2) with
gradients, the Feature Pyramid Network and MultiScaleRoIAlign, and the layer blocks of
torchvision.ops.misc; the submodules boxes, misc, deform_conv, feature_pyramid_network,
poolers, roi_align, roi_pool, ps_roi_align, ps_roi_pool, stochastic_depth and the *_loss modules
as torchvision's."""
from .._boxes import *  # noqa: F401,F403
from .._boxes import __all__ as _box_names
from .._deform import *  # noqa: F401,F403
from .._deform import __all__ as _deform_names
from .._fpn import *  # noqa: F401,F403
from .._fpn import __all__ as _fpn_names
from .._layers import *  # noqa: F401,F403
from .._layers import __all__ as _layer_names
from .._roi import *  # noqa: F401,F403
from .._roi import __all__ as _roi_names
from .boxes import batched_nms, nms
# the submodules named like their functions are imported here, then the names re-bound to the
# functions (as torchvision does): importing one later must not shadow the function
from .ps_roi_align import ps_roi_align  # noqa: E402
from .ps_roi_pool import ps_roi_pool  # noqa: E402
from .roi_align import roi_align  # noqa: E402
from .roi_pool import roi_pool  # noqa: E402
from .stochastic_depth import stochastic_depth  # noqa: E402

__all__ = (["nms", "batched_nms"] + _box_names + _layer_names + _roi_names + _fpn_names
           + _deform_names)
