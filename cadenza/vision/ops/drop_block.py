"""torchvision.ops.drop_block: DropBlock regularisation (defined in ``vision/_layers.py``)."""
from .._layers import DropBlock2d, DropBlock3d, drop_block2d, drop_block3d

__all__ = ["DropBlock2d", "DropBlock3d", "drop_block2d", "drop_block3d"]
