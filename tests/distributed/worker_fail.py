"""Worker for the failure cases: ``raise`` (rank 1 raises), ``shape`` (rank 1 passes another
shape), ``timeout`` (rank 1 is late to an all_reduce, with a 1 s timeout)."""
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
print(f"UNEXPECTED: rank {r} finished", flush=True)
