"""torchvision.ops.giou_loss: the module path scripts import these from."""
from .._boxes import (generalized_box_iou_loss)

__all__ = ["generalized_box_iou_loss"]
