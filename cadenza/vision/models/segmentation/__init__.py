"""torchvision.models.segmentation: FCN, DeepLabV3 and LR-ASPP with torchvision's module names
and state-dict keys, on the dilated ResNet / MobileNetV3 backbones."""
from .models import *  # noqa: F401,F403
from .models import __all__  # noqa: F401
