"""``torch.nn.utils.weight_norm`` (the older, hook-based form; the parametrization is
``nn.utils.parametrizations.weight_norm``): the parameter ``<name>`` is replaced by
``<name>_g`` (its norm over every dim but ``dim``) and ``<name>_v`` (its direction), and a
forward pre-hook recomputes ``<name> = g * v / ||v||`` before each call."""
from __future__ import annotations

from ... import _torch_functions
from ..parameter import Parameter

__all__ = ["WeightNorm", "weight_norm", "remove_weight_norm"]


class WeightNorm:
    def __init__(self, name: str, dim: int):
        self.name = name
        self.dim = -1 if dim is None else dim

    def compute_weight(self, module):
        g = getattr(module, self.name + "_g")
        v = getattr(module, self.name + "_v")
        return v * (g / _torch_functions.norm_except_dim(v, 2, self.dim))

    @staticmethod
    def apply(module, name: str, dim: int) -> "WeightNorm":
        for hook in module._forward_pre_hooks.values():
            if isinstance(hook, WeightNorm) and hook.name == name:
                raise RuntimeError(f"Cannot register two weight_norm hooks on the same "
                                   f"parameter {name}")
        fn = WeightNorm(name, dim)
        weight = getattr(module, name)
        del module._parameters[name]
        module.register_parameter(name + "_g", Parameter(
            _torch_functions.norm_except_dim(weight, 2, fn.dim).detach()))
        module.register_parameter(name + "_v", Parameter(weight.detach()))
        setattr(module, name, fn.compute_weight(module))
        module.register_forward_pre_hook(fn)
        return fn

    def remove(self, module) -> None:
        weight = self.compute_weight(module)
        delattr(module, self.name)
        del module._parameters[self.name + "_g"]
        del module._parameters[self.name + "_v"]
        setattr(module, self.name, Parameter(weight.detach()))

    def __call__(self, module, inputs) -> None:
        setattr(module, self.name, self.compute_weight(module))


def weight_norm(module, name: str = "weight", dim: int = 0):
    """Reparameterise ``module.<name>`` as ``g * v / ||v||`` (parameters ``<name>_g`` and
    ``<name>_v``); ``dim=None`` takes the norm of the whole tensor."""
    WeightNorm.apply(module, name, dim)
    return module


def remove_weight_norm(module, name: str = "weight"):
    """Fold the weight norm back into one parameter ``<name>``."""
    return remove_hook_of(module, WeightNorm, name, "weight_norm")


def remove_hook_of(module, kind, name, what):
    """Undo the forward pre-hook of class ``kind`` that reparameterises ``name``."""
    for key, hook in list(module._forward_pre_hooks.items()):
        if isinstance(hook, kind) and hook.name == name:
            hook.remove(module)
            del module._forward_pre_hooks[key]
            return module
    raise ValueError(f"{what} of '{name}' not found in {module}")
