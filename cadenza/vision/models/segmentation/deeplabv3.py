"""torchvision.models.segmentation.deeplabv3: the module path scripts import these from."""
from .models import (DeepLabV3, DeepLabHead, ASPP, ASPPConv, ASPPPooling,
    DeepLabV3_ResNet50_Weights, DeepLabV3_ResNet101_Weights, DeepLabV3_MobileNet_V3_Large_Weights,
    deeplabv3_resnet50, deeplabv3_resnet101, deeplabv3_mobilenet_v3_large)

__all__ = ["DeepLabV3", "DeepLabHead", "ASPP", "ASPPConv", "ASPPPooling",
           "DeepLabV3_ResNet50_Weights", "DeepLabV3_ResNet101_Weights",
           "DeepLabV3_MobileNet_V3_Large_Weights", "deeplabv3_resnet50", "deeplabv3_resnet101",
           "deeplabv3_mobilenet_v3_large"]
