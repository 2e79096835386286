"""Neural-network building blocks (``torch.nn``): Module, Parameter, layers, losses, init,
functional and utils.

>>> import cadenza as torch
>>> model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
>>> model(torch.randn(3, 4)).shape
cadenza.Size([3, 2])
"""
from . import functional, init, utils, parallel
from .modules import *  # noqa: F403  (the layers; modules.__all__ lists them)
from .modules import __all__ as _modules_all
from .parallel import DataParallel
from .parameter import Parameter, Buffer, UninitializedParameter, UninitializedBuffer

__all__ = ["Parameter", "Buffer", "UninitializedParameter", "UninitializedBuffer", "DataParallel",
           *_modules_all]
