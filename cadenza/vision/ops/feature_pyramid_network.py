"""torchvision.ops.feature_pyramid_network: FeaturePyramidNetwork and its extra blocks."""
from .._fpn import ExtraFPNBlock, FeaturePyramidNetwork, LastLevelMaxPool, LastLevelP6P7

__all__ = ["ExtraFPNBlock", "FeaturePyramidNetwork", "LastLevelMaxPool", "LastLevelP6P7"]
