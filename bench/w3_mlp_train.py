"""W3 mlp-train: MLP 784-512-512-10, ReLU, cross-entropy, SGD momentum 0.9 lr 0.01, batch 128;
samples/s over 50 steps after 5 warm-up, Cadenza eager vs PyTorch eager in one run.
Target: Cadenza >= 0.8x PyTorch eager throughput."""
from __future__ import annotations

import numpy as np

from common import BusyCheck, matmul_gflops, report, train_throughput

B, STEPS, WARM = 128, 50, 5
FLOPS_PER_SAMPLE = 6 * (784 * 512 + 512 * 512 + 512 * 10)  # fwd 2x + bwd 4x per weight


def run(lib):
    lib.manual_seed(0)
    nn = lib.nn
    model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
                          nn.Linear(512, 10))
    opt = lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    rng = np.random.default_rng(0)
    xs = [lib.from_numpy(rng.standard_normal((B, 784), dtype=np.float32)) for _ in range(4)]
    ys = [lib.from_numpy(rng.integers(0, 10, B)) for _ in range(4)]

    return train_throughput(lib, model, opt, xs, ys, WARM, STEPS, B)


def main():
    import cadenza
    import torch
    peak = matmul_gflops()
    with BusyCheck() as busy:
        ours = run(cadenza)
        theirs = run(torch)
    report("W3 mlp-train", ours, theirs, "samples/s", extra=busy.note())
    print(f"  fraction of machine matmul peak ({peak:.0f} GFLOP/s): cadenza "
          f"{ours * FLOPS_PER_SAMPLE / 1e9 / peak:.2f}, pytorch "
          f"{theirs * FLOPS_PER_SAMPLE / 1e9 / peak:.2f}")


if __name__ == "__main__":
    main()
