"""cadenza.autograd: reverse-mode automatic differentiation on the dynamic graph.

The package spans two layers: ``grad_mode`` and ``node`` sit below the ops (every op reads grad
mode and records nodes); ``engine``, ``function``, ``anomaly``, ``gradcheck`` and
``functional`` sit above them. So that ops can import ``cadenza.autograd.node`` without loading
the engine, this facade imports only the lower modules eagerly and the rest on first use
(PEP 562 ``__getattr__``); ``from cadenza.autograd import grad`` works as usual.
"""
from __future__ import annotations

import importlib

from .grad_mode import (no_grad, enable_grad, set_grad_enabled, inference_mode,  # noqa: F401
                        is_grad_enabled, is_inference_mode_enabled)

# public name -> the submodule defining it (loaded on first access)
_LAZY_NAMES = {
    "backward": "engine", "grad": "engine",
    "detect_anomaly": "anomaly", "set_detect_anomaly": "anomaly",
    "is_anomaly_enabled": "anomaly",
    "Function": "function", "FunctionCtx": "function", "once_differentiable": "function",
    "gradcheck": "gradcheck", "gradgradcheck": "gradcheck", "GradcheckError": "gradcheck",
}
_SUBMODULES = {"engine", "anomaly", "function", "gradcheck", "functional", "profiler", "graph",
               "forward_ad"}

__all__ = ["no_grad", "enable_grad", "set_grad_enabled", "inference_mode", "is_grad_enabled",
           "is_inference_mode_enabled", "Variable", *_LAZY_NAMES, "functional", "profiler",
           "graph", "forward_ad"]


def Variable(data, requires_grad=False, volatile=False):
    """Legacy ``torch.autograd.Variable``: since PyTorch 0.4 it is just the tensor itself."""
    if requires_grad:
        data.requires_grad_(True)
    return data


def __getattr__(name):
    if name in _LAZY_NAMES:
        value = getattr(importlib.import_module(f".{_LAZY_NAMES[name]}", __name__), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module 'cadenza.autograd' has no attribute '{name}'")
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
