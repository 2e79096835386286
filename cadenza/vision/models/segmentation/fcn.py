"""torchvision.models.segmentation.fcn: the module path scripts import these from."""
from .models import (FCN, FCNHead, FCN_ResNet50_Weights, FCN_ResNet101_Weights, fcn_resnet50,
    fcn_resnet101)

__all__ = ["FCN", "FCNHead", "FCN_ResNet50_Weights", "FCN_ResNet101_Weights", "fcn_resnet50",
           "fcn_resnet101"]
