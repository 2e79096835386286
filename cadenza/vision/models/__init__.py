"""torchvision.models: the classification models with torchvision's module names and state-dict
keys (a torchvision state dict, converted to safetensors, loads with strict=True)."""
from ._api import Weights, WeightsEnum
from .alexnet import *  # noqa: F401,F403
from .convnext import *  # noqa: F401,F403
from .densenet import *  # noqa: F401,F403
from .efficientnet import *  # noqa: F401,F403
from .googlenet import *  # noqa: F401,F403
from .inception import *  # noqa: F401,F403
from .maxvit import *  # noqa: F401,F403
from .mnasnet import *  # noqa: F401,F403
from .mobilenetv2 import *  # noqa: F401,F403
from .mobilenetv3 import *  # noqa: F401,F403
from .regnet import *  # noqa: F401,F403
from .resnet import *  # noqa: F401,F403
from .shufflenetv2 import *  # noqa: F401,F403
from .squeezenet import *  # noqa: F401,F403
from .swin_transformer import *  # noqa: F401,F403
from .vgg import *  # noqa: F401,F403
from .vision_transformer import *  # noqa: F401,F403
import fnmatch as _fnmatch
import sys as _sys

_BUILDERS = {name: obj for name, obj in dict(globals()).items()
             if callable(obj) and not isinstance(obj, type) and not name.startswith("_")
             and getattr(obj, "__module__", "").startswith(__name__ + ".")
             and name[0].islower()}

from . import segmentation  # noqa: E402  (its builders are registered, its names stay there)
_BUILDERS.update({n: getattr(segmentation, n) for n in segmentation.__all__ if n[0].islower()})
from . import detection  # noqa: E402  (the same for the detection builders)
_BUILDERS.update({n: getattr(detection, n) for n in detection.__all__ if n[0].islower()})


def list_models(module=None, include=None, exclude=None):
    """Names of the model builders, optionally only those of ``module`` and filtered by
    fnmatch patterns (a union over several ``include`` patterns; ``exclude`` removes)."""
    names = [n for n, fn in _BUILDERS.items()
             if module is None or fn.__module__.rsplit(".", 1)[0] == module.__name__]
    if include is not None:
        pats = [include] if isinstance(include, str) else list(include)
        names = [n for n in names if any(_fnmatch.fnmatch(n, p) for p in pats)]
    if exclude is not None:
        pats = [exclude] if isinstance(exclude, str) else list(exclude)
        names = [n for n in names if not any(_fnmatch.fnmatch(n, p) for p in pats)]
    return sorted(names)


def get_model_builder(name):
    try:
        return _BUILDERS[name.lower()]
    except KeyError:
        raise ValueError(f"Unknown model {name}; available: {sorted(_BUILDERS)}") from None


def get_model(name, **config):
    return get_model_builder(name)(**config)


def get_model_weights(name):
    """The ``*_Weights`` enum of a model builder (given as a function or registered name)."""
    fn = get_model_builder(name) if isinstance(name, str) else name
    module = _sys.modules[fn.__module__]
    for attr, obj in vars(module).items():
        if attr.endswith("_Weights") and attr[:-len("_Weights")].lower() == fn.__name__:
            return obj
    raise ValueError(f"The weight enum for {fn.__name__} could not be found")


def get_weight(name):
    """A weights entry by its full name, e.g. ``"ResNet50_Weights.IMAGENET1K_V1"``."""
    try:
        enum_name, value_name = name.split(".")
    except ValueError:
        raise ValueError(f"Invalid weight name provided: '{name}'.") from None
    enum = (globals().get(enum_name) or getattr(segmentation, enum_name, None)
            or getattr(detection, enum_name, None))
    if not (isinstance(enum, type) and issubclass(enum, WeightsEnum)):
        raise ValueError(f"The weight enum '{enum_name}' for the specific method couldn't be "
                         "retrieved.")
    return enum[value_name]
