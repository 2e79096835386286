"""Kernel threads (issue 12): compiled W1/W3 (and W4 with --w4) steps and two microbenchmarks
with the kernel pool (backend/cbuild.py) on 1 thread vs N threads, in one process, interleaved
rounds, medians. Results do not depend on the thread count (tests/codegen/test_threads.py);
this measures only speed.

    python bench/threads.py                 # rounds of: W1, W3, micro, each at 1 and N threads
    python bench/threads.py --rounds 7 --threads 2 --w4
    python bench/threads.py --only gemm     # single float32 products: OpenBLAS threads vs pool

Configurations: kernels on 1 or N threads, with one float32 product on OpenBLAS's threads (as
before issue 12) or split over the pool (blas.SPLIT_PRODUCTS, CADENZA_GEMM_SPLIT=1); ratios
are against the first (kernels 1, OpenBLAS threads). Micro: "elementwise" is a compiled
GELU-like kernel on 4M float32 elements; "gemm+elem" a compiled (512x512 @ 512x1024) product
followed by bias + GELU (the kernel after a product, where OpenBLAS's worker still spins on the
other core).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(1, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import numpy as np  # noqa: E402

import cadenza  # noqa: E402
from cadenza.backend import cbuild  # noqa: E402
from cadenza.backend import blas  # noqa: E402
import w3_mlp_train  # noqa: E402
import w4_cnn_train  # noqa: E402
from _gpt_common import W1, W1_BATCH, gpt_train_step, w1_data, w1_model  # noqa: E402
from common import cpu_model, train_step  # noqa: E402


def w1_case():
    from cadenza.models.gpt import GPTConfig
    cfg = GPTConfig(**W1)
    model, opt = w1_model(cadenza, cfg)
    step = cadenza.compile(gpt_train_step(model, opt))
    xs, ys = w1_data(cfg)
    x, y = cadenza.from_numpy(xs), cadenza.from_numpy(ys)
    return (lambda: step(x, y).item()), W1_BATCH * cfg.block_size, "tokens/s", 3


def _classifier(model, opt, xs, ys, batch, steps):
    step = cadenza.compile(train_step(cadenza, model, opt))
    state = [0]

    def one():
        i = state[0] = state[0] + 1
        return step(xs[i % len(xs)], ys[i % len(ys)]).item()
    return one, batch, "samples/s", steps


def w3_case():
    model, opt, xs, ys = w3_mlp_train.build(cadenza)
    return _classifier(model, opt, xs, ys, w3_mlp_train.B, 20)


def w4_case():
    model, opt, xs, ys = w4_cnn_train.build(cadenza)
    return _classifier(model, opt, xs, ys, w4_cnn_train.B, 4)


def micro_cases():
    rng = np.random.default_rng(0)
    x = cadenza.from_numpy(rng.standard_normal(1 << 22, dtype=np.float32))
    f = cadenza.compile(lambda x: (x * 0.5 * (1 + (x * 0.7978845 * (1 + 0.044715 * x * x))
                                               .tanh())))
    a = cadenza.from_numpy(rng.standard_normal((512, 512), dtype=np.float32))
    b = cadenza.from_numpy(rng.standard_normal((512, 1024), dtype=np.float32))
    c = cadenza.from_numpy(rng.standard_normal(1024, dtype=np.float32))
    g = cadenza.compile(lambda a, b, c: cadenza.nn.functional.gelu(a @ b + c, approximate="tanh"))
    return {"micro elementwise 4M": ((lambda: f(x)), 1, "calls/s", 20),
            "micro gemm+elem": ((lambda: g(a, b, c)), 1, "calls/s", 20)}


def gemm_micro(rounds):
    """GFLOP/s of single float32 products of W1/W3 shapes: OpenBLAS's threads, one thread, and
    row blocks over the pool (2 and 4 blocks), interleaved."""
    lib = blas.library()
    rng = np.random.default_rng(0)
    modes = {"OpenBLAS threads": (-1, 1), "1 thread": (1, 1), "pool 2 blocks": (2, 2),
             "pool 4 blocks": (2, 4)}
    for m, k, n in [(2048, 256, 768), (2048, 1024, 256), (256, 2048, 768), (128, 784, 512),
                    (128, 512, 512)]:
        a = rng.standard_normal((m, k), dtype=np.float32)
        b = rng.standard_normal((k, n), dtype=np.float32)
        g = blas.Gemm(lib, np.float32, (m, n), exact=False)
        nb, m, n, k, (ta, lda), (tb, ldb), oa, ob, _ = g._layout(a, b)
        out = np.empty((m, n), np.float32)
        res = {md: [] for md in modes}
        reps = max(3, int(1e9 / (2 * m * n * k)))
        for r in range(rounds):
            for md, (th, parts) in (list(modes.items()) if r % 2 else list(modes.items())[::-1]):
                def one():
                    g.fn(nb, m, n, k, a.ctypes.data, oa.ctypes.data, ta, lda, b.ctypes.data,
                         ob.ctypes.data, tb, ldb, out.ctypes.data, None, parts, th)
                one()
                res[md].append(timed(one, 2 * m * n * k / 1e9, reps))
        print(f"gemm ({m}x{k})({k}x{n}) GFLOP/s, median of {rounds}: " +
              " | ".join(f"{md} {statistics.median(v):.1f}" for md, v in res.items()))


def timed(fn, per, steps) -> float:
    t = time.perf_counter()
    for _ in range(steps):
        fn()
    return per * steps / (time.perf_counter() - t)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--w4", action="store_true")
    p.add_argument("--only", default="w1,w3,micro")
    args = p.parse_args()
    print(f"CPU: {cpu_model()}; cores available {len(os.sched_getaffinity(0))}")
    only = args.only.split(",")
    if "gemm" in only:
        gemm_micro(args.rounds)
    cases = {}
    if "w1" in only:
        cases["W1 compiled"] = w1_case()
    if "w3" in only:
        cases["W3 compiled"] = w3_case()
    if args.w4 or "w4" in only:
        cases["W4 compiled"] = w4_case()
    if "micro" in only:
        cases.update(micro_cases())
    n = args.threads
    # (label, kernel threads, one float32 product split over the pool)
    configs = [("kernels 1, OpenBLAS threads", 1, False),
               (f"kernels {n}, OpenBLAS threads", n, False),
               ("kernels 1, GEMM on pool", 1, True), (f"kernels {n}, GEMM on pool", n, True)]
    for fn, _, _, _ in cases.values():      # compile and warm up
        for _ in range(3):
            fn()
    res = {(c, k): [] for c in cases for k, _, _ in configs}
    for r in range(args.rounds):
        for name, (fn, per, unit, steps) in cases.items():
            for label, k, split in (configs if r % 2 == 0 else configs[::-1]):
                cbuild.set_kernel_threads(k)
                blas.SPLIT_PRODUCTS = split
                fn()
                res[(name, label)].append(timed(fn, per, steps))
    cbuild.set_kernel_threads(None)
    for name, (_, _, unit, _) in cases.items():
        base = statistics.median(res[(name, configs[0][0])])
        cols = []
        for label, _, _ in configs:
            m = statistics.median(res[(name, label)])
            cols.append(f"{label} {m:,.1f}" + ("" if label == configs[0][0]
                                              else f" ({m / base:.2f}x)"))
        if not cols:
            continue
        print(f"{name} ({unit}, median of {args.rounds}): " + " | ".join(cols))
    print("pool:", cbuild.pool_stats())


if __name__ == "__main__":
    main()
