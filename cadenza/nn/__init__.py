"""Neural-network building blocks (``torch.nn``): Module, Parameter, layers, losses, init,
functional and utils.

>>> import cadenza as torch
>>> model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
>>> model(torch.randn(3, 4)).shape
cadenza.Size([3, 2])
"""
from .parameter import Parameter, Buffer, UninitializedParameter  # noqa: F401
from .modules import *  # noqa: F401,F403
from .modules import Module  # noqa: F401
from . import functional, init, utils, parallel  # noqa: F401
from .parallel import DataParallel  # noqa: F401
