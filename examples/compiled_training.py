"""Compiled mode in one page: a whole training step (forward, backward, optimizer) captured by
``cadenza.compile``, its graph and memory plan printed, trained against eager on the same
data, then exported to ONNX for inference.

    python examples/compiled_training.py [--steps 200]

The same script runs under PyTorch 2.x by changing the import (``import torch as cadenza``
and dropping the graph/plan lines, which are Cadenza's)."""
import argparse
import time

import numpy as np

import cadenza
import cadenza.nn as nn
import cadenza.nn.functional as F


def make_data(n=2048, seed=0):
    """Two interleaved spirals: not linearly separable, learnable by a small MLP."""
    rng = np.random.default_rng(seed)
    t = rng.uniform(0.25, 3.0, n) * np.pi
    label = rng.integers(0, 2, n)
    r = t * np.where(label == 0, 1.0, -1.0)
    x = np.stack([r * np.cos(t), r * np.sin(t)], 1) + rng.normal(0, 0.2, (n, 2))
    return cadenza.from_numpy(x.astype(np.float32) / 6), cadenza.from_numpy(label)


def build(seed=0):
    cadenza.manual_seed(seed)
    model = nn.Sequential(nn.Linear(2, 64), nn.GELU(), nn.Linear(64, 64), nn.GELU(),
                          nn.Linear(64, 2))
    opt = cadenza.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    sched = cadenza.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=1000)
    return model, opt, sched


def train(compiled: bool, steps: int, x, y):
    model, opt, sched = build()

    def step(xb, yb):
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()
        return loss

    if compiled:
        step = cadenza.compile(step)          # lr from the scheduler is read on every call
    t0 = time.perf_counter()
    for i in range(steps):
        j = (i * 256) % x.shape[0]
        loss = step(x[j:j + 256], y[j:j + 256])
        sched.step()
    seconds = time.perf_counter() - t0
    with cadenza.no_grad():
        acc = float((model(x).argmax(-1) == y).float().mean())
    return model, step, float(loss), acc, seconds


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--onnx", default="", help="also export the model to this .onnx file")
    a = ap.parse_args(argv)
    x, y = make_data()
    _, _, loss_e, acc_e, t_e = train(False, a.steps, x, y)
    model, step, loss_c, acc_c, t_c = train(True, a.steps, x, y)
    print(step.graph)                                  # one typed line per node
    print(step.graph.plan.report())                    # planned vs unplanned peak memory
    print(f"eager:    loss {loss_e:.4f}  accuracy {acc_e:.3f}  {t_e:.2f} s")
    print(f"compiled: loss {loss_c:.4f}  accuracy {acc_c:.3f}  {t_c:.2f} s  "
          f"{cadenza.compiler.stats()}")
    if a.onnx:
        model.eval()
        cadenza.onnx.export(model, (x[:8],), a.onnx, input_names=["x"], output_names=["logits"],
                            dynamic_axes={"x": {0: "batch"}})
        print(f"wrote {a.onnx}")
    return loss_e, loss_c, acc_c


if __name__ == "__main__":
    main()
