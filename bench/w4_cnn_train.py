"""W4 cnn-train: conv(1->32,3x3,pad1) ReLU maxpool2 -> conv(32->64,3x3,pad1) ReLU maxpool2 ->
flatten -> linear(3136->128) ReLU -> linear(128->10), cross-entropy, Adam lr 1e-3, 1x28x28,
batch 64; samples/s over 20 steps after 3 warm-up. Target: Cadenza >= 0.5x PyTorch eager."""
from __future__ import annotations

import numpy as np

from common import compare_training, train_throughput

B, STEPS, WARM = 64, 20, 3
# multiply-adds per sample, x2 for FLOPs and x3 for forward + backward
_MACS = 28 * 28 * 32 * 9 + 14 * 14 * 64 * 32 * 9 + 3136 * 128 + 128 * 10
FLOPS_PER_SAMPLE = 6 * _MACS


def build(lib):
    """(model, optimizer, inputs, targets) of the workload in ``lib`` (cadenza or torch),
    from fixed seeds; bench/step_profile.py profiles the same step."""
    lib.manual_seed(0)
    nn = lib.nn
    model = nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(3136, 128), nn.ReLU(), nn.Linear(128, 10))
    opt = lib.optim.Adam(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(0)
    xs = [lib.from_numpy(rng.standard_normal((B, 1, 28, 28), dtype=np.float32))
          for _ in range(4)]
    ys = [lib.from_numpy(rng.integers(0, 10, B)) for _ in range(4)]
    return model, opt, xs, ys


def run(lib, compile=None, record=None, steps=STEPS, warm=WARM):
    """Samples/s of the workload in ``lib`` (cadenza or torch); ``compile`` and ``record`` as
    in common.train_throughput (bench/compiled.py uses them)."""
    model, opt, xs, ys = build(lib)
    return train_throughput(lib, model, opt, xs, ys, warm, steps, B, compile=compile,
                            record=record)


def main():
    compare_training("W4 cnn-train", run, FLOPS_PER_SAMPLE)


if __name__ == "__main__":
    main()
