"""The one default process group of this process (``None`` until ``init_process_group``)."""
from __future__ import annotations

__all__ = ["WORLD", "get", "set_group", "group"]

_group = None


class _World:
    """``cadenza.distributed.group.WORLD``: the default (world) group."""

    def __repr__(self) -> str:
        return "<cadenza.distributed.group.WORLD>"


WORLD = _World()


def get():
    return _group


def set_group(g) -> None:
    global _group
    _group = g


def group(name: str):
    """The initialized group, or a clear error naming the call that needed it."""
    if _group is None:
        raise RuntimeError(f"cadenza.distributed.{name}: expected an initialized process group; "
                           "call cadenza.distributed.init_process_group('mpi') first (and run "
                           "under `cadenza launch -n N script.py` or `mpiexec -n N python "
                           "script.py`)")
    return _group
