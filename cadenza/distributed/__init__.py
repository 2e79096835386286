"""cadenza.distributed: data-parallel training over MPI arrives with its own issue. Until then
the module imports (so scripts that import it at start-up run), answers that no process group
is initialized, and any collective raises a clear "not available yet" error."""
from __future__ import annotations

_MSG = ("cadenza.distributed.{name}: data-parallel training over MPI is not available yet in "
        "this version of Cadenza; run single-process (one rank) for now")


def is_available() -> bool:
    return False


def is_initialized() -> bool:
    return False


def is_mpi_available() -> bool:
    return False


def is_nccl_available() -> bool:
    return False


def is_gloo_available() -> bool:
    return False


def is_torchelastic_launched() -> bool:
    return False


class ReduceOp:
    SUM, AVG, PRODUCT, MIN, MAX = "sum", "avg", "product", "min", "max"


def _unavailable(name):
    def fn(*args, **kwargs):
        raise RuntimeError(_MSG.format(name=name))
    fn.__name__ = name
    return fn


for _n in ("init_process_group", "destroy_process_group", "get_rank", "get_world_size",
           "barrier", "all_reduce", "broadcast", "all_gather", "reduce_scatter", "reduce",
           "gather", "scatter", "send", "recv", "new_group", "all_gather_object",
           "broadcast_object_list", "get_backend"):
    globals()[_n] = _unavailable(_n)
