"""Each float32 product's time inside W1's or W3's compiled step against the same call isolated
(issue 12: do the GEMMs lose their rate inside the step?), and against torch.matmul on the same
operand views (same shapes, strides and so the same transposes).

    python bench/gemm_in_step.py                  # W1, 5 timed steps
    python bench/gemm_in_step.py --w3 --steps 20
    python bench/gemm_in_step.py --eager          # the eager step's products (blas.product)
    python bench/gemm_in_step.py --w3 --threads 1 # single-threaded CPU time (a shared machine)

Every ``backend.blas.Gemm`` call of the timed steps is timed (wall and process CPU time);
afterwards each distinct call (shapes, strides, bias) runs again alone and torch.matmul
(``--no-torch`` skips it; torch.addmm where the call adds a bias) on the same arrays, the two
interleaved over ``--rounds`` rounds (the best round of each: the least disturbed), and once
more alone after evicting the caches (a 64 MiB buffer written before each call: operands that
come from memory, as in the step). One line per call: calls per step, ms in the step,
isolated and cold, GFLOP/s in the step and isolated, torch's ms and our isolated time over
torch's (< 1: faster than torch). Then the step's totals and the pool's counters
(``cbuild.pool_stats``). Times are process CPU time with ``--threads 1`` (the figure to compare
on a machine other processes load), wall time otherwise.

``--threads N`` sets OpenBLAS's, OpenMP's, Cadenza's pool's and torch's thread counts before
NumPy loads (default: the environment's). Measured on a 2-core AMD EPYC with the script at
real-time priority (``chrt -f 10``: no other process takes a core while it runs), W1's products
run at 150-170 GFLOP/s in the step and isolated alike (2 threads). Single-threaded
(2026-12-04, ``chrt -f 10``, one core), every product of W1 and W3 ran within noise (+-5%) of
torch.mm (MKL) on the same views, 76-89 GFLOP/s (W1 total 0.98x of torch's time, W3 1.00x;
W3's three tiny products of 10 columns 0.6-1.2x); W3's products took 10-18% longer inside the
step than isolated, the same as isolated with cold caches.
"""
from __future__ import annotations

import argparse
import os
import statistics as st
import sys
import time
from collections import defaultdict
from cpu_ratio import _threads  # noqa: E402  (no NumPy: threads are set before it loads)

if __name__ == "__main__" and any(a.startswith("--threads") for a in sys.argv[1:]):
    for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
               "CADENZA_KERNEL_THREADS", "CADENZA_GEMM_THREADS"):
        os.environ[_v] = _threads(sys.argv[1:])
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


def _best(fns: dict, reps: int, rounds: int, clock) -> dict:
    """{name: seconds per call}: ``fns``' calls interleaved, ``reps`` per round, the best
    round of each."""
    got: dict = {k: [] for k in fns}
    for f in fns.values():
        f()
    for _ in range(rounds):
        for k, f in fns.items():
            t = clock()
            for _ in range(reps):
                f()
            got[k].append((clock() - t) / reps)
    return {k: min(v) for k, v in got.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--w3", action="store_true", help="W3 (MLP) instead of W1 (GPT)")
    ap.add_argument("--eager", action="store_true", help="the eager step, not the compiled")
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=7, help="interleaved rounds per product")
    ap.add_argument("--threads", help="thread count of every library (set before NumPy loads)")
    ap.add_argument("--no-torch", action="store_true")
    args = ap.parse_args()
    single = args.threads == "1"
    clock = time.process_time if single else time.perf_counter
    torch = None
    if not args.no_torch:
        import torch
        if args.threads:
            torch.set_num_threads(int(args.threads))
    step = build(args.w3, args.eager)
    for _ in range(3):
        step()
    rec, calls = defaultdict(list), {}
    orig = blas.Gemm.__call__

    def timed(self, a, b, bias=None):
        key = (a.shape, a.strides, b.shape, b.strides, bias is not None)
        t0 = clock()
        r = orig(self, a, b, bias)
        rec[key].append(clock() - t0)
        calls[key] = (self, a, b, bias)
        return r

    steps = []
    blas.Gemm.__call__ = timed
    try:
        with BusyCheck() as busy:
            for _ in range(args.steps):
                t0 = clock()
                step()
                steps.append(clock() - t0)
    finally:
        blas.Gemm.__call__ = orig
    print(f"{'W3' if args.w3 else 'W1'} {'eager' if args.eager else 'compiled'}; CPU: "
          f"{cpu_model()}, {os.cpu_count()} cores, threads {args.threads or 'default'}, "
          f"{'process CPU' if single else 'wall'} time {busy.note()}")
    print(f"step: {st.median(steps) * 1e3:.1f} ms (median of {len(steps)})")
    print(f"{'A (shape, strides)':30s} {'B (shape, strides)':30s} bias n  in_ms iso_ms "
          f"cold_ms  in_GF iso_GF" + ("  torch_ms /torch" if torch else ""))
    evict = np.ones(16 << 20, np.float32)        # 64 MiB: more than the last-level cache
    rows, tot = [], defaultdict(float)
    for key, ts in rec.items():
        g, a, b, bias = calls[key]
        per = len(ts) / args.steps
        flops = 2 * int(np.prod(g.out_shape)) * a.shape[-1]
        reps = max(2, int(2e8 / flops))
        fns = {"iso": lambda: orig(g, a, b, bias)}
        if torch is not None:
            ta, tb = torch.from_numpy(a), torch.from_numpy(b)
            if bias is None:
                fns["torch"] = lambda: torch.matmul(ta, tb)
            else:
                tc = torch.from_numpy(bias)
                fns["torch"] = (lambda: torch.addmm(tc, ta, tb)) if ta.dim() == 2 else \
                    (lambda: torch.matmul(ta, tb) + tc)
        best = _best(fns, reps, args.rounds, clock)
        cold = []
        for _ in range(args.rounds):
            evict += 1.0
            t0 = clock()
            orig(g, a, b, bias)
            cold.append(clock() - t0)
        t_in, t_iso, t_cold = st.median(ts), best["iso"], min(cold)
        line = (f"{str(a.shape) + str(a.strides):30s} {str(b.shape) + str(b.strides):30s} "
                f"{int(bias is not None):<4d} {per:<2g} {t_in * 1e3:6.2f} {t_iso * 1e3:6.2f} "
                f"{t_cold * 1e3:7.2f} {flops / t_in / 1e9:6.1f} {flops / t_iso / 1e9:6.1f}")
        if torch is not None:
            line += f" {best['torch'] * 1e3:9.2f} {t_iso / best['torch']:6.2f}"
            tot["torch"] += best["torch"] * per
        tot["in"] += t_in * per
        tot["iso"] += t_iso * per
        tot["cold"] += t_cold * per
        rows.append((t_in * per, line))
    for _, line in sorted(rows, reverse=True):
        print(line)
    print(f"products per step: {tot['in'] * 1e3:.1f} ms in the step, {tot['iso'] * 1e3:.1f} ms "
          f"isolated, {tot['cold'] * 1e3:.1f} ms isolated with cold caches" +
          (f"; torch {tot['torch'] * 1e3:.1f} ms (ours isolated / torch "
           f"{tot['iso'] / tot['torch']:.2f})" if torch is not None else ""))
    print("pool:", cbuild.pool_stats())


if __name__ == "__main__":
    main()
