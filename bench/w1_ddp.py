"""W1 gpt-train data-parallel: Cadenza DistributedDataParallel (MPI) on 1 and 2 ranks, each
rank pinned to one core with one BLAS thread; weak scaling (every rank trains W1's batch of
16 x 128 tokens), so scaling efficiency = 2-rank tokens/s / (2 x 1-rank tokens/s). The
'no all-reduce' run is the machine's own ceiling for two processes side by side.
Target (issue 5): scaling efficiency >= 0.85.

    python bench/w1_ddp.py
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from _gpt_common import W1  # noqa: E402
from w3_ddp import _BusyCheck, launch  # noqa: E402

B, T, STEPS, WARM = 16, 128, 10, 3


def worker(comm: bool):
    import cadenza
    import cadenza.distributed as dist
    from cadenza.models.gpt import GPT, GPTConfig
    dist.init_process_group("mpi")
    rank = dist.get_rank()
    cadenza.manual_seed(0)
    model = GPT(GPTConfig(**W1))
    ddp = cadenza.nn.parallel.DistributedDataParallel(model) if comm else model
    opt = cadenza.optim.AdamW(model.parameters(), lr=3e-4, weight_decay=0.1)
    rng = np.random.default_rng(rank)
    batches = [cadenza.from_numpy(rng.integers(0, 256, (B, T + 1))) for _ in range(2)]

    def step(i):
        d = batches[i % 2]
        _, loss = ddp(d[:, :-1], d[:, 1:])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for i in range(WARM):
        step(i)
    dist.barrier()
    t = time.perf_counter()
    for i in range(STEPS):
        step(i)
    dist.barrier()
    tps = B * T * STEPS / (time.perf_counter() - t)
    out = [None] * dist.get_world_size()
    dist.all_gather_object(out, tps)
    if rank == 0:
        print(f"RESULT {sum(out):.3f}", flush=True)
    dist.destroy_process_group()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--worker", choices=("cadenza", "nocomm"))
    a = ap.parse_args()
    if a.worker:
        return worker(a.worker == "cadenza")
    res = {}
    with _BusyCheck() as busy:
        for kind in ("cadenza", "nocomm"):
            for n in (1, 2):
                res[kind, n] = launch(kind, n, __file__)[0]
    print(f"W1 gpt-train DDP, {B}x{T} tokens per rank, ranks pinned one per core "
          f"{busy.note()}")
    for kind, name in (("cadenza", "cadenza DDP"),
                       ("nocomm", "cadenza, no all-reduce (machine ceiling)")):
        one, two = res[kind, 1], res[kind, 2]
        print(f"  {name}: 1 rank {one:8,.0f} tokens/s | 2 ranks {two:8,.0f} tokens/s | "
              f"scaling efficiency {two / (2 * one):.2f}")


if __name__ == "__main__":
    main()
