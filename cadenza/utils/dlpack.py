"""``torch.utils.dlpack``: zero-copy exchange with other array libraries through DLPack
capsules (``to_dlpack``) or any object with ``__dlpack__`` (``from_dlpack``)."""
from __future__ import annotations

from .._creation import from_dlpack

__all__ = ["from_dlpack", "to_dlpack"]


def to_dlpack(tensor):
    """A DLPack capsule sharing ``tensor``'s memory (consumed once by the receiver)."""
    return tensor.__dlpack__()
