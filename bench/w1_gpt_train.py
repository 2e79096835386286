"""W1 gpt-train (../shared/WORKLOADS.md): training tokens/s, Cadenza eager vs PyTorch eager, in
one process, same initial weights and data. Run: python bench/w1_gpt_train.py [--steps 20]"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(1, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from _gpt_common import (W1, copy_weights, cpu_snapshot, matmul_gflops,  # noqa: E402
                         others_busy, torch_gpt, train_flops_per_token)

B = 16


def run(step, warmup, steps):
    for _ in range(warmup):
        step()
    before = cpu_snapshot()
    t = time.perf_counter()
    for _ in range(steps):
        loss = step()
    dt = time.perf_counter() - t
    return B * W1["block_size"] * steps / dt, loss, others_busy(before, cpu_snapshot())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=5)
    a = ap.parse_args()
    import numpy as np
    import torch
    import cadenza
    from cadenza.models.gpt import GPT, GPTConfig
    cfg = GPTConfig(**W1)
    cadenza.manual_seed(0)
    cm = GPT(cfg)
    tm = torch_gpt(cfg)
    copy_weights(cm, tm)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (B, cfg.block_size))
    y = rng.integers(0, 256, (B, cfg.block_size))
    cx, cy = cadenza.from_numpy(x), cadenza.from_numpy(y)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    copt = cadenza.optim.AdamW(cm.parameters(), lr=3e-4, weight_decay=0.1)
    topt = torch.optim.AdamW(tm.parameters(), lr=3e-4, weight_decay=0.1)

    def cstep():
        _, loss = cm(cx, cy)
        loss.backward()
        copt.step()
        copt.zero_grad(set_to_none=True)
        return float(loss.detach())

    def tstep():
        _, loss = tm(tx, ty)
        loss.backward()
        topt.step()
        topt.zero_grad(set_to_none=True)
        return float(loss.detach())

    peak = matmul_gflops()
    fpt = train_flops_per_token(cfg)
    res = {}
    for name, fn in (("cadenza eager", cstep), ("pytorch eager", tstep)):
        tps, loss, busy = run(fn, a.warmup, a.steps)
        res[name] = tps
        print(f"W1 {name:14s}: {tps:9,.0f} tokens/s  (loss {loss:.4f}; "
              f"{tps * fpt / 1e9:.1f} GFLOP/s = {tps * fpt / 1e9 / peak:.0%} of the "
              f"{peak:.0f} GFLOP/s numpy matmul peak; {busy})")
    print(f"W1 ratio cadenza/pytorch eager: {res['cadenza eager'] / res['pytorch eager']:.2f}x "
          "(target >= 0.7x)")


if __name__ == "__main__":
    main()
