"""torchvision.ops.focal_loss: the module path scripts import these from."""
from .._boxes import (sigmoid_focal_loss)

__all__ = ["sigmoid_focal_loss"]
