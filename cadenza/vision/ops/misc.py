"""torchvision.ops.misc: the layer blocks (Conv2dNormActivation, MLP, FrozenBatchNorm2d,
SqueezeExcitation, Permute...)."""
from .._layers import *  # noqa: F401,F403
from .._layers import __all__  # noqa: F401
