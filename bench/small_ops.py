"""Per-call CPU overhead of common small ops, Cadenza vs PyTorch in the same process.

    python bench/small_ops.py              # every op, forward and forward+backward
    python bench/small_ops.py --only topk  # ops whose name contains "topk"

Small models (tutorials, character RNNs, RL policies) spend their time in the per-call cost of
a few ops on tiny tensors. Each case runs ``--calls`` times per round (after a warm-up), the
libraries taking turns, and the table gives the least over ``--rounds`` of the CPU time per call
(``time.process_time``, single-threaded, so other processes on a shared machine count less), in
microseconds, and the ratio Cadenza / torch (lower is better; 1.0 = as fast as torch).
"""
from __future__ import annotations

import argparse
import os
import time

for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "CADENZA_NUM_THREADS",
           "CADENZA_KERNEL_THREADS", "CADENZA_GEMM_THREADS"):
    os.environ.setdefault(_v, "1")

from common import cpu_model  # noqa: E402  (after the thread variables: it imports NumPy)


def cases(lib):
    """(name, make) pairs: ``make(grad)`` builds the inputs and returns the call to time."""
    F = lib.nn.functional

    def leaf(*shape, grad):
        lib.manual_seed(0)
        return lib.randn(*shape, requires_grad=grad)

    def target(n, c):
        return lib.arange(n) % c

    def loss_case(fn, **kw):
        def make(grad):
            x, t = leaf(8, 10, grad=grad), target(8, 10)
            return lambda: fn(x, t, **kw)
        return make

    def unary(fn, *shape):
        def make(grad):
            x = leaf(*shape, grad=grad)
            return lambda: fn(x)
        return make

    def make_cat(grad):
        a, b = leaf(1, 16, grad=grad), leaf(1, 8, grad=grad)
        return lambda: lib.cat([a, b], 1)

    return [
        ("nll_loss", lambda g: loss_case(F.nll_loss)(g)),
        ("nll_loss(log_softmax)", lambda g: loss_case(
            lambda x, t: F.nll_loss(F.log_softmax(x, 1), t))(g)),
        ("cross_entropy", loss_case(F.cross_entropy)),
        ("cross_entropy sum", loss_case(F.cross_entropy, reduction="sum")),
        ("topk k=1 (1,57)", unary(lambda x: x.topk(1)[0], 1, 57)),
        ("topk k=5 (4,100)", unary(lambda x: x.topk(5)[0], 4, 100)),
        ("log_softmax (1,57)", unary(lambda x: F.log_softmax(x, dim=1), 1, 57)),
        ("softmax (1,57)", unary(lambda x: F.softmax(x, dim=-1), 1, 57)),
        ("cat 2x(1,n)", make_cat),
        ("linear (1,16)x(16,16)", None),
        ("tanh (1,64)", unary(lambda x: x.tanh(), 1, 64)),
        ("add (1,64)", unary(lambda x: x + x, 1, 64)),
        ("sum (8,10)", unary(lambda x: x.sum(), 8, 10)),
    ]


def _linear(lib):
    def make(grad):
        lib.manual_seed(0)
        x = lib.randn(1, 16, requires_grad=grad)
        w = lib.randn(16, 16, requires_grad=grad)
        b = lib.randn(16, requires_grad=grad)
        return lambda: lib.nn.functional.linear(x, w, b)
    return make


def _timed(make, grad):
    call = make(grad)
    if not grad:
        return call
    inner = call

    def step():
        out = inner()
        (out if out.ndim == 0 else out.sum()).backward()
    return step


def per_call(makes, grad, calls, rounds):
    """Least CPU time per call (us) of each of ``makes``' calls, the libraries' rounds taking
    turns (a change in the machine's load then touches both alike)."""
    steps = [_timed(make, grad) for make in makes]
    for step in steps:
        for _ in range(max(calls // 10, 5)):
            step()
    best = [float("inf")] * len(steps)
    for _ in range(rounds):
        for j, step in enumerate(steps):
            t = time.process_time()
            for _ in range(calls):
                step()
            best[j] = min(best[j], (time.process_time() - t) / calls * 1e6)
    return best


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--calls", type=int, default=2000)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--only", default="")
    args = p.parse_args()
    import torch

    import cadenza
    torch.set_num_threads(1)
    print(f"CPU: {cpu_model()}  torch {torch.__version__}  cadenza {cadenza.__file__}")
    print(f"{'op':26s} {'mode':8s} {'cadenza us':>11s} {'torch us':>9s} {'ratio':>6s}")
    ours, theirs = cases(cadenza), cases(torch)
    for (name, mk), (_, tmk) in zip(ours, theirs):
        if args.only and args.only not in name:
            continue
        if mk is None:   # the linear case
            mk, tmk = _linear(cadenza), _linear(torch)
        for grad in (False, True):
            c, t = per_call((mk, tmk), grad, args.calls, args.rounds)
            mode = "fwd+bwd" if grad else "fwd"
            print(f"{name:26s} {mode:8s} {c:11.1f} {t:9.1f} {c / t:6.1f}x", flush=True)


if __name__ == "__main__":
    main()
