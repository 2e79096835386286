"""Compiled training steps against PyTorch in CPU time, single-threaded, interleaved: the fair
proxy on a shared machine (wall clock there is mostly other processes' noise).

    python bench/cpu_ratio.py                        # W1 and W3, 5 rounds
    python bench/cpu_ratio.py --only w3 --rounds 9 --torch-compile
    python bench/cpu_ratio.py --only w4 --steps 3    # W4 CNN training
    python bench/cpu_ratio.py --only r18             # bench/vision.py's ResNet-18 train step
    python bench/cpu_ratio.py --threads 2            # wall clock, 2 threads (a quiet machine)

Variants (built from the same seeds): Cadenza compiled (``cadenza.compile`` of the whole step),
Cadenza eager, PyTorch eager, optionally ``torch.compile(model)``. Each round runs ``--steps``
steps of every variant in turn and takes each one's CPU time per step (``time.process_time``;
with ``--threads N > 1`` the wall time, as CPU time then counts every thread); the table gives
the median over rounds and the ratios of throughput against PyTorch eager. Threads: BLAS,
OpenMP, Cadenza's pool and torch all get ``--threads`` (default 1), set before NumPy loads.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time


def _threads(argv) -> str:
    for i, a in enumerate(argv):
        if a == "--threads" and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith("--threads="):
            return a.split("=", 1)[1]
    return "1"


if __name__ == "__main__":
    _n = _threads(sys.argv[1:])
    for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
               "CADENZA_KERNEL_THREADS", "CADENZA_GEMM_THREADS"):
        os.environ[_v] = _n

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(1, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def builders(which: str):
    """{variant label: (lib, make() -> (step, args list))} of one workload."""
    import cadenza
    import torch
    if which == "w1":
        from _gpt_common import W1, gpt_train_step, w1_data, w1_model
        from cadenza.models.gpt import GPTConfig
        cfg = GPTConfig(**W1)
        x, y = w1_data(cfg)

        def make(lib, comp):
            model, opt = w1_model(lib, cfg)
            if comp == "model":
                model = torch.compile(model)
            step = gpt_train_step(model, opt)
            return step, [(lib.from_numpy(x), lib.from_numpy(y))]
    elif which == "r18":
        import numpy as np
        from common import train_step
        from vision import copy_weights, torchvision_or_reason
        from cadenza.vision import models
        tv, reason = torchvision_or_reason()
        if tv is None:
            raise SystemExit(f"r18 needs torchvision as the oracle: {reason}")
        cadenza.manual_seed(0)
        base = models.resnet18(num_classes=10)
        rng = np.random.default_rng(0)
        data = [(rng.standard_normal((64, 3, 32, 32), dtype=np.float32),
                 rng.integers(0, 10, 64)) for _ in range(2)]

        def make(lib, comp):
            if lib is cadenza:
                model = models.resnet18(num_classes=10)
                model.load_state_dict(base.state_dict())
            else:
                model = tv.models.resnet18(num_classes=10)
                copy_weights(base, model, torch)
                if comp == "model":
                    model = torch.compile(model)
            opt = lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
            return train_step(lib, model, opt), [(lib.from_numpy(x), lib.from_numpy(y))
                                                 for x, y in data]
    else:
        import w3_mlp_train
        import w4_cnn_train
        from common import train_step
        mod = w4_cnn_train if which == "w4" else w3_mlp_train

        def make(lib, comp):
            model, opt, xs, ys = mod.build(lib)
            if comp == "model":
                model = torch.compile(model)
            return train_step(lib, model, opt), list(zip(xs, ys))

    def variant(lib, comp=None):
        def build():
            step, args = make(lib, comp)
            return (cadenza.compile(step) if comp == "step" else step), args
        return build
    return {"cadenza compiled": variant(cadenza, "step"), "cadenza eager": variant(cadenza),
            "pytorch eager": variant(torch), "torch.compile": variant(torch, "model")}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="w1,w3")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=0,
                    help="steps per round (0: W1 2, W3 10, W4 3, R18 1)")
    ap.add_argument("--threads", default="1")
    ap.add_argument("--torch-compile", action="store_true")
    ap.add_argument("--no-eager", action="store_true", help="skip Cadenza eager")
    args = ap.parse_args()
    import torch
    from common import BusyCheck, cpu_model
    n = int(args.threads)
    torch.set_num_threads(n)
    clock = time.process_time if n == 1 else time.perf_counter
    print(f"CPU: {cpu_model()}, {os.cpu_count()} cores; {n} thread(s); "
          f"{'CPU' if n == 1 else 'wall'} time per step, median of {args.rounds} rounds")
    for which in args.only.split(","):
        labels = ["cadenza compiled", "pytorch eager"]
        if not args.no_eager:
            labels.insert(1, "cadenza eager")
        if args.torch_compile:
            labels.append("torch.compile")
        steps = args.steps or {"w1": 2, "w4": 3, "r18": 1}.get(which, 10)
        b = builders(which)
        runs = {}
        for lab in labels:
            fn, data = b[lab]()
            for i in range(3):          # warm-up: compiles, optimizer state
                fn(*data[i % len(data)])
            runs[lab] = (fn, data)
        times = {lab: [] for lab in labels}
        with BusyCheck() as busy:
            for _ in range(args.rounds):
                for lab in labels:
                    fn, data = runs[lab]
                    t = clock()
                    for i in range(steps):
                        loss = fn(*data[i % len(data)])
                    float(loss.item())
                    times[lab].append((clock() - t) / steps)
        med = {lab: statistics.median(v) for lab, v in times.items()}
        ref = med["pytorch eager"]
        print(f"== {which}: " + "; ".join(
            f"{lab} {med[lab] * 1e3:.1f} ms ({ref / med[lab]:.2f}x pt)" for lab in labels)
            + f"; {busy.note()}")


if __name__ == "__main__":
    main()
