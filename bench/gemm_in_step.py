"""Each float32 product's time inside W1's or W3's compiled step against the same call isolated
(issue 12: do the GEMMs lose their rate inside the step?), and against torch.mm on the same
operands.

    python bench/gemm_in_step.py                  # W1, 5 timed steps
    python bench/gemm_in_step.py --w3 --steps 20
    python bench/gemm_in_step.py --eager          # the eager step's products (blas.product)

Every ``backend.blas.Gemm`` call of the timed steps is timed (wall and process CPU time);
afterwards each distinct call (shapes, strides, bias) runs again alone, 15 times, and torch.mm
(``--no-torch`` skips it) on the same arrays. One line per call: calls per step, median ms in
the step and isolated, GFLOP/s of both, CPU ms of both (CPU > wall: a second thread worked, or
spun). Then the step's totals and the pool's counters (``cbuild.pool_stats``).

On a machine other processes load, wall times say more about the load than the code: the CPU
columns and the in-step / isolated ratio are the figures to compare. Measured on a 2-core AMD
EPYC with the script at real-time priority (``chrt -f 10``: no other process takes a core
while it runs), W1's products run at 150-170 GFLOP/s in the step and isolated alike.
"""
from __future__ import annotations

import argparse
import os
import statistics as st
import sys
import time
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(1, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import numpy as np  # noqa: E402

import cadenza  # noqa: E402
from cadenza.backend import blas, cbuild  # noqa: E402
from common import BusyCheck, cpu_model, train_step  # noqa: E402


def build(w3: bool, eager: bool):
    """The step (a callable of no arguments) of W1 or W3, compiled unless ``eager``."""
    if w3:
        import w3_mlp_train
        model, opt, xs, ys = w3_mlp_train.build(cadenza)
        fn, args = train_step(cadenza, model, opt), (xs[0], ys[0])
    else:
        from _gpt_common import W1, gpt_train_step, w1_data, w1_model
        from cadenza.models.gpt import GPTConfig
        cfg = GPTConfig(**W1)
        model, opt = w1_model(cadenza, cfg)
        x, y = w1_data(cfg)
        fn, args = gpt_train_step(model, opt), (cadenza.from_numpy(x), cadenza.from_numpy(y))
    if not eager:
        fn = cadenza.compile(fn)
    return lambda: fn(*args)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--w3", action="store_true", help="W3 (MLP) instead of W1 (GPT)")
    ap.add_argument("--eager", action="store_true", help="the eager step, not the compiled")
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--no-torch", action="store_true")
    args = ap.parse_args()
    step = build(args.w3, args.eager)
    for _ in range(3):
        step()
    rec, calls = defaultdict(list), {}
    orig = blas.Gemm.__call__

    def timed(self, a, b, bias=None):
        key = (a.shape, a.strides, b.shape, b.strides, bias is not None)
        t0, c0 = time.perf_counter(), time.process_time()
        r = orig(self, a, b, bias)
        rec[key].append((time.perf_counter() - t0, time.process_time() - c0))
        calls[key] = (self, a, b, bias)
        return r

    steps = []
    blas.Gemm.__call__ = timed
    try:
        with BusyCheck() as busy:
            for _ in range(args.steps):
                t0, c0 = time.perf_counter(), time.process_time()
                step()
                steps.append((time.perf_counter() - t0, time.process_time() - c0))
    finally:
        blas.Gemm.__call__ = orig
    torch = None
    if not args.no_torch:
        import torch
    print(f"{'W3' if args.w3 else 'W1'} {'eager' if args.eager else 'compiled'}; CPU: "
          f"{cpu_model()}, {os.cpu_count()} cores {busy.note()}")
    print(f"step: wall {st.median(s[0] for s in steps) * 1e3:.1f} ms, "
          f"CPU {st.median(s[1] for s in steps) * 1e3:.1f} ms (medians of {len(steps)})")
    print(f"{'A (shape, strides)':34s} {'B (shape, strides)':34s} n   in_ms iso_ms  in_GF "
          f"iso_GF  in_cpu iso_cpu" + ("  torch_ms" if torch else ""))
    rows, tot_in, tot_iso = [], 0.0, 0.0
    for key, ts in rec.items():
        g, a, b, bias = calls[key]
        per = len(ts) / args.steps
        iso = []
        for _ in range(15):
            t0, c0 = time.perf_counter(), time.process_time()
            orig(g, a, b, bias)
            iso.append((time.perf_counter() - t0, time.process_time() - c0))
        w_in, c_in = st.median(t[0] for t in ts), st.median(t[1] for t in ts)
        w_iso, c_iso = st.median(t[0] for t in iso), st.median(t[1] for t in iso)
        flops = 2 * int(np.prod(g.out_shape)) * a.shape[-1]
        line = (f"{str(a.shape) + str(a.strides):34s} {str(b.shape) + str(b.strides):34s} "
                f"{per:<3g} {w_in * 1e3:6.2f} {w_iso * 1e3:6.2f} {flops / w_in / 1e9:6.1f} "
                f"{flops / w_iso / 1e9:6.1f} {c_in * 1e3:7.2f} {c_iso * 1e3:7.2f}")
        if torch is not None:
            ta, tb = torch.from_numpy(a), torch.from_numpy(b)
            tt = []
            for _ in range(15):
                t0 = time.perf_counter()
                torch.matmul(ta, tb)
                tt.append(time.perf_counter() - t0)
            line += f"  {st.median(tt) * 1e3:8.2f}"
        tot_in += w_in * per
        tot_iso += w_iso * per
        rows.append((w_in * per, line))
    for _, line in sorted(rows, reverse=True):
        print(line)
    print(f"products per step: {tot_in * 1e3:.1f} ms in the step, {tot_iso * 1e3:.1f} ms "
          f"isolated")
    print("pool:", cbuild.pool_stats())


if __name__ == "__main__":
    main()
