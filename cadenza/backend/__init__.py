"""Backends: where arrays live. Each backend gives an array module ``xp`` (NumPy on the CPU,
CuPy on CUDA) and a ``device`` describing it. Ops are written once against ``xp``."""
from __future__ import annotations

import numpy as np

from . import cpu
from . import cuda
from . import meta
from ..errors import DeviceError


def backend_of_array(arr):
    """The backend module owning ``arr`` (CPU for NumPy arrays)."""
    if type(arr) is np.ndarray:
        return cpu
    if type(arr) is meta.MetaArray:
        return meta
    if isinstance(arr, (np.ndarray, np.generic)):
        return cpu
    if cuda.owns(arr):
        return cuda
    raise TypeError(f"cadenza: unsupported array type {type(arr).__name__}")


def xp_of(arr):
    if type(arr) is np.ndarray:
        return np
    return backend_of_array(arr).xp


def backend_for_device(dev):
    if dev.type == "cpu":
        return cpu
    if dev.type == "cuda":
        return cuda
    if dev.type == "meta":
        return meta
    raise DeviceError(f"cadenza: unknown device type {dev.type!r}; expected 'cpu', 'cuda' or "
                      "'meta'")
