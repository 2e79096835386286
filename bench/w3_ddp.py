"""W3 mlp-train data-parallel: Cadenza DistributedDataParallel (MPI) on 1 and 2 ranks, each rank
pinned to one core (``mpiexec -bind-to core``, one BLAS thread), against PyTorch DDP with the
gloo backend on loopback (127.0.0.1) launched the same way; plus the MPI all-reduce bandwidth.

Weak scaling: every rank trains on its own batch of 128 (W3's batch), so 2 ranks process 256
samples per step. Scaling efficiency = 2-rank throughput / (2 x 1-rank throughput).

    python bench/w3_ddp.py            # drives everything through mpiexec
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from common import BusyCheck, train_throughput  # noqa: E402

B, STEPS, WARM = 128, 50, 5
BW_BYTES = 25 * 1024 * 1024  # one DDP bucket


def _model_and_data(lib, rank):
    lib.manual_seed(0)
    nn = lib.nn
    model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
                          nn.Linear(512, 10))
    rng = np.random.default_rng(rank)
    xs = [lib.from_numpy(rng.standard_normal((B, 784), dtype=np.float32)) for _ in range(4)]
    ys = [lib.from_numpy(rng.integers(0, 10, B)) for _ in range(4)]
    return model, xs, ys


def worker_cadenza(comm=True):
    """DDP training; with comm=False each rank trains alone (no gradient all-reduce): the
    machine's own ceiling for running 2 processes side by side."""
    import cadenza
    import cadenza.distributed as dist
    dist.init_process_group("mpi")
    model, xs, ys = _model_and_data(cadenza, dist.get_rank())
    ddp = cadenza.nn.parallel.DistributedDataParallel(model) if comm else model
    opt = cadenza.optim.SGD(ddp.parameters(), lr=0.01, momentum=0.9)
    dist.barrier()
    per_rank = train_throughput(cadenza, ddp, opt, xs, ys, WARM, STEPS, B)
    out = [None] * dist.get_world_size()
    dist.all_gather_object(out, per_rank)
    if dist.get_rank() == 0:
        print(f"RESULT {sum(out):.3f}", flush=True)
    dist.destroy_process_group()


def worker_torch():
    import torch
    import torch.distributed as tdist
    torch.set_num_threads(1)
    rank, world = int(os.environ["PMI_RANK"]), int(os.environ["PMI_SIZE"])
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", "29533")
    tdist.init_process_group("gloo", rank=rank, world_size=world)
    model, xs, ys = _model_and_data(torch, rank)
    ddp = torch.nn.parallel.DistributedDataParallel(model)
    opt = torch.optim.SGD(ddp.parameters(), lr=0.01, momentum=0.9)
    tdist.barrier()
    per_rank = train_throughput(torch, ddp, opt, xs, ys, WARM, STEPS, B)
    out = [None] * world
    tdist.all_gather_object(out, per_rank)
    if rank == 0:
        print(f"RESULT {sum(out):.3f}", flush=True)
    tdist.destroy_process_group()


def worker_bandwidth():
    """Bus bandwidth of an in-place float32 all-reduce of one 25 MB bucket."""
    import cadenza
    import cadenza.distributed as dist
    dist.init_process_group("mpi")
    n = dist.get_world_size()
    t = cadenza.ones(BW_BYTES // 4)
    for _ in range(3):
        dist.all_reduce(t)
    reps = 20
    dist.barrier()
    t0 = time.perf_counter()
    for _ in range(reps):
        dist.all_reduce(t)
    dt = (time.perf_counter() - t0) / reps
    if dist.get_rank() == 0:
        bus = 2 * (n - 1) / n * BW_BYTES / dt / 1e9
        print(f"RESULT {bus:.3f} {dt * 1e3:.3f}", flush=True)
    dist.destroy_process_group()


class _BusyCheck(BusyCheck):
    """BusyCheck that counts the ranks we launched (our children) as our own use."""

    def __exit__(self, *exc):
        p0 = self.p0
        self.p0 = type(p0)((p0.user + p0.children_user, p0.system + p0.children_system, 0, 0,
                            p0.elapsed))
        real_times = os.times

        def times():
            t = real_times()
            return type(t)((t.user + t.children_user, t.system + t.children_system, 0, 0,
                            t.elapsed))
        os.times = times
        try:
            return super().__exit__(*exc)
        finally:
            os.times = real_times


def launch(kind: str, n: int, script: str = __file__) -> list:
    from cadenza.distributed.launch import mpiexec_command
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
               PYTHONPATH=os.path.dirname(HERE) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    # pin ranks one per core; BENCH_BIND=none leaves placement to the OS (some VMs' topology
    # makes MPICH bind every rank to the same core)
    bind = "core" if n <= (os.cpu_count() or 1) and os.environ.get("BENCH_BIND") != "none" \
        else None
    cmd = mpiexec_command(n, [sys.executable, os.path.abspath(script), "--worker", kind],
                          bind_to=bind)
    p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=600)
    for line in p.stdout.splitlines():
        if line.startswith("RESULT"):
            return [float(v) for v in line.split()[1:]]
    raise RuntimeError(f"{kind} on {n} ranks failed:\n{p.stdout[-3000:]}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--worker", choices=("cadenza", "nocomm", "torch", "bandwidth"))
    a = ap.parse_args()
    if a.worker:
        return {"cadenza": worker_cadenza, "nocomm": lambda: worker_cadenza(False),
                "torch": worker_torch, "bandwidth": worker_bandwidth}[a.worker]()
    res = {}
    with _BusyCheck() as busy:
        for lib in ("cadenza", "nocomm", "torch"):
            for n in (1, 2):
                try:
                    res[lib, n] = launch(lib, n)[0]
                except Exception as e:  # torch's gloo may not run here
                    print(f"  {lib} on {n} rank(s) did not run: {str(e)[:300]}")
        bw = launch("bandwidth", 2)
    print(f"W3 mlp-train DDP, batch {B} per rank, ranks pinned one per core {busy.note()}")
    names = {"cadenza": "cadenza DDP", "nocomm": "cadenza, no all-reduce (machine ceiling)",
             "torch": "pytorch DDP gloo"}
    for lib in ("cadenza", "torch", "nocomm"):
        if (lib, 1) in res and (lib, 2) in res:
            one, two = res[lib, 1], res[lib, 2]
            print(f"  {names[lib]}: 1 rank {one:9,.1f} samples/s | 2 ranks {two:9,.1f} samples/s | "
                  f"scaling efficiency {two / (2 * one):.2f}")
    if ("cadenza", 2) in res and ("torch", 2) in res:
        print(f"  2-rank throughput ratio cadenza/pytorch: "
              f"{res['cadenza', 2] / res['torch', 2]:.2f}x")
    print(f"  MPI all-reduce, 2 ranks, 25 MB float32: {bw[1]:.2f} ms, bus bandwidth "
          f"{bw[0]:.2f} GB/s")


if __name__ == "__main__":
    main()
