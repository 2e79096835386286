"""torchvision.models: the classification models with torchvision's module names and state-dict
keys (a torchvision state dict, converted to safetensors, loads with strict=True)."""
from ._api import Weights, WeightsEnum
from .alexnet import *  # noqa: F401,F403
from .mobilenetv2 import *  # noqa: F401,F403
from .resnet import *  # noqa: F401,F403
from .squeezenet import *  # noqa: F401,F403
from .vgg import *  # noqa: F401,F403
from . import alexnet as _alexnet_mod, mobilenetv2, resnet, squeezenet, vgg

_BUILDERS = {name: obj for name, obj in dict(globals()).items()
             if callable(obj) and not isinstance(obj, type) and not name.startswith("_")
             and getattr(obj, "__module__", "").startswith(__name__ + ".")
             and name[0].islower() and name not in ("mobilenetv2", "resnet", "squeezenet", "vgg")}


def list_models(module=None, include=None, exclude=None):
    return sorted(_BUILDERS)


def get_model_builder(name):
    try:
        return _BUILDERS[name.lower()]
    except KeyError:
        raise ValueError(f"Unknown model {name}; available: {sorted(_BUILDERS)}") from None


def get_model(name, **config):
    return get_model_builder(name)(**config)
