"""W5 op-overhead: 1000 chained tiny ops x = x * 1.0001 + 0.0001 on a 16-element tensor with
requires_grad, then .sum().backward(); microseconds per op (total / 2000), Cadenza vs PyTorch.
Target: Cadenza <= 2x PyTorch's time per op."""
from __future__ import annotations

import statistics
import time

from common import BusyCheck, report


def run(lib, reps=7):
    times = []
    for _ in range(reps + 1):
        x0 = lib.ones(16, requires_grad=True)
        t = time.perf_counter()
        x = x0
        for _ in range(1000):
            x = x * 1.0001 + 0.0001
        x.sum().backward()
        times.append(time.perf_counter() - t)
    return statistics.median(times[1:]) / 2000 * 1e6


def main():
    import cadenza
    import torch
    torch.set_num_threads(1)
    with BusyCheck() as busy:
        ours = run(cadenza)
        theirs = run(torch)
    report("W5 op-overhead", ours, theirs, "us/op", higher_is_better=False, extra=busy.note())


if __name__ == "__main__":
    main()
