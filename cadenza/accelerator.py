"""cadenza.accelerator: the current accelerator, if any (None on a CPU-only machine)."""
from __future__ import annotations


def is_available() -> bool:
    from .cuda import is_available as cuda_available
    return cuda_available()


def current_accelerator(check_available: bool = False):
    if is_available():
        from .device import device
        return device("cuda")
    return None


def device_count() -> int:
    from .cuda import device_count as n
    return n()


def synchronize(device=None) -> None:
    from .cuda import synchronize as s
    s()
