"""How much of a compiled training step runs on one thread (issue 12): per node of the compiled
W1 (GPT), W3 (MLP) or W4 (CNN) step, its single-thread CPU time and whether it can use a second
core.

    python bench/serial_share.py                 # W3 and W1, 3 calls each
    python bench/serial_share.py --only w1 --calls 2 --top 20
    python bench/serial_share.py --only w4

Wall clock on a shared machine is mostly other processes' noise, so this counts instead: each
node's CPU time on the calling thread with every library on one thread (kernel pool and
OpenBLAS), and which nodes hand work to the pool (``cbuild.pool_stats()["jobs"]``: calls with
more than one task, shared or not) or are BLAS products (OpenBLAS splits those over its own
threads). Everything else (NumPy calls, small kernels, the executor's Python) is serial: its
share of the single-thread step is the part two cores cannot shorten (Amdahl). With two
threads it also counts the share of the pool's tasks the second thread ran, and the CPU time
OpenBLAS's worker threads spent inside the products against the calling thread's (about equal
when every product runs on both cores; spin-waiting included, so a loaded machine inflates
both). Nodes are timed one by one (``CADENZA_PROGRAMS=0``, set here) in one process.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time

os.environ.setdefault("CADENZA_PROGRAMS", "0")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(1, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import numpy as np  # noqa: E402,F401  (loads OpenBLAS: its worker threads exist from here)

# OpenBLAS's workers: every thread but this one, before Cadenza's pool starts its own
_BLAS_TIDS = [int(t) for t in os.listdir("/proc/self/task")
              if int(t) != threading.get_native_id()]

import cadenza  # noqa: E402
from cadenza.backend import blas, cbuild  # noqa: E402
from cadenza.graph.ir import Fused  # noqa: E402
from common import cpu_model, train_step  # noqa: E402


def _blas_cpu() -> float:
    """Seconds OpenBLAS's worker threads have run."""
    total = 0
    for t in _BLAS_TIDS:
        try:
            with open(f"/proc/self/task/{t}/schedstat") as f:
                total += int(f.read().split()[0])
        except OSError:
            pass
    return total * 1e-9


def build(which):
    """(compiled step, list of argument tuples) of W1, W3 or W4."""
    if which == "w1":
        from _gpt_common import W1, gpt_train_step, w1_data, w1_model
        from cadenza.models.gpt import GPTConfig
        cfg = GPTConfig(**W1)
        model, opt = w1_model(cadenza, cfg)
        x, y = (cadenza.from_numpy(a) for a in w1_data(cfg))
        return cadenza.compile(gpt_train_step(model, opt)), [(x, y)]
    import w3_mlp_train
    import w4_cnn_train
    mod = w4_cnn_train if which == "w4" else w3_mlp_train
    model, opt, xs, ys = mod.build(cadenza)
    return cadenza.compile(train_step(cadenza, model, opt)), list(zip(xs, ys))


def _set_threads(n, ob):
    cbuild.set_kernel_threads(n)
    if ob is not None:
        ob.scipy_openblas_set_num_threads64_(n)


def _label(n) -> str:
    if isinstance(n.op, Fused):
        return getattr(n.op, "label", "fused") + ":" + ",".join(m.op_name
                                                               for m in n.op.members)[:48]
    return n.op_name


