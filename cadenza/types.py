"""``torch.types``: the type aliases programs annotate with (``Number``, ``Device``,
``FileLike``).

>>> from cadenza.types import Number
>>> isinstance(2.5, Number.__args__)
True
"""
from __future__ import annotations

import os
from typing import IO, Union

from .device import device as _device

__all__ = ["Number", "Device", "FileLike"]

Number = Union[int, float, bool]
Device = Union[_device, str, int, None]
FileLike = Union[str, os.PathLike, IO[bytes]]
