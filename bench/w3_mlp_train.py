"""W3 mlp-train: MLP 784-512-512-10, ReLU, cross-entropy, SGD momentum 0.9 lr 0.01, batch 128;
samples/s over 50 steps after 5 warm-up, Cadenza eager vs PyTorch eager in one run.
Target: Cadenza >= 0.8x PyTorch eager throughput."""
from __future__ import annotations

import numpy as np

from common import compare_training, train_throughput

B, STEPS, WARM = 128, 50, 5
FLOPS_PER_SAMPLE = 6 * (784 * 512 + 512 * 512 + 512 * 10)  # fwd 2x + bwd 4x per weight


def build(lib):
    """(model, optimizer, inputs, targets) of the workload in ``lib`` (cadenza or torch),
    from fixed seeds; bench/step_profile.py profiles the same step."""
    lib.manual_seed(0)
    nn = lib.nn
    model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
                          nn.Linear(512, 10))
    opt = lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    rng = np.random.default_rng(0)
    xs = [lib.from_numpy(rng.standard_normal((B, 784), dtype=np.float32)) for _ in range(4)]
    ys = [lib.from_numpy(rng.integers(0, 10, B)) for _ in range(4)]
    return model, opt, xs, ys


def run(lib, compile=None, record=None, steps=STEPS, warm=WARM):
    """Samples/s of the workload in ``lib`` (cadenza or torch); ``compile`` and ``record`` as
    in common.train_throughput (bench/compiled.py uses them)."""
    model, opt, xs, ys = build(lib)
    return train_throughput(lib, model, opt, xs, ys, warm, steps, B, compile=compile,
                            record=record)


def main():
    compare_training("W3 mlp-train", run, FLOPS_PER_SAMPLE)


if __name__ == "__main__":
    main()
