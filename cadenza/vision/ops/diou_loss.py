"""torchvision.ops.diou_loss: the module path scripts import these from."""
from .._boxes import (distance_box_iou_loss)

__all__ = ["distance_box_iou_loss"]
