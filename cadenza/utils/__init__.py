"""``cadenza.utils``: PyTorch's ``torch.utils`` namespace. Submodules load on first use.

>>> import cadenza
>>> cadenza.utils.data.DataLoader is cadenza.data.DataLoader
True
"""
import importlib as _importlib

_LAZY = {"data", "checkpoint", "tensorboard", "dlpack"}
__all__ = sorted(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        mod = _importlib.import_module(f".{name}", __name__)
        globals()[name] = mod
        return mod
    raise AttributeError(f"module 'cadenza.utils' has no attribute '{name}'")


def __dir__():
    return sorted(set(globals()) | _LAZY)
