"""``nn.utils``: gradient clipping, parameter/vector conversion, sequence padding, weight and
spectral normalisation, parametrizations, functional calls, conv/linear + batch-norm fusion."""
from .clip_grad import clip_grad_norm_, clip_grad_norm, clip_grad_value_
from .clip_grad import get_total_norm, clip_grads_with_norm_
from .convert_parameters import parameters_to_vector, vector_to_parameters
import importlib as _importlib

from . import rnn
# the functions, bound after their modules are imported (torch's nn.utils.weight_norm is the
# function although nn/utils/weight_norm.py is a module of the same name)
from .weight_norm import weight_norm, remove_weight_norm
from .spectral_norm import spectral_norm, remove_spectral_norm

__all__ = ["clip_grad_norm_", "clip_grad_norm", "clip_grad_value_", "get_total_norm",
           "clip_grads_with_norm_", "parameters_to_vector", "vector_to_parameters", "rnn",
           "weight_norm", "remove_weight_norm", "spectral_norm", "remove_spectral_norm",
           "parametrize", "parametrizations", "stateless", "prune", "skip_init", "fusion",
           "fuse_conv_bn_eval", "fuse_conv_bn_weights", "fuse_linear_bn_eval",
           "fuse_linear_bn_weights"]

# the parametrizations build on nn.modules, which itself imports nn.utils.rnn: these
# submodules load on first use (``nn.utils.parametrizations.weight_norm``)
_LAZY = {"parametrize": None, "parametrizations": None, "stateless": None, "prune": None,
         "skip_init": "init", "fusion": None, "fuse_conv_bn_eval": "fusion",
         "fuse_conv_bn_weights": "fusion", "fuse_linear_bn_eval": "fusion",
         "fuse_linear_bn_weights": "fusion"}


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    mod = _importlib.import_module(f"{__name__}.{_LAZY[name] or name}")
    value = mod if _LAZY[name] is None else getattr(mod, name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
