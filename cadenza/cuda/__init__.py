"""cadenza.cuda: answers truthfully for the machine (no GPU and no CuPy here: unavailable).
With CuPy and an NVIDIA GPU, tensors can move to 'cuda' through the CuPy backend."""
from __future__ import annotations

from ..backend import cuda as _backend
from ..device import device as _device
from ..errors import DeviceError
from . import amp  # noqa: F401  (torch.cuda.amp)

__all__ = ["is_available", "device_count", "current_device", "set_device", "get_device_name",
           "synchronize", "manual_seed", "manual_seed_all", "empty_cache", "memory_allocated",
           "max_memory_allocated", "memory_reserved", "reset_peak_memory_stats",
           "is_bf16_supported", "is_initialized", "amp", "OutOfMemoryError"]


class OutOfMemoryError(RuntimeError):
    """A device ran out of memory (``torch.cuda.OutOfMemoryError``, also
    ``torch.OutOfMemoryError``)."""


def is_available() -> bool:
    return _backend.is_available()


def device_count() -> int:
    return _backend.device_count() if is_available() else 0


def current_device() -> int:
    _require("current_device")
    return int(_backend.xp.cuda.runtime.getDevice())


def set_device(device) -> None:
    _require("set_device")
    idx = _device(device).index if not isinstance(device, int) else device
    _backend.xp.cuda.runtime.setDevice(idx or 0)


def get_device_name(device=None) -> str:
    _require("get_device_name")
    props = _backend.xp.cuda.runtime.getDeviceProperties(0 if device is None else int(device))
    return props["name"].decode()


def synchronize(device=None) -> None:
    if is_available():
        _backend.xp.cuda.runtime.deviceSynchronize()


def manual_seed(seed) -> None:
    """Seeds CUDA generators; a no-op without CUDA (as in PyTorch)."""


def manual_seed_all(seed) -> None:
    """Seeds all CUDA generators; a no-op without CUDA (as in PyTorch)."""


def empty_cache() -> None:
    if is_available():
        _backend.xp.get_default_memory_pool().free_all_blocks()


def memory_allocated(device=None) -> int:
    return int(_backend.xp.get_default_memory_pool().used_bytes()) if is_available() else 0


def max_memory_allocated(device=None) -> int:
    return memory_allocated(device)


def memory_reserved(device=None) -> int:
    return int(_backend.xp.get_default_memory_pool().total_bytes()) if is_available() else 0


def reset_peak_memory_stats(device=None) -> None:
    pass


def is_initialized() -> bool:
    """Whether CUDA has been set up in this process (never without a device)."""
    return is_available()


def is_bf16_supported(including_emulation: bool = True) -> bool:
    return is_available()


def _require(what):
    if not is_available():
        raise DeviceError(f"cuda.{what}: no CUDA device is available (cadenza.cuda.is_available() "
                          "is False); use device='cpu'")
