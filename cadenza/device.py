"""cadenza.device: where a tensor lives ('cpu', 'cuda', 'cuda:0')."""
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
        return self

    def __exit__(self, *exc):
        return False


_CPU = device("cpu")


def as_device(d) -> device:
    if d is None:
        return _CPU
    return d if isinstance(d, device) else device(d)
