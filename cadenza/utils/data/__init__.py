"""``cadenza.utils.data``: ``torch.utils.data``'s API, the same objects as ``cadenza.data``, with
torch's submodule paths (``dataloader``, ``dataset``, ``sampler``, ``distributed``,
``_utils.collate``) so ``from torch.utils.data.dataloader import DataLoader`` runs unchanged.

>>> from cadenza.utils.data import DataLoader
>>> from cadenza.utils.data.dataloader import DataLoader as D
>>> D is DataLoader
True
"""
from ...data import *  # noqa: F401,F403
from ...data import __all__  # noqa: F401
from . import _utils, dataloader, dataset, distributed, sampler  # noqa: F401
