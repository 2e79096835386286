"""torchvision.ops.deform_conv: deform_conv2d and DeformConv2d."""
from .._deform import DeformConv2d, deform_conv2d  # noqa: F401
