"""Worker for the failure cases: ``raise`` (rank 1 raises), ``shape`` (rank 1 passes another
shape), ``timeout`` (rank 1 is late to an all_reduce, with a 1 s timeout), ``exit`` (rank 1
calls sys.exit(0) mid-training), ``kill`` (rank 1 is SIGKILLed), ``default`` (prints the
timeout a group gets when none is given)."""
import os
import signal
import sys
import time

import cadenza
import cadenza.distributed as dist

mode = sys.argv[1]
dist.init_process_group("mpi", timeout=1.0 if mode == "timeout" else None)
r = dist.get_rank()
dist.barrier()
if mode == "raise":
    if r == 1:
        raise ValueError("boom on purpose")
    dist.all_reduce(cadenza.ones(3))
elif mode == "shape":
    dist.all_reduce(cadenza.ones(3 + r, 2))
elif mode == "timeout":
    if r == 1:
        time.sleep(2.5)
    dist.all_reduce(cadenza.ones(3))
elif mode in ("exit", "kill"):
    if r == 1:
        if mode == "exit":
            sys.exit(0)
        os.kill(os.getpid(), signal.SIGKILL)
    for _ in range(3):
        dist.all_reduce(cadenza.ones(1000))
elif mode == "default":
    from cadenza.distributed import _state
    print(f"default timeout {_state.get().timeout:g} s", flush=True)
    dist.destroy_process_group()
    sys.exit(0)
print(f"UNEXPECTED: rank {r} finished", flush=True)
