"""cadenza.accelerator: the current accelerator, if any (None on a CPU-only machine)."""
from __future__ import annotations

from . import cuda as _cuda
from .device import device as _device

__all__ = ["is_available", "current_accelerator", "device_count", "synchronize"]


def is_available() -> bool:
    return _cuda.is_available()


def current_accelerator(check_available: bool = False):
    if is_available():
        return _device("cuda")
    return None


def device_count() -> int:
    return _cuda.device_count()


def synchronize(device=None) -> None:
    _cuda.synchronize()
