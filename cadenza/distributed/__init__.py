"""``cadenza.distributed``: data-parallel training over MPI with ``torch.distributed``'s API.

Run a script on N processes with ``cadenza launch -n N script.py`` (or ``mpiexec -n N python
script.py``); in the script::

    import cadenza.distributed as dist
    dist.init_process_group("mpi")           # rank and world size come from MPI
    model = cadenza.nn.parallel.DistributedDataParallel(model)
    sampler = cadenza.utils.data.DistributedSampler(dataset)

``mpi4py`` (extra ``pip install cadenza[dist]``) is imported only by ``init_process_group``.
Every collective checks that all ranks pass the same shape and dtype; with
``init_process_group(timeout=...)`` a hang becomes an error saying which collective each rank is
waiting in; an uncaught exception on one rank stops every rank with an error naming it.
"""
from __future__ import annotations

import importlib.util as _ilu

from . import _state
from ._group import DistError, DistTimeoutError, RankFailedError, install_hooks, ProcessGroup
from .collectives import (ReduceOp, Work, all_gather, all_gather_into_tensor, all_gather_object,
                          all_reduce, barrier, broadcast, broadcast_object_list, reduce_scatter,
                          reduce_scatter_tensor, check_same)


class group:
    """``dist.group.WORLD``, the default group."""
    WORLD = _state.WORLD


def is_available() -> bool:
    """True when mpi4py is installed (checked without importing it)."""
    return _ilu.find_spec("mpi4py") is not None


def is_mpi_available() -> bool:
    return is_available()


def is_nccl_available() -> bool:
    return False


def is_gloo_available() -> bool:
    return False


def is_torchelastic_launched() -> bool:
    return False


def is_initialized() -> bool:
    """True between ``init_process_group`` and ``destroy_process_group``."""
    return _state.get() is not None


def init_process_group(backend: str | None = "mpi", init_method=None, timeout=None,
                       world_size: int = -1, rank: int = -1, store=None, group_name: str = "",
                       pg_options=None, device_id=None):
    """Join the MPI job: rank and world size come from MPI (``mpiexec -n N``; one process
    started without mpiexec is a world of size 1).

    ``timeout`` (seconds or a ``datetime.timedelta``; None: ``$CADENZA_DIST_TIMEOUT`` seconds
    if set, else 10 minutes, as torch's NCCL default, so a job never hangs forever) turns a
    collective
    that does not complete in time into a ``DistTimeoutError`` that says which collective every
    rank is waiting in.

    >>> import cadenza.distributed as dist
    >>> dist.init_process_group("mpi")                  # doctest: +SKIP
    >>> dist.get_rank(), dist.get_world_size()          # doctest: +SKIP
    (0, 2)
    """
    if _state.get() is not None:
        raise RuntimeError("init_process_group: trying to initialize the default process group "
                           "twice; call destroy_process_group() first")
    if backend is not None and str(backend).lower() != "mpi":
        raise ValueError(f"init_process_group: expected backend='mpi' (Cadenza runs its "
                         f"collectives over MPI), got backend={backend!r}")
    g = ProcessGroup(timeout)
    for name, given, actual in (("world_size", world_size, g.size), ("rank", rank, g.rank)):
        if given not in (-1, None) and given != actual:
            g.free()
            raise ValueError(f"init_process_group: expected {name}={actual} (from MPI), got "
                             f"{name}={given}; launch with `cadenza launch -n N` or `mpiexec "
                             "-n N` instead of passing it")
    _state.set_group(g)
    install_hooks(_state.get, destroy_process_group)


def destroy_process_group(group=None) -> None:
    """Leave the process group (a collective: every rank calls it)."""
    g = _state.get()
    if g is None:
        return
    # on an error the group stays: the failure protocol reports it on the side channel
    label = check_same(g, "destroy_process_group", {})
    g.wait(g.comm.Ibarrier(), label)
    if not g.aborting:
        _state.set_group(None)
        g.free()


def get_rank(group=None) -> int:
    """This process's rank, 0 <= rank < world size (-1 without a process group, as torch)."""
    g = _state.get()
    return -1 if g is None else g.rank


def get_world_size(group=None) -> int:
    """The number of processes (-1 without a process group, as torch)."""
    g = _state.get()
    return -1 if g is None else g.size


def get_backend(group=None) -> str:
    _state.group("get_backend")
    return "mpi"


def is_main_process() -> bool:
    """True on rank 0 or when not distributed: the process that should log, show progress bars
    and write checkpoints."""
    g = _state.get()
    return g is None or g.rank == 0


def new_group(ranks=None, timeout=None, backend=None, pg_options=None, **kwargs):
    """Only the world group is supported: ``new_group()`` or ``new_group(all ranks)``."""
    g = _state.group("new_group")
    if ranks is not None and sorted(ranks) != list(range(g.size)):
        raise NotImplementedError("new_group: sub-groups are not supported yet; expected "
                                  f"ranks=None or all {g.size} ranks, got {ranks}")
    return _state.WORLD


__all__ = ["init_process_group", "destroy_process_group", "is_available", "is_initialized",
           "is_mpi_available", "is_nccl_available", "is_gloo_available", "get_rank",
           "get_world_size", "get_backend", "is_main_process", "new_group", "group",
           "ReduceOp", "Work", "all_reduce", "broadcast", "all_gather", "all_gather_into_tensor",
           "reduce_scatter", "reduce_scatter_tensor", "barrier", "all_gather_object",
           "broadcast_object_list", "DistError", "DistTimeoutError", "RankFailedError"]
