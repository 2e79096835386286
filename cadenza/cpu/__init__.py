"""``torch.cpu``: the CPU as a device module (``torch.get_device_module('cpu')``): always
available, one device, synchronous (``synchronize`` and streams do nothing, as in torch),
and ``torch.cpu.amp``'s deprecated autocast/GradScaler spellings."""
from __future__ import annotations

from . import amp  # noqa: F401

__all__ = ["is_available", "is_initialized", "device_count", "current_device", "set_device",
           "synchronize", "Stream", "Event", "StreamContext", "stream", "current_stream",
           "amp"]


def is_available() -> bool:
    return True


def is_initialized() -> bool:
    return True


def device_count() -> int:
    return 1


def current_device() -> str:
    return "cpu"


def set_device(device) -> None:
    """Accepted and ignored (there is one CPU device), as in torch."""


def synchronize(device=None) -> None:
    """Nothing to wait for: CPU work is done when its call returns."""


class Stream:
    """torch.cpu.Stream: the CPU's one (synchronous) stream."""

    def __init__(self, priority: int = -1) -> None:
        pass

    def wait_stream(self, stream) -> None:
        pass

    def synchronize(self) -> None:
        pass

    def query(self) -> bool:
        return True


class Event:
    """torch.cpu.Event: recorded work is always complete."""

    def query(self) -> bool:
        return True

    def record(self, stream=None) -> None:
        pass

    def synchronize(self) -> None:
        pass

    def wait(self, stream=None) -> None:
        pass


_current = Stream()


class StreamContext:
    """``with torch.cpu.stream(s):``: nothing changes on the CPU."""

    def __init__(self, stream) -> None:
        self.stream = stream

    def __enter__(self):
        return self.stream

    def __exit__(self, *exc):
        return False


def stream(stream) -> StreamContext:
    return StreamContext(stream)


def current_stream(device=None) -> Stream:
    return _current
