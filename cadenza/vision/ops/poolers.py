"""torchvision.ops.poolers: MultiScaleRoIAlign and the FPN level mapper."""
from .._fpn import LevelMapper, MultiScaleRoIAlign

__all__ = ["LevelMapper", "MultiScaleRoIAlign"]
