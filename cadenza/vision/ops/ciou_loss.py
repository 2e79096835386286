"""torchvision.ops.ciou_loss: the module path scripts import these from."""
from .._boxes import (complete_box_iou_loss)

__all__ = ["complete_box_iou_loss"]