def measure(which, calls):
    fn, args = build(which)
    for i in range(3):                  # compile, optimizer state
        fn(*args[i % len(args)])
    runner = fn.cache[-1].run_graph
    got = blas._numpy_openblas()
    ob = got[0] if got is not None and hasattr(got[0], "scipy_openblas_set_num_threads64_") \
        else None
    nodes = getattr(runner, "step_nodes", None) or [n for n in runner.graph.nodes
                                                      if n.op != "input"]
    cpu1 = [[] for _ in nodes]
    pooled = [False] * len(nodes)
    share = [0, 0]                      # tasks of shared jobs run by the worker, all of them
    gemm_cpu = [0.0, 0.0]               # calling thread, OpenBLAS workers (2 threads)
    is_gemm = ["matmul" in _label(n) or "linear" in _label(n) for n in nodes]
    plain = runner.steps

    stats = cbuild.pool_stats if cbuild.runtime() is not None else None

    def wrap(j, step, nth):
        def run(env):
            s0 = stats() if nth == 2 and stats else None
            b0 = _blas_cpu() if nth == 2 and is_gemm[j] else 0.0
            c = time.thread_time()
            step(env)
            c = time.thread_time() - c
            if nth == 1:
                cpu1[j].append(c)
                return
            if s0 is not None:
                s1 = stats()
                pooled[j] |= s1["jobs"] > s0["jobs"]
                share[0] += s1["worker_tasks"] - s0["worker_tasks"]
                share[1] += s1["shared_tasks"] - s0["shared_tasks"]
            if is_gemm[j]:
                gemm_cpu[0] += c
                gemm_cpu[1] += _blas_cpu() - b0
        return run

    prev = cbuild.set_kernel_threads()
    try:
        for r in range(calls):
            for nth in (1, 2):
                _set_threads(nth, ob)
                runner.steps = [(wrap(j, st, nth), d) for j, (st, d) in enumerate(plain)]
                try:
                    fn(*args[r % len(args)])
                finally:
                    runner.steps = plain
        _set_threads(1, ob)
        whole = []
        for r in range(calls):
            c = time.thread_time()
            fn(*args[r % len(args)])
            whole.append(time.thread_time() - c)
    finally:
        cbuild.set_kernel_threads(prev)
        if ob is not None:
            ob.scipy_openblas_set_num_threads64_(max(1, os.cpu_count() or 1))
    return nodes, [statistics.median(c) for c in cpu1], pooled, is_gemm, share, gemm_cpu, \
        statistics.median(whole)


def report(which, calls, top):
    nodes, cpu, pooled, is_gemm, share, gemm_cpu, whole = measure(which, calls)
    total = sum(cpu)
    kinds = {"BLAS products": 0.0, "pool kernels": 0.0, "serial": 0.0}
    by_op: dict = {}
    for c, p, g, n in zip(cpu, pooled, is_gemm, nodes):
        k = "BLAS products" if g else "pool kernels" if p else "serial"
        kinds[k] += c
        if k == "serial":
            lab = _label(n)
            a = by_op.setdefault(lab if lab.startswith("fused") else n.op_name, [0.0, 0])
            a[0] += c
            a[1] += 1
    outside = max(0.0, whole - total)
    serial = kinds["serial"] + outside
    print(f"== {which}: {len(nodes)} nodes; single-thread CPU {total * 1e3:.1f} ms in nodes, "
          f"{whole * 1e3:.1f} ms the whole step (nodes timed one by one cost a little more)")
    for k, v in kinds.items():
        print(f"  {k:14s} {v * 1e3:9.2f} ms {100 * v / total:5.1f}%")
    print(f"  single-threaded share of the step: {100 * serial / max(whole, total):.1f}% "
          f"(serial nodes, and {outside * 1e3:.1f} ms outside the nodes)")
    if share[1]:
        print(f"  2 threads: the pool's second thread ran {100 * share[0] / share[1]:.0f}% of the "
              f"tasks of shared jobs (ideal 50%)")
    if gemm_cpu[0]:
        print(f"  2 threads: OpenBLAS's workers ran {gemm_cpu[1] * 1e3:.0f} ms CPU inside the "
              f"products against the calling thread's {gemm_cpu[0] * 1e3:.0f} ms")
    print("  serial work by op (1 thread):")
    for k, (v, n) in sorted(by_op.items(), key=lambda kv: -kv[1][0])[:top]:
        print(f"    {v * 1e3:8.2f} ms {100 * v / total:5.1f}%  x{n:<4d} {k}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="w3,w1")
    ap.add_argument("--calls", type=int, default=3)
    ap.add_argument("--top", type=int, default=12)
    args = ap.parse_args()
    print(f"CPU: {cpu_model()}, {os.cpu_count()} cores")
    for which in args.only.split(","):
        report(which, args.calls, args.top)


if __name__ == "__main__":
    main()
