"""``torch.Stream`` and ``torch.Event``, the device-generic stream and event, with the
semantics torch 2.13 gives them on the CPU: one synchronous stream (queries say all work is
done, waits return at once) and events that cannot be recorded ("cpu backend doesn't support
events")."""
from __future__ import annotations

from . import dtypes as _dt
from .device import device as _device

__all__ = ["Stream", "Event"]

_NO_EVENTS = "cpu backend doesn't support events."
_DEVICE_TYPE_IDS = {"cpu": 0}


def _cpu(dev, what):
    d = _device("cpu") if dev is None else dev if isinstance(dev, _device) else _device(dev)
    if d.type != "cpu":
        raise RuntimeError(f"{what}: Cadenza's generic streams and events are the CPU's; for "
                           f"device '{d}' use cadenza.{d.type}'s own (e.g. cadenza.cuda.Stream)")
    return d


class Stream:
    """The CPU's stream: work is done when an op returns (``wait_stream`` and
    ``record_event`` raise as torch's, which record a CPU event)."""

    def __init__(self, device=None, *, priority: int = 0) -> None:
        self.device = _cpu(device, "torch.Stream")
        self.priority = priority

    device_type = property(lambda self: _DEVICE_TYPE_IDS[self.device.type])
    device_index = property(lambda self: -1)
    stream_id = property(lambda self: 0)

    def query(self) -> bool:
        return True

    def synchronize(self) -> None:
        return None

    def wait_event(self, event) -> None:
        return None

    def wait_stream(self, stream) -> None:
        raise RuntimeError(_NO_EVENTS)   # (torch records an event on ``stream``)

    def record_event(self, event=None):
        raise RuntimeError(_NO_EVENTS)

    def is_capturing(self) -> bool:
        return False

    @property
    def native_handle(self):
        raise RuntimeError("Backend doesn't support getting stream native handle.")

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None

    def __eq__(self, other) -> bool:
        return isinstance(other, Stream) and other.device == self.device

    def __hash__(self) -> int:
        return hash(("Stream", self.device.type))

    def __repr__(self) -> str:
        return (f"{_dt.repr_name}.Stream device_type={self.device.type}, device_index=-1, "
                "stream_id=0")


class Event:
    """A CPU event: ``query`` is True, ``synchronize`` and ``wait`` return; recording and
    timing raise as torch's CPU backend does."""

    def __init__(self, device=None, *, enable_timing: bool = False, blocking: bool = False,
                 interprocess: bool = False) -> None:
        self.device = _cpu(device, "torch.Event")
        self._timing = bool(enable_timing)

    event_id = property(lambda self: 0)

    def query(self) -> bool:
        return True

    def synchronize(self) -> None:
        return None

    def record(self, stream=None) -> None:
        raise RuntimeError(_NO_EVENTS)

    def wait(self, stream=None) -> None:
        return None

    def elapsed_time(self, end_event) -> float:
        if not (self._timing and getattr(end_event, "_timing", False)):
            raise ValueError("Both events must be created with argument 'enable_timing=True'.")
        raise RuntimeError(_NO_EVENTS)

    def ipc_handle(self):
        raise RuntimeError(_NO_EVENTS)

    @classmethod
    def from_ipc_handle(cls, device, ipc_handle):
        raise RuntimeError(_NO_EVENTS)

    def __repr__(self) -> str:
        return (f"{_dt.repr_name}.Event device_type={self.device.type}, device_index=-1, "
                f"event_flag={int(self._timing)}, event_id=0")
