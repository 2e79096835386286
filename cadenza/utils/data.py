"""``cadenza.utils.data``: the same objects as ``cadenza.data`` (torch.utils.data's API).

>>> from cadenza.utils.data import DataLoader
"""
import sys as _sys

from ..data import *  # noqa: F401,F403
from ..data import __all__  # noqa: F401
from ..data import collate as _collate, dataloader as _dataloader, dataset as _dataset
from ..data import sampler as _sampler

# ``from cadenza.utils.data.dataloader import DataLoader`` works as with torch.utils.data
for _name, _mod in (("dataloader", _dataloader), ("dataset", _dataset),
                    ("sampler", _sampler), ("collate", _collate)):
    _sys.modules.setdefault(f"{__name__}.{_name}", _mod)
    globals()[_name] = _mod
del _name, _mod
