"""Neural-network building blocks (``torch.nn``): Module, Parameter, layers, losses, init,
functional and utils.

>>> import cadenza as torch
>>> model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
>>> model(torch.randn(3, 4)).shape
cadenza.Size([3, 2])
"""
from . import attention, common_types, functional, grad, init, utils, parallel
from .modules import *  # noqa: F403  (the layers; modules.__all__ lists them)
from .modules import __all__ as _modules_all
from .parallel import DataParallel
from .parameter import Parameter, Buffer, UninitializedParameter, UninitializedBuffer


def factory_kwargs(kwargs):
    """The factory keyword arguments (device, dtype, memory_format) of ``kwargs``, checked, as
    a dict for creation functions; a nested ``factory_kwargs`` dict is merged in.

    >>> import cadenza as torch
    >>> torch.nn.factory_kwargs({"dtype": torch.float64})
    {'dtype': cadenza.float64}
    """
    if kwargs is None:
        return {}
    simple = {"device", "dtype", "memory_format"}
    expected = simple | {"factory_kwargs"}
    if not kwargs.keys() <= expected:
        raise TypeError(f"unexpected kwargs {kwargs.keys() - expected}")
    r = dict(kwargs.get("factory_kwargs", {}))
    for k in simple:
        if k in kwargs:
            if k in r:
                raise TypeError(f"{k} specified twice, in **kwargs and in factory_kwargs")
            r[k] = kwargs[k]
    return r


__all__ = ["Parameter", "Buffer", "UninitializedParameter", "UninitializedBuffer", "DataParallel",
           *_modules_all]
