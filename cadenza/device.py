"""cadenza.device: where a tensor lives ('cpu', 'cuda', 'cuda:0', 'meta'), and the default
device factory functions create tensors on when given none (``set_default_device``, or a
device used as a context manager: ``with cadenza.device('meta'): model = Net()``)."""
from __future__ import annotations


class device:
    """torch.device: ``cadenza.device('cuda:0')``, ``cadenza.device('cpu')``."""

    __slots__ = ("type", "index")

    def __new__(cls, type_or_str="cpu", index=None):
        if isinstance(type_or_str, device):
            return type_or_str
        if isinstance(type_or_str, int):
            type_or_str, index = "cuda", type_or_str
        s = str(type_or_str)
        if ":" in s:
            s, idx = s.split(":", 1)
            if not idx.isdigit():
                raise RuntimeError(f"Invalid device string: '{type_or_str}'")
            index = int(idx)
        if s not in ("cpu", "cuda", "meta", "mps"):
            raise RuntimeError(f"Expected one of cpu, cuda, meta, mps device type at start of "
                               f"device string: {type_or_str}")
        obj = object.__new__(cls)
        obj.type = s
        obj.index = index
        return obj

    def __repr__(self) -> str:
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other) -> bool:
        if isinstance(other, str):
            other = device(other)
        if not isinstance(other, device):
            return NotImplemented
        return self.type == other.type and (self.index or 0) == (other.index or 0)

    def __hash__(self) -> int:
        return hash((self.type, self.index or 0))

    def __reduce__(self):
        return (device, (str(self),))

    def __enter__(self):
        """Make this the default device of factory functions until the block ends (blocks
        nest; each restores the default it found)."""
        _entered.append(_default[0])
        _default[0] = None if self.type == "cpu" and not self.index else self
        return self

    def __exit__(self, *exc):
        _default[0] = _entered.pop()
        return False


_CPU = device("cpu")
_META = device("meta")
# the default device of factory functions: None for the CPU (the hot case: one load and a
# test), else the device; _entered: the defaults that ``with device(...)`` blocks replaced
_default: list = [None]
_entered: list = []


def get_default_device() -> device:
    """torch.get_default_device."""
    return _default[0] or _CPU


def set_default_device(d) -> None:
    """torch.set_default_device: ``None`` or 'cpu' restores the CPU."""
    d = None if d is None else as_device(d)
    _default[0] = None if d is None or (d.type == "cpu" and not d.index) else d


def as_device(d) -> device:
    if d is None:
        return _CPU
    return d if isinstance(d, device) else device(d)
