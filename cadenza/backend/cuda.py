"""The CUDA backend: CuPy arrays. Optional: loaded only when a CUDA device is asked for."""
from __future__ import annotations

import importlib.util

from ..errors import DeviceError

name = "cuda"
_cupy = None


def _load():
    global _cupy
    if _cupy is None:
        try:
            import cupy
        except ImportError as e:
            raise DeviceError("cuda: CuPy is not installed; install cadenza[cuda] on a machine "
                              "with an NVIDIA GPU, or use device='cpu'") from e
        _cupy = cupy
    return _cupy


def is_available() -> bool:
    try:
        if importlib.util.find_spec("cupy") is None:
            return False
        return _load().cuda.runtime.getDeviceCount() > 0
    except Exception:  # no driver, no device: CUDA is simply unavailable
        return False


def device_count() -> int:
    return _load().cuda.runtime.getDeviceCount() if is_available() else 0


def owns(arr) -> bool:
    return _cupy is not None and isinstance(arr, _cupy.ndarray)


def __getattr__(name):
    if name == "xp":
        return _load()
    raise AttributeError(name)


def asarray(data, dtype=None, index=0):
    cp = _load()
    with cp.cuda.Device(index or 0):
        return cp.asarray(data, dtype=dtype)


def to_numpy(arr):
    return arr.get()
