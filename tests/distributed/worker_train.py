"""Worker: train a small MLP for 20 steps with SGD momentum and save the parameters.

``worker_train.py ddp OUT`` on N ranks: each rank takes its contiguous B/N slice of every
batch, through DistributedDataParallel (rank-dependent initialisation, so the construction
broadcast matters). ``worker_train.py single OUT`` in one process: the whole batch B."""
import sys

import numpy as np

import cadenza
import cadenza.distributed as dist
from cadenza import nn

B, STEPS = 16, 20


def model():
    return nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 32), nn.Tanh(),
                         nn.Linear(32, 5))


def main(mode, out):
    rank, world = 0, 1
    if mode == "ddp":
        dist.init_process_group("mpi")
        rank, world = dist.get_rank(), dist.get_world_size()
    cadenza.manual_seed(1234 + 7 * rank)  # only rank 0's weights should survive
    net = model()
    train = nn.parallel.DistributedDataParallel(net, bucket_cap_mb=0.004) if mode == "ddp" \
        else net
    opt = cadenza.optim.SGD(train.parameters(), lr=0.05, momentum=0.9)
    rng = np.random.default_rng(0)
    per = B // world
    for _ in range(STEPS):
        x = rng.standard_normal((B, 20)).astype(np.float32)
        y = rng.integers(0, 5, B)
        xs, ys = x[rank * per:(rank + 1) * per], y[rank * per:(rank + 1) * per]
        opt.zero_grad()
        loss = nn.functional.cross_entropy(train(cadenza.from_numpy(xs)),
                                           cadenza.from_numpy(ys))
        loss.backward()
        opt.step()
    if rank == 0:
        sd = (train.module if mode == "ddp" else train).state_dict()
        np.savez(out, **{k: v.numpy() for k, v in sd.items()})
    if mode == "ddp":
        assert list(train.state_dict()) == ["module." + k for k in net.state_dict()]
        dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
