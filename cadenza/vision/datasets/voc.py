"""torchvision.datasets.voc: the module path scripts import these from."""
from .annotated import (VOCSegmentation, VOCDetection)

__all__ = ["VOCSegmentation", "VOCDetection"]
