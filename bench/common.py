"""Shared helpers for the side-by-side benchmarks of ../shared/WORKLOADS.md: timing, a check
that no other process held a core while we timed (/proc/stat), and the machine's matmul peak."""
from __future__ import annotations

import os
import platform
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def cpu_model() -> str:
    """The CPU's model name, printed with every figure (machines change between sessions)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _cpu_times():
    try:
        with open("/proc/stat") as f:
            parts = f.readline().split()[1:]
        vals = [int(v) for v in parts]
        idle = vals[3] + (vals[4] if len(vals) > 4 else 0)
        return sum(vals), idle
    except OSError:
        return None


class BusyCheck:
    """Measures the machine's total CPU use over a block; our own process's use is subtracted,
    so what remains is other processes holding cores. ``children=True`` also counts the
    subprocesses we waited for as our own."""

    def __init__(self, children: bool = False):
        self.children = children

    def __enter__(self):
        self.t0 = _cpu_times()
        self.p0 = os.times()
        self.w0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        t1, p1, w1 = _cpu_times(), os.times(), time.perf_counter()
        self.other_cores = None
        if self.t0 and t1:
            hz = os.sysconf("SC_CLK_TCK")
            busy = ((t1[0] - self.t0[0]) - (t1[1] - self.t0[1])) / hz
            own = (p1.user - self.p0.user) + (p1.system - self.p0.system)
            if getattr(self, "children", False):
                own += (p1.children_user - self.p0.children_user
                        + p1.children_system - self.p0.children_system)
            self.other_cores = max(0.0, (busy - own) / max(w1 - self.w0, 1e-9))
        return False

    def note(self) -> str:
        return busy_note(self.other_cores)


def busy_note(other_cores) -> str:
    """The note printed next to a figure: quiet, or how many cores other processes used."""
    if other_cores is None:
        return "(busy check unavailable)"
    if other_cores > 0.25:
        return f"(machine BUSY: other processes used {other_cores:.2f} cores meanwhile)"
    return "(machine quiet)"


def matmul_gflops(n: int = 1024, reps: int = 5) -> float:
    a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
    b = a.copy()
    a @ b
    t = time.perf_counter()
    for _ in range(reps):
        a @ b
    dt = (time.perf_counter() - t) / reps
    return 2 * n ** 3 / dt / 1e9


def report(name, ours, theirs, unit, higher_is_better=True, extra=""):
    ratio = ours / theirs if higher_is_better else theirs / ours
    print(f"{name}: cadenza {ours:,.2f} {unit} | pytorch {theirs:,.2f} {unit} | "
          f"ratio {ratio:.2f}x of pytorch {extra}".rstrip())
    return ratio


def train_step(lib, model, opt):
    """A classification training step ``step(x, y) -> loss``: zero_grad, forward,
    cross-entropy, backward, optimizer step."""
    F = lib.nn.functional

    def step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss
    return step


def train_throughput(lib, model, opt, xs, ys, warm, steps, batch, compile=None, record=None,
                     make_step=train_step):
    """Samples/s of a classification training step (forward, cross-entropy, backward, step,
    zero_grad), timed over ``steps`` after ``warm`` warm-up steps; inputs cycle through xs/ys.

    ``compile``: None (eager), ``("step", fn)``: the whole step function is replaced by
    ``fn(step)`` (cadenza.compile), or ``("model", fn)``: the model by ``fn(model)``
    (torch.compile). ``record``: a dict that receives ``losses`` (every step's loss as a float,
    converted after timing), ``first_call`` (seconds) and ``other_cores`` (BusyCheck over the
    timed steps). ``make_step(lib, model, opt) -> step(x, y)`` builds the step."""
    if compile is not None and compile[0] == "model":
        model = compile[1](model)
    fn = make_step(lib, model, opt)
    if compile is not None and compile[0] == "step":
        fn = compile[1](fn)
    out = []

    def step(i):
        loss = fn(xs[i % len(xs)], ys[i % len(ys)])
        out.append(loss.detach())
        return loss

    first = time.perf_counter()
    for i in range(warm):
        step(i)
        if i == 0:
            first = time.perf_counter() - first
    with BusyCheck() as busy:
        t = time.perf_counter()
        for i in range(warm, warm + steps):
            step(i)
        float(step(warm + steps).item())
        dt = time.perf_counter() - t
    if record is not None:
        record["losses"] = [float(v.item()) for v in out]
        record["first_call"] = first if warm else None
        record["other_cores"] = busy.other_cores
    return batch * (steps + 1) / dt


def compare_training(name, run, flops_per_sample):
    """Run ``run(lib)`` (samples/s) for Cadenza then PyTorch in one process and print the ratio
    and each one's fraction of the machine's matmul peak."""
    import cadenza
    import torch
    peak = matmul_gflops()
    with BusyCheck() as busy:
        ours = run(cadenza)
        theirs = run(torch)
    report(name, ours, theirs, "samples/s", extra=busy.note())
    print(f"  fraction of machine matmul peak ({peak:.0f} GFLOP/s): cadenza "
          f"{ours * flops_per_sample / 1e9 / peak:.2f}, pytorch "
          f"{theirs * flops_per_sample / 1e9 / peak:.2f}")
